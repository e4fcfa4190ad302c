"""Fixtures: the real app on the real database, migrated with the real migrations.

SQLite by default (a fresh file per test session); PostgreSQL when ``TEST_DATABASE_URL`` is set.
Each test starts from empty tables; rows are deleted afterwards rather than rolled back, so the
app's own per-request commits are exercised exactly as in production.

Only fixtures live here; what tests import (helpers, constants, small instruments) is in
tests/builders.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from assessment import migrate
from assessment.accounts import create_coach
from assessment.app import create_app
from assessment.config import PROJECT_ROOT, MailSettings, Settings, normalise_database_url
from assessment.core.instruments import Instrument, load_instrument
from assessment.database import Base, Database
from assessment.models import Coach
from tests.builders import (
    COACH_EMAIL,
    COACH_PASSWORD,
    DEFAULT_INSTRUMENT,
    PULSE_INSTRUMENT,
    add_leader,
    create_cohort,
    csrf_token,
    make_report_instrument,
)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _worker_database(normalise_database_url(url))
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    if database_url.startswith("postgresql"):
        _reset_postgresql(database_url)
    migrate.upgrade(database_url)
    return database_url


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database beside the given one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _reset_postgresql(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()


@pytest.fixture
def settings(migrated: str, tmp_path: Path) -> Settings:
    settings = Settings(
        database_url=migrated,
        secret_key="test secret key",
        instance_path=tmp_path / "instance",
        instruments_path=PROJECT_ROOT / "instruments",
        base_url="http://localhost",
        testing=True,
    )
    return settings


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    yield app
    # Jobs the test started (a close starts profile fitting) end before their tables are
    # emptied, so none runs on into the next test.
    app.extensions["cl360.jobs"].shutdown()
    database: Database = app.extensions["cl360.db"]
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    database.dispose()


@pytest.fixture
def database(app: Flask) -> Database:
    return app.extensions["cl360.db"]


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session for arranging and inspecting data outside requests; commit to make it visible."""
    with database.session() as session:
        yield session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def gunicorn_server(migrated: str, app: Flask, tmp_path: Path):
    """The product under a real ``gunicorn -w 4`` on the test database (tests/live.py); ``app``
    empties the tables afterwards, as for every other test."""
    from tests.live import gunicorn

    with gunicorn(migrated, tmp_path / "live") as live:
        yield live


@pytest.fixture
def coach(database: Database) -> Coach:
    with database.transaction() as session:
        return create_coach(session, COACH_EMAIL, COACH_PASSWORD)


@pytest.fixture
def instrument() -> Instrument:
    return load_instrument(DEFAULT_INSTRUMENT)


@pytest.fixture
def pulse() -> Instrument:
    return load_instrument(PULSE_INSTRUMENT)


@pytest.fixture(scope="module")
def report_instrument() -> Instrument:
    """The synthetic instrument the report tests score, not the product's (``instrument``).
    Module-scoped, as the reports and PDFs built on it are: each module renders them once."""
    return make_report_instrument()


@pytest.fixture
def cohort_setup(signed_in: FlaskClient) -> tuple[FlaskClient, str, str]:
    """A coach signed in, with a cohort made through the web and one leader in it."""
    cohort_url = create_cohort(signed_in)
    leader_url = add_leader(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    return signed_in, cohort_url, leader_url


@pytest.fixture
def signed_in(client: FlaskClient, coach: Coach) -> FlaskClient:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"email": COACH_EMAIL, "password": COACH_PASSWORD, "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 302
    return client


class Collector:
    """A real SMTP server on loopback that keeps what it receives (or refuses it)."""

    def __init__(self) -> None:
        self.messages: list = []
        self.refuse = False

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return "554 5.7.1 refused by the test server"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    collector = Collector()
    from tests.live import free_port

    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    collector.settings = MailSettings(
        server="127.0.0.1", port=controller.port, use_tls=False, sender="coach@cl360.test"
    )
    yield collector
    controller.stop()
