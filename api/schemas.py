"""Request and response bodies. Non-finite numbers travel as "NaN", "Infinity", "-Infinity"."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator, model_validator

from losswatch.monitor.policy import Policy
from losswatch.monitor.storable import find_bad_text
from losswatch.monitor.vocabulary import MAX_KEY_LENGTH, MAX_STEP, MirrorTarget, NonFiniteSpelling, RunStatus, spell

NonFinite = NonFiniteSpelling


JsonNumber = float | NonFinite


def out(v: float | None) -> float | str | None:
    return v if v is None else spell(v)


class Storable(BaseModel):
    """Every string in the body (names, reasons, the config's keys and values) is text both databases store."""

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        why = find_bad_text(data, "body")
        if why:
            raise ValueError(why)
        return data


class Strict(Storable):
    model_config = ConfigDict(extra="forbid", strict=True)


class RunCreate(Strict):
    id: str | None = Field(default=None, min_length=1, max_length=64)
    project: str = Field(default="default", min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = Field(default_factory=dict)
    early_stopping: Policy | None = None
    mirrors: list[MirrorTarget] = Field(default_factory=list, max_length=2)

    @field_validator("mirrors")
    @classmethod
    def _once_each(cls, mirrors: list[MirrorTarget]) -> list[MirrorTarget]:
        # A target named twice is still one target: stored once, so the run reads as it is mirrored.
        return list(dict.fromkeys(mirrors))


class BestCheckpoint(Strict):
    step: StrictInt = Field(ge=0, le=MAX_STEP)
    path: str = Field(min_length=1, max_length=4096)


class RunPatch(Strict):
    """What the trainer side reports about a run: how it ended, where its best weights are."""

    status: RunStatus | None = None
    best_checkpoint: BestCheckpoint | None = None

    @model_validator(mode="after")
    def _something(self) -> RunPatch:
        if self.status is None and self.best_checkpoint is None:
            raise ValueError("give status, best_checkpoint or both")
        return self


# Validated by pydantic-core alone (no Python validator per point): ingest is the hot path.
WireNumber = StrictFloat | StrictInt | NonFinite


class PointIn(Strict):
    key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH, pattern=r"\S")
    step: StrictInt = Field(ge=0, le=MAX_STEP)
    value: WireNumber
    time: StrictFloat | StrictInt | None = None


class SeriesIn(Strict):
    """One key's points as parallel lists (the columnar form): `values[i]` (and `times[i]`) at `steps[i]`."""

    key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH, pattern=r"\S")
    steps: list[Annotated[StrictInt, Field(ge=0, le=MAX_STEP)]]
    values: list[WireNumber]
    # A null (whole or per point) means "when the service received it", as a point's missing `time` does.
    times: list[StrictFloat | StrictInt | None] | None = None


class MetricsIn(Strict):
    """`points` (one object per point), `series` (columnar, one object per key), or both in one batch; where
    both give the same (key, step), the series wins."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["points"]}, {"required": ["series"]}]})

    points: list[PointIn] = Field(default_factory=list)
    series: list[SeriesIn] = Field(default_factory=list)
    batch_id: str | None = Field(default=None, min_length=1, max_length=128)


class RewindIn(Strict):
    step: StrictInt = Field(ge=0, le=MAX_STEP)
    # A spool replays its rewinds; with an id, a replayed rewind is a no-op and cannot delete points
    # that were sent after it.
    rewind_id: str | None = Field(default=None, min_length=1, max_length=128)


class StopIn(Strict):
    reason: str | None = Field(default=None, max_length=500)


class ReplayIn(Strict):
    early_stopping: Policy = Field(default_factory=Policy)


class DecisionOut(BaseModel):
    should_stop: bool
    reason: Literal[
        "none", "patience_exhausted", "plateau", "stopping_threshold", "divergence_threshold", "non_finite", "manual"
    ]
    message: str
    step: int | None
    best_step: int | None
    best_value: float | None
    monitor: str
    checks: int = 0
    # Set when the reading that decided is not the monitor's: "loss" for a stop by the training-loss guard.
    key: str | None = None
    # The numbers the message states, by name (the default rule's: its clause, the rise and noise, the
    # forecast's gain...), as other languages read them; null where a rule gives only its message.
    facts: dict[str, Any] | None = None
    # Only when asked for with ?lang=: the decision as a sentence a person reads, in that language.
    text: str | None = None


class DecisionEvent(DecisionOut):
    created_at: float


class KeySummary(BaseModel):
    key: str
    count: int
    first_step: int | None
    last_step: int | None
    last: JsonNumber | None
    min: float | None
    min_step: int | None
    max: float | None
    max_step: int | None
    nonfinite: int = 0


class RunOut(BaseModel):
    id: str
    project: str
    name: str
    status: str = Field(
        description="running | stale (running, but silent for stale_after seconds) | finished | failed | stopped"
    )
    config: dict[str, Any]
    early_stopping: dict[str, Any] | None
    mirrors: list[Any]
    stop_requested: str | None
    created_at: float
    ended_at: float | None
    best_checkpoint: dict[str, Any] | None = None
    last_seen_at: float | None = None


class AdviceItem(BaseModel):
    code: str
    kind: str
    message: str


class RunCreated(RunOut):
    """The run, with what a client needs at its start, so it asks nothing more before training."""

    advice: list[AdviceItem] | None = Field(
        default=None,
        description="for a run just created (201), what its configuration alone says (English), as "
        "`GET /runs/{id}/diagnostics?key=loss` says it before any point; null for a resumed run (200), whose "
        "points that diagnosis reads",
    )
    stale_after: float = Field(description="seconds of silence after which a running run reads `stale`")
    kept: str | None = Field(
        default=None,
        description="on a resume that sent another early_stopping or config the run did not take (judging it "
        "again would cost more than max_check_ms): why",
    )


class HeartbeatOut(BaseModel):
    status: str
    stale_after: float
    last_seen_at: float | None


class RunDetail(RunOut):
    keys: list[KeySummary]
    decision: DecisionOut
    mirror_state: list[dict[str, Any]] = Field(default_factory=list)


class RunList(BaseModel):
    runs: list[RunOut]
    total: int = Field(description="runs matching the filters, over all pages")
    limit: int
    offset: int


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    overwritten: int
    decision: DecisionOut


class KeysOut(BaseModel):
    keys: list[KeySummary]


class PointOut(BaseModel):
    step: int
    value: JsonNumber
    smoothed: JsonNumber
    time: float


class SeriesOut(BaseModel):
    key: str
    total: int
    downsampled: bool
    smoothing: float
    smoothing_mode: str
    points: list[PointOut]


class RewindOut(BaseModel):
    deleted: int
    step: int
    replayed: bool = False
    decision: DecisionOut


class DecisionsOut(BaseModel):
    decisions: list[DecisionEvent]


class ReplayOut(BaseModel):
    checks: list[DecisionOut]
    stop: DecisionOut | None


class ErrorOut(BaseModel):
    """Every 4xx: a sentence (domain errors) or FastAPI's list of field errors (validation)."""

    detail: str | list[Any] | dict[str, Any]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in [
        (400, "Malformed request"),
        (401, "Authentication required"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "A limit was exceeded"),
        (415, "A write takes a JSON body"),
        (422, "Invalid data"),
        (503, "The database is busy: retry after the Retry-After seconds"),
    ]
}


# Path parameters, bounded so that nonsense is a 422 before it reaches the store.
RunId = Annotated[str, PathParam(min_length=1, max_length=64, description="the run's id")]
ProjectName = Annotated[str, PathParam(min_length=1, max_length=200, description="the project's name")]
TokenId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
