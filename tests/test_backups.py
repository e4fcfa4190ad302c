"""``cl360 db backup`` and ``cl360 db restore`` on SQLite and PostgreSQL (docs/operations.md,
"Backups"): a restore puts back every response and cohort exactly; a bad file changes nothing.

Every test here gets a database of its own (a SQLite file, or a scratch PostgreSQL database
dropped afterwards), because a restore replaces the whole database, which the shared test
database of the rest of the suite must not see.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, make_url, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from assessment import migrate
from assessment.backups import BackupError, backup
from assessment.cli import cli
from assessment.cohorts import create_cohort
from assessment.config import PROJECT_ROOT, Settings, normalise_database_url
from assessment.database import Database
from assessment.models import Coach, Cohort, Invitation, Leader, Response
from tests.builders import answer_all, make_cohort, make_links, post_form


def _postgresql_server() -> URL:
    """The server of ``TEST_DATABASE_URL`` when set, else the local one; only its maintenance
    database is used directly."""
    configured = (
        os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    return make_url(normalise_database_url(configured)).set(database="postgres")


@contextmanager
def scratch_postgresql() -> Iterator[str]:
    """A new, uniquely named PostgreSQL database, dropped afterwards; skips when no server."""
    server = _postgresql_server()
    engine = create_engine(
        server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        engine.connect().close()
    except OperationalError:
        engine.dispose()
        pytest.skip(f"no PostgreSQL server is reachable at {server}, so its backups go untested")
    name = f"cl360_backup_{secrets.token_hex(4)}"
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Overrides the suite's settings: the app, the CLI runner and the coach below all use a
    database of this test's own."""
    with (
        scratch_postgresql()
        if request.param == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'cl360.sqlite3'}")
    ) as url:
        migrate.upgrade(url)
        yield Settings(
            database_url=url,
            secret_key="test secret key",
            instance_path=tmp_path / "instance",
            instruments_path=PROJECT_ROOT / "instruments",
            base_url="http://localhost",
            testing=True,
        )


def needs_client_tools(database: Database) -> None:
    if database.engine.dialect.name == "postgresql" and not (
        shutil.which("pg_dump") and shutil.which("pg_restore")
    ):
        pytest.skip("pg_dump and pg_restore are not installed (apt-get install postgresql-client)")


def snapshot(database: Database) -> dict[str, Any]:
    """Everything a restore must bring back: cohorts, leaders, invitations, and each response
    by its id with its answers, comments and predictions."""
    with database.session() as session:
        return {
            "cohorts": [
                (c.id, c.coach_id, c.slug, c.name, c.status, c.instrument_version, c.closed_at)
                for c in session.scalars(select(Cohort).order_by(Cohort.id))
            ],
            "leaders": [
                (leader.id, leader.cohort_id, leader.name, leader.email)
                for leader in session.scalars(select(Leader).order_by(Leader.id))
            ],
            "invitations": [
                (i.id, i.leader_id, i.relationship_, i.status)
                for i in session.scalars(select(Invitation).order_by(Invitation.id))
            ],
            "responses": {
                r.id: (
                    r.leader_id,
                    r.relationship_,
                    {a.item_id: a.value for a in r.answers},
                    {c.question_id: c.text for c in r.comments},
                    {p.dimension_id: p.value for p in r.predictions},
                )
                for r in session.scalars(select(Response))
            },
        }


@pytest.fixture
def filled(cohort_setup, coach, instrument, database):
    """An open cohort whose raters submitted through their links on the web, and a closed one
    whose responses were stored by the import path; returns the open cohort's address."""
    client, cohort_url, leader_url = cohort_setup
    links = make_links(client, leader_url, "self") + make_links(client, leader_url, "peer", 3)
    for index, link in enumerate(links):
        answers = answer_all(instrument, str(2 + index % 4))
        answers[instrument.open_questions[0].id] = f"Comment number {index}"
        assert post_form(client, link, answers).status_code == 302
    make_links(client, leader_url, "manager")  # invited, never answered
    make_cohort(database, coach, instrument)
    return client, cohort_url


def test_a_restore_puts_back_every_response_and_the_cohort_exactly(
    filled, coach, instrument, database, runner, tmp_path: Path
):
    needs_client_tools(database)
    client, cohort_url = filled
    before = snapshot(database)
    assert len(before["cohorts"]) == 2 and len(before["responses"]) == 4 + 2 * 7
    assert all(answers for _, _, answers, _, _ in before["responses"].values())

    file = tmp_path / "backups" / "cl360.backup"
    file.parent.mkdir()
    made = runner.invoke(cli, ["db", "backup", str(file)])
    assert made.exit_code == 0, made.output
    assert f"to {file}" in made.output
    # Personal data: readable by its owner only, and no partial file left beside it.
    assert file.stat().st_mode & 0o777 == 0o600
    assert [path.name for path in file.parent.iterdir()] == [file.name]

    with database.transaction() as session:
        session.execute(delete(Response))
        session.get(Cohort, before["cohorts"][0][0]).name = "Renamed after the backup"
        create_cohort(session, session.merge(coach), "Made after the backup", instrument)
    altered = snapshot(database)
    assert altered["responses"] == {} and len(altered["cohorts"]) == 3

    restored = runner.invoke(cli, ["db", "restore", "--yes", str(file)])
    assert restored.exit_code == 0, restored.output
    assert f"from {file}" in restored.output
    assert snapshot(database) == before
    # The running app carries on with the restored data.
    page = client.get(cohort_url).get_data(as_text=True)
    assert "Rosa Fernandes" in page and "Renamed" not in page


def test_a_backup_taken_mid_transaction_holds_only_what_was_committed(
    filled, database, runner, tmp_path: Path
):
    """What "safe while the app is serving" means: a writer half way through its work when
    the backup runs is not in the backup, and does not stop it."""
    needs_client_tools(database)
    before = snapshot(database)
    file = tmp_path / "during.backup"
    with database.session(writes=True) as session:
        session.execute(delete(Response))
        session.flush()
        made = runner.invoke(cli, ["db", "backup", str(file)])
        session.rollback()
    assert made.exit_code == 0, made.output
    with database.transaction() as session:
        session.execute(delete(Response))
    assert runner.invoke(cli, ["db", "restore", "--yes", str(file)]).exit_code == 0
    assert snapshot(database) == before


def test_a_damaged_backup_is_refused_and_changes_nothing(
    filled, coach, instrument, database, runner, tmp_path: Path
):
    needs_client_tools(database)
    file = tmp_path / "cl360.backup"
    assert runner.invoke(cli, ["db", "backup", str(file)]).exit_code == 0
    with database.transaction() as session:
        create_cohort(session, session.merge(coach), "Made after the backup", instrument)
    now = snapshot(database)
    content = file.read_bytes()
    # Cut where PostgreSQL has dropped and recreated tables before it notices.
    file.write_bytes(content[: len(content) * 9 // 10])
    refused = runner.invoke(cli, ["db", "restore", "--yes", str(file)])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.output.startswith("Error: ")
    assert snapshot(database) == now


def test_restore_says_what_is_wrong_with_the_file(coach, database, runner, tmp_path: Path):
    dialect = database.engine.dialect.name
    missing = tmp_path / "missing.backup"
    other = tmp_path / "other.backup"
    if dialect == "sqlite":
        other.write_bytes(b"PGDMP\x01\x0e\x00\x04\x08\x01\x01" + bytes(200))
        other_kind = "is a PostgreSQL backup (pg_dump), but the database is SQLite"
        not_ours = "is not a SQLite backup"
    else:
        with sqlite3.connect(other) as connection:
            connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
        other_kind = "is a SQLite backup, but the database is PostgreSQL"
        not_ours = "is not a PostgreSQL backup (pg_dump --format=custom)"
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a backup at all\n")
    for path, sentence in [
        (missing, f"Error: {missing} does not exist"),
        (other, f"Error: {other} {other_kind}"),
        (text_file, f"Error: {text_file} {not_ours}"),
    ]:
        result = runner.invoke(cli, ["db", "restore", "--yes", str(path)])
        assert result.exit_code == 1, result.output
        assert result.output.strip() == sentence
    with database.session() as session:
        assert session.scalar(select(Coach.email)) == coach.email


def test_restore_asks_first_unless_told_yes(filled, database, runner, tmp_path: Path):
    needs_client_tools(database)
    file = tmp_path / "cl360.backup"
    assert runner.invoke(cli, ["db", "backup", str(file)]).exit_code == 0
    with database.transaction() as session:
        session.execute(delete(Response))
    declined = runner.invoke(cli, ["db", "restore", str(file)], input="n\n")
    assert declined.exit_code == 1 and "replaces everything in the database" in declined.output
    assert snapshot(database)["responses"] == {}
    accepted = runner.invoke(cli, ["db", "restore", str(file)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert snapshot(database)["responses"] != {}


def test_without_the_postgresql_tools_the_commands_say_what_to_install(
    coach, database, runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """SQLite needs no tool at all; PostgreSQL needs pg_dump and pg_restore on PATH."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    file = tmp_path / "cl360.backup"
    if database.engine.dialect.name == "sqlite":
        monkeypatch.setenv("PATH", str(empty))
        assert runner.invoke(cli, ["db", "backup", str(file)]).exit_code == 0
        assert runner.invoke(cli, ["db", "restore", "--yes", str(file)]).exit_code == 0
        return
    file.write_bytes(b"PGDMP" + bytes(100))
    monkeypatch.setenv("PATH", str(empty))
    for arguments, tool in [(["backup"], "pg_dump"), (["restore", "--yes"], "pg_restore")]:
        result = runner.invoke(cli, ["db", *arguments, str(file)])
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: {tool} is not installed (or not on PATH)")
    assert file.read_bytes() == b"PGDMP" + bytes(100)  # the failed backup left it alone


def test_a_backup_is_never_made_of_a_sqlite_file_that_is_not_there(tmp_path: Path):
    """A mistyped DATABASE_URL would otherwise yield a backup of a new, empty database."""
    source = tmp_path / "typo.sqlite3"
    with pytest.raises(BackupError, match=re.escape(f"there is no SQLite database at {source}")):
        backup(f"sqlite:///{source}", tmp_path / "cl360.backup")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BackupError, match=r"the folder .* does not exist"):
        backup(f"sqlite:///{source}", tmp_path / "no" / "cl360.backup")
    with pytest.raises(BackupError, match="in memory"):
        backup("sqlite://", tmp_path / "cl360.backup")
