"""Line breaks, NUL and other control characters at every input: normalised or refused with a
clear message, never a 500 and never a dead link (docs/operations.md, "Bad input")."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from assessment.cohort_jobs import SEND_INVITATIONS
from assessment.cohorts import add_leader, create_cohort
from assessment.core.text import TextError, free_text, one_line
from assessment.invitations import create_invitation, find_link
from assessment.models import Cohort, Comment, Invitation, Leader, Relationship
from tests.builders import add_leader as add_leader_by_web
from tests.builders import answer_all, csrf_token, make_links, run_job, wait_for_job
from tests.builders import create_cohort as create_cohort_by_web


def test_one_line_flattens_whitespace_and_refuses_other_controls():
    assert one_line(" Ward\r\n7\tleaders\u2028 ") == "Ward 7 leaders"
    for bad in ("a\x00b", "a\x1bb", "a\x7fb"):
        with pytest.raises(TextError, match="control character"):
            one_line(bad, "The name")
    assert free_text("first\r\nsecond\rthird\x00 ") == "first\nsecond\nthird"


def test_a_line_break_in_a_cohort_name_is_flattened_and_its_mail_goes_out(
    signed_in, session, database, smtp
):
    page = signed_in.get("/cohorts").get_data(as_text=True)
    response = signed_in.post(
        "/cohorts",
        data={
            "name": "Ward 7\r\nBcc: everyone@example.org",
            "instrument": "compassionate-leadership@1",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302
    assert session.scalar(select(Cohort.name)) == "Ward 7 Bcc: everyone@example.org"
    signed_in.application.extensions["cl360.settings"].mail = smtp.settings
    cohort_url = response.headers["Location"]
    leader_url = add_leader_by_web(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    leader_page = signed_in.get(leader_url).get_data(as_text=True)
    for n in range(3):
        signed_in.post(
            leader_url,
            data={
                "relationship": "peer",
                "rater_name": f"Peer {n}",
                "rater_email": f"peer{n}@example.org",
                "count": "1",
                "csrf_token": csrf_token(leader_page),
            },
        )
    dashboard = signed_in.get(cohort_url).get_data(as_text=True)
    sent = signed_in.post(
        f"{cohort_url}/invitations/send", data={"csrf_token": csrf_token(dashboard)}
    )
    assert wait_for_job(signed_in, sent)["summary"] == "3 of 3 invitations sent."
    assert len(smtp.messages) == 3
    assert all(m["Bcc"] is None for m in smtp.messages)


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Rosa\x00Fernandes"), ("department", "Surgery\x1b[31m")],
)
def test_control_characters_in_a_leader_form_are_refused_at_the_field(
    signed_in, session, field, value
):
    cohort_url = create_cohort_by_web(signed_in)
    page = signed_in.get(cohort_url).get_data(as_text=True)
    data = {"name": "Rosa Fernandes", "email": "rosa@example.org", field: value}
    response = signed_in.post(cohort_url, data={**data, "csrf_token": csrf_token(page)})
    assert response.status_code == 400
    assert "invisible control character" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Leader)) == 0


def test_a_nul_in_a_rater_comment_is_dropped_and_the_answers_stored(signed_in, instrument, session):
    cohort_url = create_cohort_by_web(signed_in)
    leader_url = add_leader_by_web(signed_in, cohort_url, "Rosa Fernandes", "rosa@example.org")
    (link,) = make_links(signed_in, leader_url, "peer")
    page = signed_in.get(link).get_data(as_text=True)
    question = instrument.open_questions[0].id
    response = signed_in.post(
        link,
        data={
            **answer_all(instrument),
            question: "Calm\x00 under\r\npressure",
            "action": "submit",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 302
    assert session.scalar(select(Comment.text)) == "Calm under\npressure"


def test_control_characters_in_an_import_are_named_by_row_and_column(
    signed_in, database, coach, instrument, session
):
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Import cohort", instrument)
    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    token = re.search(r'name="leaders-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    csv = 'name,email\n"Asha\nPatel",asha@example.org\nBad\x07Name,bad@example.org\n'
    response = signed_in.post(
        f"/cohorts/{cohort.slug}/import/leaders",
        data={"leaders-csrf_token": token, "leaders-file": (io.BytesIO(csv.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<td>4</td><td>name</td><td>the value contains an invisible control character" in html
    fixed = csv.replace("Bad\x07Name", "Ben Name")
    response = signed_in.post(
        f"/cohorts/{cohort.slug}/import/leaders",
        data={"leaders-csrf_token": token, "leaders-file": (io.BytesIO(fixed.encode()), "l.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert sorted(session.scalars(select(Leader.name))) == ["Asha Patel", "Ben Name"]


def test_a_message_that_cannot_be_written_stops_only_itself(
    database, settings, coach, instrument, smtp
):
    """A name stored before these checks existed still holds a line break: its invitation is
    reported, the others go out, and every mailed link works."""
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Old data", instrument)
        for n, name in enumerate(["Ada", "Broken", "Cy"]):
            leader = add_leader(s, cohort, name, f"{name.lower()}@example.org")
            create_invitation(
                s, leader, Relationship.PEER, actor="t", rater_email=f"rater{n}@example.org"
            )
        s.flush()
        s.execute(update(Leader).where(Leader.name == "Broken").values(name="Bro\nken"))
    mailing = replace(settings, mail=smtp.settings, base_url="http://cl360.test")
    record = run_job(database, mailing, SEND_INVITATIONS, cohort_id=cohort.id)
    assert record.summary == "2 of 3 invitations sent."
    [problem] = record.errors
    assert problem["item"] == "rater1@example.org (peer of Bro\nken)"
    assert "cannot be written" in problem["error"]
    with database.session() as s:
        for message in smtp.messages:
            token = re.search(r"/r/(\S+)", message.get_content()).group(1)
            assert find_link(s, token).live
        assert (
            s.scalar(
                select(func.count())
                .select_from(Invitation)
                .where(Invitation.invited_at.is_not(None))
            )
            == 2
        )
