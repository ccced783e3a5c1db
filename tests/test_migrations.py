"""Alembic owns the schema: an empty database upgraded to head must match the models exactly."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from losswatch.monitor.db import current_revision, head_revision, make_engine, prepare
from losswatch.monitor.errors import SchemaBehind
from losswatch.monitor.models import Base


def test_migrations_upgrade_empty_database_matches_models(db_url: str) -> None:
    # db_url was brought from empty to head by alembic, on SQLite and on PostgreSQL.
    engine = create_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_prepare_upgrades_an_empty_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    engine = make_engine(url)
    prepare(engine, url)
    assert current_revision(engine) == head_revision(url)


def test_prepare_refuses_a_database_that_is_behind(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0000')")
    with pytest.raises(SchemaBehind, match="losswatch db upgrade"):
        prepare(engine, url)
