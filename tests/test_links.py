"""Every link that was sent keeps working until its invitation is used, its cohort closes, or
the coach revokes that one link (docs/operations.md, "Links")."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from assessment.cohorts import add_leader, close_cohort, create_cohort
from assessment.invitations import create_invitation, new_link
from assessment.models import AccessLink, LinkPurpose, MailMessage, Relationship
from tests.builders import answer, client_signed_in_as, csrf_token, wait_for_job


def mailed_links(session, kind: str, path: str) -> list[str]:
    """Every link of that kind in the outbox, oldest first."""
    session.expire_all()
    bodies = session.scalars(
        select(MailMessage.body).where(MailMessage.kind == kind).order_by(MailMessage.id)
    )
    return [re.search(rf"http://localhost(/{path}/\S+)", body).group(1) for body in bodies]


def post(client: FlaskClient, url: str, page_url: str, data: dict[str, str] | None = None):
    page = client.get(page_url).get_data(as_text=True)
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(page)})


@pytest.fixture
def rater(database, coach, instrument):
    """A leader with one named peer invited by email, and the link first shown to the coach."""
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Links cohort", instrument)
        leader = add_leader(s, cohort, "Ines Costa", "ines@example.org")
        invitation = create_invitation(
            s, leader, Relationship.PEER, actor="t", rater_name="Pat", rater_email="pat@x.org"
        )
        shown = new_link(s, invitation, LinkPurpose.SHOWN, actor="t")
        return cohort, leader, invitation.id, f"/r/{shown}"


def test_invitation_reminder_and_reissue_each_add_a_link_and_kill_none(
    client, signed_in, rater, session
):
    cohort, leader, invitation_id, shown = rater
    dashboard = f"/cohorts/{cohort.slug}"
    sent = wait_for_job(signed_in, post(signed_in, f"{dashboard}/invitations/send", dashboard))
    assert sent["summary"] == "1 of 1 invitations sent."
    reminded = wait_for_job(signed_in, post(signed_in, f"{dashboard}/remind", dashboard))
    assert reminded["summary"] == "1 reminder sent."
    again = wait_for_job(signed_in, post(signed_in, f"{dashboard}/remind", dashboard))
    assert again["summary"] == "No reminder sent: 1 had been reminded today already."
    leader_page = f"{dashboard}/leaders/{leader.id}"
    reissued = post(signed_in, f"/invitations/{invitation_id}/reissue", leader_page)
    assert reissued.status_code == 200
    (coach_link,) = re.findall(r'value="http://localhost(/r/[^"]+)"', reissued.get_data(True))
    (invited,) = mailed_links(session, "invitation", "r")
    (reminded,) = mailed_links(session, "reminder", "r")
    links = [shown, invited, reminded, coach_link]
    assert len(set(links)) == 4
    rater_browser = client.application.test_client()
    for link in links:
        page = rater_browser.get(link)
        assert page.status_code == 200 and "Feedback for Ines Costa" in page.get_data(True), link
    page = signed_in.get(leader_page).get_data(as_text=True)
    assert "4 working" in page and "reminder mail" in page and "invitation mail" in page


def test_a_revoked_link_stops_and_the_others_still_work(client, signed_in, rater, session):
    cohort, leader, invitation_id, shown = rater
    leader_page = f"/cohorts/{cohort.slug}/leaders/{leader.id}"
    reissued = post(signed_in, f"/invitations/{invitation_id}/reissue", leader_page)
    (second,) = re.findall(r'value="http://localhost(/r/[^"]+)"', reissued.get_data(True))
    first_link = session.scalar(select(AccessLink).order_by(AccessLink.id))
    revoked = post(signed_in, f"/links/{first_link.id}/revoke", leader_page)
    assert revoked.status_code == 302
    assert "The other links still do" in signed_in.get(leader_page).get_data(True)
    stopped = client.get(shown)
    assert stopped.status_code == 410 and "This link was withdrawn" in stopped.get_data(True)
    assert client.get(second).status_code == 200
    again = post(signed_in, f"/links/{first_link.id}/revoke", leader_page)
    assert "revoked already" in signed_in.get(again.headers["Location"]).get_data(True)


def test_another_coach_cannot_revoke_a_link(app, rater, session):
    from assessment.accounts import create_coach

    with app.extensions["cl360.db"].transaction() as s:
        create_coach(s, "other@example.org", "another long password")
    other = client_signed_in_as(app, "other@example.org", "another long password")
    link = session.scalar(select(AccessLink))
    page = other.get("/cohorts").get_data(as_text=True)
    response = other.post(f"/links/{link.id}/revoke", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404
    session.expire_all()
    assert session.get(AccessLink, link.id).live


def test_the_leaders_links_survive_the_self_assessment_and_the_release(
    client, signed_in, database, coach, instrument, session
):
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Leader links", instrument)
        leader = add_leader(s, cohort, "Omar Said", "omar@example.org")
        self_invitation = create_invitation(s, leader, Relationship.SELF, actor="t")
        mailed_self = new_link(s, self_invitation, LinkPurpose.INVITATION, actor="t")
        for relationship in [Relationship.MANAGER] + [Relationship.PEER] * 3:
            answer(s, instrument, leader, relationship, 4)
    leader_page = f"/cohorts/{cohort.slug}/leaders/{leader.id}"
    post(signed_in, f"{leader_page}/link", leader_page)
    (personal,) = mailed_links(session, "leader_link", "l")

    leader_browser = client.application.test_client()
    start = post(leader_browser, f"{personal}/self-assessment", personal)
    opened = start.headers["Location"]
    assert opened != f"/r/{mailed_self}"
    for link in (opened, f"/r/{mailed_self}"):
        assert leader_browser.get(link).status_code == 200  # the mailed link still works

    with database.transaction() as s:
        close_cohort(s, s.merge(cohort), "t")
    released = post(signed_in, f"{leader_page}/release", f"{leader_page}/comments")
    assert released.status_code == 302
    (ready,) = mailed_links(session, "report_ready", "l")
    for link in (personal, ready):
        home = leader_browser.get(link)
        assert home.status_code == 200 and "Your report is ready" in home.get_data(True)
        assert leader_browser.get(f"{link}/report.pdf").status_code == 200
    # The cohort is closed: rater links say so instead of dying.
    closed = leader_browser.get(f"/r/{mailed_self}")
    assert closed.status_code == 403 and "closed" in closed.get_data(True)


def test_a_new_link_is_shown_in_the_answer_and_never_kept_in_the_session(signed_in, rater):
    cohort, leader, _, _ = rater
    leader_page = f"/cohorts/{cohort.slug}/leaders/{leader.id}"
    made = post(
        signed_in,
        leader_page,
        leader_page,
        {"relationship": "peer", "rater_name": "Sam | Ward 7", "count": "1"},
    )
    html = made.get_data(as_text=True)
    assert made.status_code == 200
    assert '<span class="links__who">Sam | Ward 7</span>' in html
    (link,) = re.findall(r'value="http://localhost(/r/[^"]+)"', html)
    app = signed_in.application
    stored = app.session_interface.get_signing_serializer(app).loads(
        signed_in.get_cookie("session").value
    )
    assert link.removeprefix("/r/") not in str(stored)
    assert link not in signed_in.get(leader_page).get_data(as_text=True)  # shown once
