"""Nominations through the leader's link, moderation, release, the leader's report and plan."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import func, select

from assessment.cohorts import add_leader, close_cohort, create_cohort, reopen_cohort
from assessment.config import MailSettings
from assessment.invitations import new_link
from assessment.mail import Postman
from assessment.models import (
    AuditEvent,
    Comment,
    DevelopmentPlan,
    Invitation,
    LinkPurpose,
    MailMessage,
    Nomination,
    NominationStatus,
    ReportRelease,
)
from assessment.moderation import REDACTED, is_redaction
from assessment.releases import release_report, release_state
from assessment.responses import observer_comments
from tests.builders import answer, csrf_token


@pytest.fixture
def leader_link(database, coach, instrument):
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Nomination cohort", instrument)
        leader = add_leader(s, cohort, "Nia Owusu", "nia@example.org", "Surgery")
        token = new_link(s, leader, LinkPurpose.PERSONAL_PAGE, actor="coach@example.org")
        return cohort, leader, f"/l/{token}"


def post(client, url, data, page_url=None):
    page = client.get(page_url or url).get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_token(page)})


def test_leader_nominates_coach_edits_approves_and_rejects(client, signed_in, leader_link, session):
    cohort, _, link = leader_link
    leader_client = client.application.test_client()
    home = leader_client.get(link)
    assert home.status_code == 200 and "Hello Nia Owusu" in home.get_data(as_text=True)
    assert home.headers["Cache-Control"] == "no-store"
    for name, email, relationship in (
        ("Pat Peer", "pat@example.org", "peer"),
        ("Max Boss", "max@example", "manager"),  # bad address: refused with a message
        ("Dee Report", "dee@example.org", "direct_report"),
        ("Nia Herself", "nia@example.org", "peer"),
        ("Pat Twice", "PAT@example.org", "other"),
        ("Sam Wrong", "sam@example.org", "self"),
    ):
        post(leader_client, link, {"name": name, "email": email, "relationship": relationship})
    nominations = session.scalars(select(Nomination).order_by(Nomination.id)).all()
    assert [(n.rater_name, n.relationship_.value) for n in nominations] == [
        ("Pat Peer", "peer"),
        ("Dee Report", "direct_report"),
    ]
    assert session.scalar(select(func.count()).select_from(Invitation)) == 0  # nothing sent yet

    review_url = f"/cohorts/{cohort.slug}/nominations"
    review = signed_in.get(review_url).get_data(as_text=True)
    assert "Pat Peer" in review and "nominated by Nia Owusu" in review
    pat, dee = nominations
    approve = post(
        signed_in,
        f"/nominations/{pat.id}",
        {
            f"n{pat.id}-csrf_token": csrf_token(review),
            f"n{pat.id}-name": "Patricia Peer",
            f"n{pat.id}-email": "patricia@example.org",
            f"n{pat.id}-relationship": "other",
            "action": "approve",
        },
        review_url,
    )
    assert approve.status_code == 302
    reject = post(
        signed_in,
        f"/nominations/{dee.id}",
        {f"n{dee.id}-csrf_token": csrf_token(review), "action": "reject"},
        review_url,
    )
    assert reject.status_code == 302
    session.expire_all()
    assert [n.status for n in session.scalars(select(Nomination).order_by(Nomination.id))] == [
        NominationStatus.APPROVED,
        NominationStatus.REJECTED,
    ]
    invitation = session.scalar(select(Invitation))
    assert (invitation.rater_name, invitation.rater_email, invitation.relationship_.value) == (
        "Patricia Peer",
        "patricia@example.org",
        "other",
    )
    assert invitation.invited_at is not None
    mail = session.scalar(select(MailMessage))
    assert mail.recipient == "patricia@example.org" and "/r/" in mail.body
    actions = set(session.scalars(select(AuditEvent.action)))
    assert {"nomination.create", "nomination.approve", "nomination.reject"} <= actions

    # The leader sees statuses of their nominations and counts per group, never who answered.
    page = leader_client.get(link).get_data(as_text=True)
    assert "Invited" in page and "Not invited" in page
    assert '0 <span class="group-count__of">of at least 3</span>' in page


def test_leader_pages_refuse_unknown_links_and_other_leaders_objects(client, leader_link):
    _, _, link = leader_link
    assert client.get("/l/" + "A" * 43).status_code == 404
    assert client.get("/l/short").status_code == 404
    assert client.get(link + "/report.pdf").status_code == 404  # not released yet
    assert client.get(link + "/plan").status_code == 302


def test_self_assessment_from_the_personal_page(client, leader_link, session):
    _, _, link = leader_link
    response = post(client, link + "/self-assessment", {}, link)
    assert response.status_code == 302 and "/r/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your self-assessment" in page
    again = post(client, link + "/self-assessment", {}, link)
    assert again.headers["Location"] != response.headers["Location"]  # fresh link, same invitation
    assert session.scalar(select(func.count()).select_from(Invitation)) == 1


@pytest.fixture
def answered(database, coach, instrument):
    """A closed cohort: a leader with self, a manager and three peers answered, with comments."""
    from assessment.models import Relationship

    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Release cohort", instrument)
        leader = add_leader(s, cohort, "Omar Said", "omar@example.org")
        answer(s, instrument, leader, Relationship.SELF, 5, "My own note")
        answer(s, instrument, leader, Relationship.MANAGER, 3)
        for index, text in enumerate(
            ["Omar helped me after my accident in March.", "Listens well.", "Calm."]
        ):
            answer(s, instrument, leader, Relationship.PEER, 3 + index % 2, text)
        close_cohort(s, cohort, "coach@example.org")
        return cohort, leader


def test_redaction_only_replaces_spans():
    original = "Omar helped me after my accident in March."
    assert is_redaction(original, original)
    assert is_redaction(original, f"Omar helped me after {REDACTED}.")
    assert is_redaction(original, f"{REDACTED} helped me after my {REDACTED} in March.")
    assert is_redaction(original, REDACTED)
    assert not is_redaction(original, "Omar helped me.")  # removed text without a marker
    assert not is_redaction(original, f"Omar did not help me after {REDACTED}.")  # rewritten
    assert not is_redaction(original, f"Omar helped me after my accident in March.{REDACTED}")
    assert not is_redaction(original, f"{REDACTED} and more")  # words added after a marker
    assert not is_redaction("", REDACTED)  # a marker must replace something
    assert not is_redaction(original, original + " Great!")


def test_moderate_release_and_the_leader_reads_only_the_released_report(
    client, signed_in, database, answered, instrument, session
):
    cohort, leader = answered
    url = f"/cohorts/{cohort.slug}/leaders/{leader.id}/comments"
    page = signed_in.get(url).get_data(as_text=True)
    assert "My own note" not in page  # the leader's own comment is not an observer comment
    assert "Listens well." in page
    assert "relationship" not in page.lower() or "Peer" not in page  # no group labels
    handle = re.search(
        r'name="handle" value="([0-9a-f]+)">\s*<label[^>]*>[^<]*</label>\s*'
        r"<textarea[^>]*>Omar helped me",
        page,
    ).group(1)
    rewrite = post(signed_in, url, {"handle": handle, "text": "Omar was wonderful."}, url)
    assert rewrite.status_code == 422 and "may only replace words" in rewrite.get_data(as_text=True)
    ok = post(signed_in, url, {"handle": handle, "text": f"Omar helped me after {REDACTED}."}, url)
    assert ok.status_code == 302
    comment = session.scalar(select(Comment).where(Comment.text.like("Omar helped%")))
    assert comment.text == "Omar helped me after my accident in March."  # the original is kept
    assert comment.redacted_text == f"Omar helped me after {REDACTED}."
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "comment.redact"))
    assert event.actor == "coach@example.org" and event.at is not None
    assert "accident" not in str(event.detail)
    with database.session() as s:
        from assessment.models import Leader

        texts = observer_comments(s, s.get(Leader, leader.id), instrument)
    assert f"Omar helped me after {REDACTED}." in texts and not any("accident" in t for t in texts)

    release = post(signed_in, f"/cohorts/{cohort.slug}/leaders/{leader.id}/release", {}, url)
    assert release.status_code == 302
    stored = session.scalar(select(ReportRelease))
    assert stored.released_by == "coach@example.org" and stored.pdf.startswith(b"%PDF")
    session.expire_all()
    # Released: the cut detail is dropped from the database too, only the redaction remains.
    assert session.scalar(select(Comment.text).where(Comment.text.like("Omar helped%"))) == (
        f"Omar helped me after {REDACTED}."
    )
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(stored.pdf)).pages)
    assert "[redacted]" in " ".join(text.split()) and "accident" not in text
    assert sorted(stored.counts.items()) == [("manager", 1), ("peer", 3), ("self", 1)]
    assert len(stored.response_ids) == 5
    mail = session.scalar(select(MailMessage).where(MailMessage.kind == "report_ready"))
    assert mail.recipient == "omar@example.org"
    link = re.search(r"http://localhost(/l/\S+)", mail.body).group(1)

    leader_client = client.application.test_client()
    home = leader_client.get(link).get_data(as_text=True)
    assert "Your report is ready" in home
    pdf = leader_client.get(link + "/report.pdf")
    assert pdf.status_code == 200 and pdf.data == stored.pdf
    plan_page = leader_client.get(link + "/plan").get_data(as_text=True)
    assert "What is your leadership for?" in plan_page and "Where do I need courage?" in plan_page
    saved = post(
        leader_client,
        link + "/plan",
        {"purpose": "Safe care for every family.", "pressure": "I rush.", "courage": "Say no."},
    )
    assert saved.status_code == 302
    plan = session.scalar(select(DevelopmentPlan))
    assert (plan.purpose, plan.pressure, plan.courage) == (
        "Safe care for every family.",
        "I rush.",
        "Say no.",
    )
    assert "Safe care for every family." in leader_client.get(link + "/plan").get_data(as_text=True)
    again = post(signed_in, f"/cohorts/{cohort.slug}/leaders/{leader.id}/release", {}, url)
    assert again.status_code == 302
    assert session.scalar(select(func.count()).select_from(ReportRelease)) == 1


def test_release_needs_a_closed_cohort(database, answered):
    cohort, leader = answered
    from assessment.cohorts import CohortError
    from assessment.models import Leader

    with database.transaction() as s:
        reopen_cohort(s, s.merge(cohort), "coach@example.org")
        with pytest.raises(CohortError, match="close the cohort"):
            release_report(s, s.get(Leader, leader.id), Postman(MailSettings(), "x"), actor="c")


def test_reopened_cohort_keeps_the_released_report_until_enough_new_responses(
    signed_in, database, answered, instrument, session
):
    from assessment.cohorts import CohortError
    from assessment.models import Leader, Relationship

    cohort, leader = answered
    postman = Postman(MailSettings(), "http://x")
    with database.transaction() as s:
        lead = s.get(Leader, leader.id)
        release_report(s, lead, postman, actor="coach@example.org")
        reopen_cohort(s, lead.cohort, "coach@example.org")
        answer(s, instrument, lead, Relationship.PEER, 1)
        close_cohort(s, lead.cohort, "coach@example.org")
    released = session.scalar(select(ReportRelease.pdf))
    coach_pdf = signed_in.get(f"/cohorts/{cohort.slug}/leaders/{leader.id}/report.pdf").data
    assert coach_pdf == released  # one late rater cannot be read off the difference
    page = signed_in.get(f"/cohorts/{cohort.slug}/leaders/{leader.id}/comments")
    html = page.get_data(as_text=True)
    assert "work out individual answers" in html and "Peers: 1 new response held back" in html
    with database.transaction() as s:
        lead = s.get(Leader, leader.id)
        with pytest.raises(CohortError, match="held back"):
            release_report(s, lead, postman, actor="coach@example.org")
        reopen_cohort(s, lead.cohort, "coach@example.org")
        for _ in range(2):
            answer(s, instrument, lead, Relationship.PEER, 2)
        close_cohort(s, lead.cohort, "coach@example.org")
        assert release_state(s, lead).problems == []
        second = release_report(s, lead, postman, actor="coach@example.org")
        assert len(second.response_ids) == 8
        assert second.counts["peer"] == 6


def _redaction_by_pattern(original: str, edited: str) -> bool:
    """The rule as a regular expression: plain to read, far too slow for long comments."""
    pieces = edited.split(REDACTED)
    if len(pieces) == 1:
        return edited == original
    pattern = "(?:.+?)".join(re.escape(piece) for piece in pieces)
    return re.fullmatch(pattern, original, flags=re.DOTALL) is not None


@given(
    original=st.text(alphabet="ab [redacted]", max_size=14),
    cuts=st.lists(st.tuples(st.integers(0, 14), st.integers(0, 4)), max_size=3),
    noise=st.text(alphabet="abc", max_size=2),
)
def test_the_redaction_check_equals_its_definition(original, cuts, noise):
    edited = original
    for start, length in cuts:
        edited = edited[:start] + REDACTED + edited[start + length :]
    for candidate in (edited, edited + noise, noise + edited):
        assert is_redaction(original, candidate) == _redaction_by_pattern(original, candidate)


def test_a_long_comment_is_checked_at_once():
    original = "word " * 400  # 2,000 characters
    edited = original[:10] + REDACTED + original[20:-30] + REDACTED
    assert is_redaction(original, edited)
    assert not is_redaction(original, edited + "x")
