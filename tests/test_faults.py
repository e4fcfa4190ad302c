"""When the database fails: 503 with Retry-After, a page a person can act on, nothing half
written, and a rater's answers handed back to them (docs/operations.md, "When the database
fails")."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from assessment.app import create_app
from assessment.cohorts import add_leader, create_cohort
from assessment.config import Settings
from assessment.invitations import create_invitation, new_link
from assessment.models import Answer, Invitation, InvitationStatus, LinkPurpose, Relationship
from tests.builders import COACH_EMAIL, COACH_PASSWORD, csrf_token
from tests.live import free_port


@pytest.fixture
def link(database, coach, instrument) -> str:
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Fault cohort", instrument)
        leader = add_leader(s, cohort, "Rosa Fernandes", "rosa@example.org")
        invitation = create_invitation(s, leader, Relationship.PEER, actor="t")
        return "/r/" + new_link(s, invitation, LinkPurpose.SHOWN, actor="t")


def answers(instrument) -> dict[str, str]:
    return {
        **{item.id: "4" for item in instrument.items},
        instrument.open_questions[0].id: "Listens before deciding; I wish she did so more often.",
    }


def filled_form(client, link: str, instrument) -> dict[str, str]:
    page = client.get(link).get_data(as_text=True)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))
    fields["csrf_token"] = csrf_token(page)
    return {**fields, **answers(instrument), "action": "submit"}


def assert_answers_handed_back(response, posted: dict[str, str]) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == 503, page
    assert response.headers["Retry-After"].isdigit()
    assert "Your answers have not been lost" in page
    # A form that sends exactly what was posted again, comment included, visible to copy.
    comment = next(value for value in posted.values() if " " in value)
    for name, value in posted.items():
        if name != "action" and value != comment:
            assert f'<input type="hidden" name="{name}" value="{value}">' in page
    assert f"readonly>{comment}</textarea>" in page
    assert "Send my answers again" in page


def assert_nothing_written(session) -> None:
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Answer)) == 0
    assert session.scalar(select(Invitation.status)) == InvitationStatus.PENDING


@contextmanager
def unreachable(app) -> Iterator[None]:
    """The app's database refuses connections (as when the server is down)."""
    database = app.extensions["cl360.db"]
    real = database.engine, database.sessionmaker.kw["bind"], database.write_sessionmaker.kw["bind"]
    url = (
        f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/gone"
        if database.url.startswith("postgresql")
        else f"sqlite:///{Path('/nonexistent/folder/cl360.sqlite3')}"
    )
    dead = create_engine(url, connect_args={"connect_timeout": 2} if "postgres" in url else {})
    database.sessionmaker.configure(bind=dead)
    database.write_sessionmaker.configure(bind=dead)
    try:
        yield
    finally:
        database.sessionmaker.configure(bind=real[1])
        database.write_sessionmaker.configure(bind=real[2])
        dead.dispose()


def test_an_unreachable_database_gives_503_and_the_rater_their_answers(
    app, client, link, instrument, session
):
    posted = filled_form(client, link, instrument)
    with unreachable(app):
        response = client.post(link, data=posted)
        assert_answers_handed_back(response, posted)
    assert_nothing_written(session)
    again = client.post(link, data=posted)  # the "send again" button, once the database is back
    assert again.status_code == 302 and again.headers["Location"] == "/r/thanks"


def test_signed_in_coaches_get_the_products_page_not_a_bare_error(app, signed_in):
    with unreachable(app):
        response = signed_in.get("/cohorts")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert "The database is not answering" in page and "Compassionate Leadership 360" in page


@pytest.fixture
def impatient(settings: Settings):
    """The app with a one-second lock timeout, so a test can outwait it."""
    settings.lock_timeout = 1.0
    app = create_app(settings)
    yield app
    app.extensions["cl360.db"].dispose()


def test_a_lock_held_past_the_timeout_gives_503_and_the_answers(
    impatient, database, link, instrument, session
):
    client = impatient.test_client()
    posted = filled_form(client, link, instrument)
    release, held = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with database.engine.connect() as connection:
            if database.url.startswith("sqlite"):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text("LOCK TABLE invitation IN ACCESS EXCLUSIVE MODE"))
            held.set()
            release.wait(30)
            connection.rollback()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    held.wait(10)
    try:
        response = client.post(link, data=posted)
    finally:
        release.set()
        holder.join()
    assert_answers_handed_back(response, posted)
    assert_nothing_written(session)


@pytest.fixture
def read_only(settings: Settings, database) -> Iterator:
    """The app on a database that refuses writes (a replica promoted wrongly, a full disk)."""
    if database.url.startswith("sqlite"):
        path = database.url.removeprefix("sqlite:///")
        settings.database_url = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        settings.database_url = database.url
    app = create_app(settings)
    if not database.url.startswith("sqlite"):
        from sqlalchemy import event

        event.listen(
            app.extensions["cl360.db"].engine,
            "connect",
            lambda connection, _: connection.execute("SET default_transaction_read_only = on"),
        )
    yield app
    app.extensions["cl360.db"].dispose()


def test_a_read_only_database_gives_503_and_the_answers(read_only, link, instrument, session):
    client = read_only.test_client()
    posted = filled_form(client, link, instrument)
    response = client.post(link, data=posted)
    assert_answers_handed_back(response, posted)
    assert_nothing_written(session)


def test_a_coach_sign_in_during_an_outage_says_try_again(app, client, coach):
    page = client.get("/login").get_data(as_text=True)
    with unreachable(app):
        response = client.post(
            "/login",
            data={"email": COACH_EMAIL, "password": COACH_PASSWORD, "csrf_token": csrf_token(page)},
        )
    assert response.status_code == 503
    assert "Nothing you did in this step was saved" in response.get_data(as_text=True)
