"""Bad form posts get a clear error and change nothing (docs/operations.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from assessment.models import AuditEvent, Cohort, Invitation, Leader
from tests.builders import add_leader, create_cohort, csrf_token, make_links


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "instrument": "compassionate-leadership@1"}, "This field is required"),
        ({"name": "X", "instrument": "made-up@9"}, "Not a valid choice"),
        ({"name": "X" * 201, "instrument": "compassionate-leadership@1"}, "Field cannot be longer"),
        ({"name": "   ", "instrument": "compassionate-leadership@1"}, "needs a name"),
    ],
)
def test_bad_cohort_posts(signed_in, session, data, message):
    page = signed_in.get("/cohorts").get_data(as_text=True)
    response = signed_in.post("/cohorts", data={**data, "csrf_token": csrf_token(page)})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(session, Cohort) == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "Ana", "email": "not-an-email"}, "Invalid email address"),
        ({"name": "", "email": "ana@example.org"}, "This field is required"),
        ({"name": "Ana", "email": "rosa@example.org"}, "already a leader"),
        ({"name": "Ana", "email": "ROSA@example.org"}, "already a leader"),
    ],
)
def test_bad_leader_posts(signed_in, session, data, message):
    cohort_url = create_cohort(signed_in)
    add_leader(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    page = signed_in.get(cohort_url).get_data(as_text=True)
    response = signed_in.post(cohort_url, data={**data, "csrf_token": csrf_token(page)})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(session, Leader) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"relationship": "boss", "count": "1"}, "Not a valid choice"),
        ({"relationship": "peer", "count": "0"}, "Number must be between 1 and 30"),
        ({"relationship": "peer", "count": "1000"}, "Number must be between 1 and 30"),
        ({"relationship": "peer", "count": "two"}, "Not a valid integer value"),
        ({"relationship": "peer", "count": "2", "rater_name": "Jo"}, "A named rater gets one link"),
        ({"relationship": "peer", "count": "1", "rater_email": "nope"}, "Invalid email address"),
    ],
)
def test_bad_invitation_posts(signed_in, session, data, message):
    cohort_url = create_cohort(signed_in)
    leader_url = add_leader(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    page = signed_in.get(leader_url).get_data(as_text=True)
    response = signed_in.post(leader_url, data={**data, "csrf_token": csrf_token(page)})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(session, Invitation) == 0


def test_a_second_self_assessment_link_is_refused(signed_in, session):
    cohort_url = create_cohort(signed_in)
    leader_url = add_leader(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    make_links(signed_in, leader_url, "self")
    page = signed_in.get(leader_url).get_data(as_text=True)
    response = signed_in.post(
        leader_url, data={"relationship": "self", "count": "1", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 400
    assert "already has a self-assessment link" in response.get_data(as_text=True)
    assert count(session, Invitation) == 1


def test_closing_twice_and_adding_to_a_closed_cohort_are_refused(signed_in, session):
    cohort_url = create_cohort(signed_in)
    leader_url = add_leader(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    for attempt in range(2):
        page = signed_in.get(cohort_url).get_data(as_text=True)
        token = csrf_token(page)
        response = signed_in.post(
            cohort_url + "/close", data={"csrf_token": token}, follow_redirects=True
        )
        expected = "The cohort is closed" if attempt == 0 else "already closed"
        assert expected in response.get_data(as_text=True)
    closed_events = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "cohort.close")
    )
    assert closed_events == 1
    response = signed_in.post(
        cohort_url, data={"name": "Late", "email": "late@example.org", "csrf_token": token}
    )
    assert response.status_code == 400 and "closed" in response.get_data(as_text=True)
    response = signed_in.post(
        leader_url, data={"relationship": "peer", "count": "1", "csrf_token": token}
    )
    assert response.status_code == 400 and "closed" in response.get_data(as_text=True)
    assert count(session, Leader) == 1 and count(session, Invitation) == 0


def test_overlong_comment_is_refused_and_answers_kept(signed_in, instrument, session):
    cohort_url = create_cohort(signed_in)
    leader_url = add_leader(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    (link,) = make_links(signed_in, leader_url, "peer")
    page = signed_in.get(link).get_data(as_text=True)
    question = instrument.open_questions[0].id
    data = {item.id: "3" for item in instrument.items}
    response = signed_in.post(
        link,
        data={**data, question: "x" * 5000, "action": "submit", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 422
    assert "under 4000 characters" in response.get_data(as_text=True)
    assert 'value="3" checked' in response.get_data(as_text=True)


def test_oversized_post_is_refused_cleanly(signed_in):
    response = signed_in.post("/cohorts", data={"name": "x" * (6 * 1024 * 1024)})
    assert response.status_code == 413
