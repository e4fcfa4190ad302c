"""Nobody but the rater reads unsubmitted answers: not a coach holding, making or opening a
link (docs/anonymity.md, "Drafts")."""

from __future__ import annotations

import re

from sqlalchemy import select

from assessment.models import DraftResponse, Invitation, InvitationStatus
from tests.builders import csrf_token, make_links, post_form

SECRET = "Leaves the night shift short and blames us for it"


def checked(page: str, item_id: str, value: str) -> bool:
    return re.search(rf'name="{item_id}" value="{value}" checked', page) is not None


def test_a_draft_opens_only_in_the_browser_that_saved_it(cohort_setup, instrument, session, app):
    coach, _, leader_url = cohort_setup
    (first_link,) = make_links(coach, leader_url, "peer")
    rater = app.test_client()
    question = instrument.open_questions[0].id
    item = instrument.items[0].id
    saved = post_form(rater, first_link, {item: "2", question: SECRET}, "save")
    assert saved.status_code == 302
    draft = session.scalar(select(DraftResponse))
    assert SECRET.encode() not in draft.sealed and b"2" not in draft.sealed[:1]

    # The coach opens the very same link: nothing of the rater's shows.
    seen_by_coach = coach.get(first_link).get_data(as_text=True)
    assert SECRET not in seen_by_coach and not checked(seen_by_coach, item, "2")
    assert "saved answers to this questionnaire in another browser" in seen_by_coach

    # Another live link of the same invitation opens the draft in the rater's browser.
    invitation_id = session.scalar(select(Invitation.id))
    page = coach.get(leader_url).get_data(as_text=True)
    with app.extensions["cl360.db"].transaction() as s:
        from assessment.invitations import new_link
        from assessment.models import LinkPurpose

        second_link = "/r/" + new_link(
            s, s.get(Invitation, invitation_id), LinkPurpose.REMINDER, actor="t"
        )
    resumed = rater.get(second_link).get_data(as_text=True)
    assert SECRET in resumed and checked(resumed, item, "2")

    # A new link from the coach starts afresh: the draft is gone, even for the rater.
    reissued = coach.post(
        f"/invitations/{invitation_id}/reissue", data={"csrf_token": csrf_token(page)}
    )
    assert reissued.status_code == 200
    session.expire_all()
    assert session.scalar(select(DraftResponse)) is None
    assert session.scalar(select(Invitation.status)) == InvitationStatus.PENDING
    afresh = rater.get(second_link).get_data(as_text=True)
    assert SECRET not in afresh and not checked(afresh, item, "2")


def test_the_draft_key_is_a_cookie_no_script_reads_sent_only_to_rater_pages(
    cohort_setup, instrument, app
):
    coach, _, leader_url = cohort_setup
    (link,) = make_links(coach, leader_url, "peer")
    rater = app.test_client()
    saved = post_form(rater, link, {instrument.items[0].id: "3"}, "save")
    cookie = saved.headers["Set-Cookie"]
    assert cookie.startswith("cl360_draft_") and "HttpOnly" in cookie and "Path=/r/" in cookie
    assert "SameSite=Lax" in cookie
