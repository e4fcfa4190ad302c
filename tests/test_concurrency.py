"""Exactly once under real concurrency: several browsers against a real gunicorn.

Each test arranges one invitation in the test database, releases its requests together from
separate threads (each with its own connection, so they reach different server processes),
and then reads the rows the database kept. The rules are in docs/operations.md.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

import pytest
from sqlalchemy import func, select

from assessment.cohorts import add_leader, create_cohort
from assessment.core.instruments import Instrument
from assessment.database import Database
from assessment.invitations import create_invitation, new_link
from assessment.models import (
    Answer,
    Coach,
    DraftResponse,
    Invitation,
    InvitationStatus,
    LinkPurpose,
    Relationship,
    Response,
)
from tests.live import Browser, at_once

ROUNDS = 8


def new_invitation(database: Database, coach: Coach, instrument: Instrument) -> tuple[int, str]:
    with database.transaction() as session:
        cohorts = session.scalar(select(func.count()).select_from(Invitation))
        cohort = create_cohort(session, session.merge(coach), f"Race {cohorts}", instrument)
        leader = add_leader(session, cohort, "Rosa Fernandes", "rosa@example.org")
        invitation = create_invitation(session, leader, Relationship.PEER, actor="test")
        token = new_link(session, invitation, LinkPurpose.SHOWN, actor="test")
        return invitation.id, f"/r/{token}"


def complete(instrument: Instrument, value: str) -> dict[str, str]:
    return {item.id: value for item in instrument.items}


def stored(database: Database, invitation_id: int) -> tuple[InvitationStatus, int, int, int]:
    """(status, responses, answers, drafts) as the database holds them now."""
    with database.session() as session:
        return (
            session.get(Invitation, invitation_id).status,
            session.scalar(select(func.count()).select_from(Response)),
            session.scalar(select(func.count()).select_from(Answer)),
            session.scalar(
                select(func.count())
                .select_from(DraftResponse)
                .where(DraftResponse.invitation_id == invitation_id)
            ),
        )


def test_a_double_click_stores_one_response_and_both_clicks_see_thanks(
    gunicorn_server, database, coach, instrument
):
    for round_ in range(ROUNDS):
        invitation_id, link = new_invitation(database, coach, instrument)
        browser = Browser(gunicorn_server)
        data = {**browser.open_form(link), **complete(instrument, "4"), "action": "submit"}
        first, second = at_once([partial(browser.post, link, data)] * 2)
        browser.close()
        assert {first.status_code, second.status_code} == {302}, (first.text, second.text)
        assert {first.headers["Location"], second.headers["Location"]} == {"/r/thanks"}
        status, responses, answers, drafts = stored(database, invitation_id)
        assert (status, responses, drafts) == (InvitationStatus.SUBMITTED, round_ + 1, 0)
        assert answers == (round_ + 1) * len(instrument.items)


def test_eight_browsers_on_one_link_store_exactly_one_response(
    gunicorn_server, database, coach, instrument
):
    invitation_id, link = new_invitation(database, coach, instrument)
    browsers = [Browser(gunicorn_server) for _ in range(8)]
    posts = [
        {**browser.open_form(link), **complete(instrument, str(1 + index % 5)), "action": "submit"}
        for index, browser in enumerate(browsers)
    ]
    results = at_once([partial(b.post, link, d) for b, d in zip(browsers, posts, strict=True)])
    codes = Counter(r.status_code for r in results)
    assert codes == {302: 1, 409: 7}, [(r.status_code, r.text[:200]) for r in results]
    assert all("already in" in r.text for r in results if r.status_code == 409)
    assert stored(database, invitation_id) == (
        InvitationStatus.SUBMITTED,
        1,
        len(instrument.items),
        0,
    )
    winner = posts[[r.status_code for r in results].index(302)]
    with database.session() as session:
        values = set(session.scalars(select(Answer.value)))
    assert values == {int(winner[instrument.items[0].id])}
    for browser in browsers:
        browser.close()


@pytest.mark.parametrize("save", ["autosave", "save"])
def test_a_save_racing_a_submit_never_reopens_the_link(
    gunicorn_server, database, coach, instrument, save
):
    for _ in range(ROUNDS):
        invitation_id, link = new_invitation(database, coach, instrument)
        browser = Browser(gunicorn_server)
        fields = browser.open_form(link)
        submitting = {**fields, **complete(instrument, "4"), "action": "submit"}
        saving = {**fields, **complete(instrument, "2"), "action": save}
        submitted, saved = at_once(
            [partial(browser.post, link, submitting), partial(browser.post, link, saving)]
        )
        assert submitted.status_code == 302, submitted.text
        # The save either landed first (and was then replaced by the submission) or found the
        # link used; never a server error, never a draft left behind.
        assert saved.status_code in {204, 302, 409}, saved.text
        status, _, _, drafts = stored(database, invitation_id)
        assert (status, drafts) == (InvitationStatus.SUBMITTED, 0)
        again = Browser(gunicorn_server)
        assert again.client.get(link).status_code == 409
        late = again.post(link, {**submitting, "submission": "another browser"})
        assert late.status_code == 409
        again.close()
        browser.close()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == ROUNDS


def test_concurrent_saves_keep_one_draft_and_never_fail(
    gunicorn_server, database, coach, instrument
):
    invitation_id, link = new_invitation(database, coach, instrument)
    browsers = [Browser(gunicorn_server) for _ in range(8)]
    posts = [
        {**b.open_form(link), instrument.items[0].id: str(1 + i % 5), "action": "autosave"}
        for i, b in enumerate(browsers)
    ]
    for _ in range(3):
        results = at_once([partial(b.post, link, d) for b, d in zip(browsers, posts, strict=True)])
        assert [r.status_code for r in results] == [204] * 8, [r.text[:300] for r in results]
    status, responses, _, drafts = stored(database, invitation_id)
    assert (status, responses, drafts) == (InvitationStatus.DRAFT, 0, 1)
    for browser in browsers:
        browser.close()


def test_the_access_log_never_holds_a_token(gunicorn_server, database, coach, instrument):
    _, link = new_invitation(database, coach, instrument)
    browser = Browser(gunicorn_server)
    browser.post(link, {**browser.open_form(link), "action": "save"})
    browser.client.get("/l/" + "x" * 43)
    browser.close()
    log = gunicorn_server.log.read_text()
    assert '"GET /r/[link] HTTP/1.1" 200' in log and '"POST /r/[link] HTTP/1.1" 302' in log
    assert link.removeprefix("/r/") not in log and "x" * 43 not in log


def test_the_development_servers_log_never_holds_a_token(app, caplog):
    import logging

    token = "A" * 43
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        logging.getLogger("werkzeug").info(
            '%s - - [%s] "%s" %s -', "127.0.0.1", "now", f"GET /l/{token}/plan HTTP/1.1", "200"
        )
    assert "GET /l/[link]/plan HTTP/1.1" in caplog.text and token not in caplog.text
