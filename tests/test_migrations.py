"""The hand-written migrations go up and down on SQLite and PostgreSQL, keeping data, and the
head of the chain creates exactly what the models describe."""

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


COACH_AND_COHORT = (
    "INSERT INTO coach (id, email, password_hash, created_at)"
    " VALUES (1, 'c@example.org', 'x', CURRENT_TIMESTAMP)",
    "INSERT INTO cohort (id, slug, name, coach_id, instrument_id, instrument_version, instrument,"
    " status, is_demo, created_at) VALUES (1, 'c', 'C', 1, 'i', 1, '{}', 'open', false,"
    " CURRENT_TIMESTAMP)",
)
"""Rows every migration since 0002 must keep (later columns have defaults in the database)."""


def insert_rows(database: Database, *statements: str) -> None:
    with database.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_campaign_migration_up_down_up_keeps_existing_rows(scratch_url):
    migrate.upgrade(scratch_url, "0002")
    database = Database(scratch_url)
    insert_rows(database, *COACH_AND_COHORT)
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

    migrate.downgrade(scratch_url, "0002")
    inspector = inspect(database.engine)
    assert "nomination" not in inspector.get_table_names()
    assert "deadline" not in {c["name"] for c in inspector.get_columns("cohort")}
    migrate.upgrade(scratch_url, "head")
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT slug FROM cohort")).scalar() == "c"
    database.dispose()


def test_predictions_migration_keeps_drafts_and_matches_the_models(scratch_url):
    migrate.upgrade(scratch_url, "0003")
    database = Database(scratch_url)
    insert_rows(
        database,
        *COACH_AND_COHORT,
        "INSERT INTO leader (id, cohort_id, name, email, created_at)"
        " VALUES (1, 1, 'L', 'l@example.org', CURRENT_TIMESTAMP)",
        "INSERT INTO invitation (id, leader_id, relationship, token_hash, status, created_at)"
        " VALUES (1, 1, 'self', 'h', 'draft', CURRENT_TIMESTAMP)",
        "INSERT INTO draft_response (id, invitation_id, answers, comments, updated_at)"
        " VALUES (1, 1, '{\"a1\": 4}', '{}', CURRENT_TIMESTAMP)",
    )
    migrate.upgrade(scratch_url, "0006")  # the last revision with drafts in plain JSON
    assert "prediction" in inspect(database.engine).get_table_names()
    with database.engine.connect() as connection:
        answers, predictions = connection.execute(
            text("SELECT answers, predictions FROM draft_response")
        ).one()
    assert answers in ({"a1": 4}, '{"a1": 4}') and predictions in ({}, "{}")
    migrate.upgrade(scratch_url, "head")
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        # Plain drafts cannot be sealed with a key the server never had: they are dropped
        # and the invitation counts as not started again (0007).
        status = connection.execute(text("SELECT status FROM invitation")).scalar()
        drafts = connection.execute(text("SELECT count(*) FROM draft_response")).scalar()
    assert (status, drafts) == ("pending", 0)
    assert diff == [], diff  # the migrations create exactly what the models describe

    migrate.downgrade(scratch_url, "0003")
    inspector = inspect(database.engine)
    assert "prediction" not in inspector.get_table_names()
    assert "predictions" not in {c["name"] for c in inspector.get_columns("draft_response")}
    database.dispose()


def test_links_migration_keeps_every_issued_link_working(scratch_url):
    from sqlalchemy.orm import Session

    from assessment.invitations import find_link, hash_token

    rater, leader = "r" * 43, "l" * 43
    migrate.upgrade(scratch_url, "0004")
    database = Database(scratch_url)
    insert_rows(
        database,
        *COACH_AND_COHORT,
        "INSERT INTO leader (id, cohort_id, name, email, created_at, token_hash, link_issued_at)"
        f" VALUES (1, 1, 'L', 'l@example.org', CURRENT_TIMESTAMP, '{hash_token(leader)}',"
        " CURRENT_TIMESTAMP)",
        "INSERT INTO invitation (id, leader_id, relationship, token_hash, status, created_at)"
        f" VALUES (1, 1, 'peer', '{hash_token(rater)}', 'draft', CURRENT_TIMESTAMP)",
        "INSERT INTO draft_response (id, invitation_id, answers, comments, predictions,"
        " updated_at) VALUES (1, 1, '{\"a1\": 4}', '{}', '{}', CURRENT_TIMESTAMP)",
    )
    migrate.upgrade(scratch_url, "head")
    with Session(database.engine) as session:
        assert find_link(session, rater).invitation.relationship_ == "peer"
        assert find_link(session, leader).leader.email == "l@example.org"
    migrate.downgrade(scratch_url, "0004")
    with database.engine.connect() as connection:
        hashes = connection.execute(
            text("SELECT i.token_hash, l.token_hash FROM invitation i JOIN leader l ON 1 = 1")
        ).one()
    assert hashes == (hash_token(rater), hash_token(leader))
    database.dispose()
