"""SQLAlchemy models. Alembic owns the schema; these describe it for queries and for the drift test."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Non-finite values cannot live in the value column (SQLite turns NaN into NULL), so a flag carries them.
FLAG_FINITE, FLAG_NAN, FLAG_POSINF, FLAG_NEGINF = 0, 1, 2, 3


class Base(DeclarativeBase):
    # Every model is a plain table: typed so, `Model.__table__.insert()` type-checks.
    __table__: ClassVar[Table]  # type: ignore[assignment]
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="running")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    early_stopping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    mirrors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    stop_requested: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # {"step", "path"}: where the trainer side kept the best evaluation's weights.
    best_checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Last point or heartbeat: a running run silent for `stale_after` reads "stale".
    last_seen_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class MetricKey(Base):
    __tablename__ = "metric_keys"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_metric_keys_run_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))


class MetricPoint(Base):
    __tablename__ = "metric_points"
    # Clustered on (key, step): every read is one key's step range, so SQLite stores it WITHOUT ROWID.
    __table_args__ = {"sqlite_with_rowid": False}
    key_id: Mapped[int] = mapped_column(ForeignKey("metric_keys.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    flag: Mapped[int] = mapped_column(SmallInteger, default=FLAG_FINITE)
    wall_time: Mapped[float] = mapped_column(Float)


class MetricSummary(Base):
    __tablename__ = "metric_summaries"
    key_id: Mapped[int] = mapped_column(ForeignKey("metric_keys.id", ondelete="CASCADE"), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_flag: Mapped[int] = mapped_column(SmallInteger, default=FLAG_FINITE)
    min_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    max_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    nonfinite: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bumped by every change that is not a pure append (overwrite, rewind, out-of-order insert), so a
    # reader holding the series in memory knows whether fetching the points past its last step suffices.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class IngestBatch(Base):
    """Batch ids already applied, so a retried batch is a no-op."""

    __tablename__ = "ingest_batches"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)
    # A hash of the batch's keys, steps and values (store/columns.digest): the same id over other points is
    # refused. None for batches claimed before revision 0007.
    digest: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)


class StopState(Base):
    """The policy's incremental state, so a decision costs O(new points)."""

    __tablename__ = "stop_states"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float)


class StopSnapshot(Base):
    """The policy's state as it stood after every stored point up to `step`, kept by a replay of history so
    that the next rewrite of history replays from there (monitor/store/snapshots.py)."""

    __tablename__ = "stop_snapshots"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # What the state was computed under (snapshots.basis): the effective policy, the run's plan, the release.
    basis: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class DecisionRow(Base):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_run_id_id", "run_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    should_stop: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float)


class ApiToken(Base):
    """Tokens are shown once and stored as a SHA-256 of their (high-entropy) secret."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class MirrorCursor(Base):
    """How far a run's mirror (TensorBoard, W&B) got, and who holds it: a lease, not a lock."""

    __tablename__ = "mirror_cursors"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    updated_at: Mapped[float] = mapped_column(Float)


class NotificationTarget(Base):
    """Where a project's events go. The URL carries the receiver's secret: the API never shows it whole."""

    __tablename__ = "notification_targets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(JSON)
    lang: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[float] = mapped_column(Float)


class OutboxMessage(Base):
    """One event for one target, written in the transaction that caused it; the worker delivers it."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("notification_targets.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    event: Mapped[str] = mapped_column(String(16))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class NotificationMark(Base):
    """The last state a run was reported in, per event: what makes events edge-triggered and cooled down."""

    __tablename__ = "notification_marks"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[float] = mapped_column(Float)
