"""Migration 0003 (running a campaign) goes up and down on SQLite and PostgreSQL, keeping data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from assessment import migrate
from assessment.database import Base, Database


@pytest.fixture
def scratch_url(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database of the same kind as the test database, dropped afterwards."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"cl360_migrations_{uuid.uuid4().hex[:8]}"
    admin = Database(database_url, isolation_level="AUTOCOMMIT")
    with admin.engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield database_url.rsplit("/", 1)[0] + "/" + name
    with admin.engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_campaign_migration_up_down_up_keeps_existing_rows(scratch_url):
    migrate.upgrade(scratch_url, "0002")
    database = Database(scratch_url)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO coach (id, email, password_hash, created_at) "
                "VALUES (1, 'c@example.org', 'x', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO cohort (id, slug, name, coach_id, instrument_id, instrument_version,"
                " instrument, status, is_demo, created_at) VALUES (1, 'c', 'C', 1, 'i', 1, '{}',"
                " 'open', false, CURRENT_TIMESTAMP)"
            )
        )
    migrate.upgrade(scratch_url, "0003")
    inspector = inspect(database.engine)
    assert {"nomination", "mail_message", "reminder_sent", "report_release"} <= set(
        inspector.get_table_names()
    )
    assert {"deadline", "reminder_days", "translations"} <= {
        c["name"] for c in inspector.get_columns("cohort")
    }
    with database.engine.connect() as connection:
        days, translations = connection.execute(
            text("SELECT reminder_days, translations FROM cohort")
        ).one()
    assert days in ([], "[]") and translations in ({}, "{}")
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], diff  # the migration creates exactly what the models describe

    migrate.downgrade(scratch_url, "0002")
    inspector = inspect(database.engine)
    assert "nomination" not in inspector.get_table_names()
    assert "deadline" not in {c["name"] for c in inspector.get_columns("cohort")}
    migrate.upgrade(scratch_url, "head")
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT slug FROM cohort")).scalar() == "c"
    database.dispose()
