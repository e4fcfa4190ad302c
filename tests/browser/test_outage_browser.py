"""With JavaScript, answers given while the server cannot save them stay in the browser until
it confirms them (docs/operations.md, "When the database fails")."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import func, select

from assessment.cohorts import add_leader, create_cohort
from assessment.invitations import create_invitation, new_link
from assessment.models import Answer, Coach, LinkPurpose, Relationship


def test_answers_made_offline_come_back_and_are_forgotten_once_submitted(
    browser, live_server, coach, instrument, app, session, screenshot
):
    database = app.extensions["cl360.db"]
    with database.transaction() as s:
        cohort = create_cohort(s, s.get(Coach, coach.id), "Outage cohort", instrument)
        leader = add_leader(s, cohort, "Tom Reed", "tom@example.org")
        invitation = create_invitation(s, leader, Relationship.PEER, actor="test")
        token = new_link(s, invitation, LinkPurpose.SHOWN, actor="test")
    link = f"{live_server}/r/{token}"
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    # The server stops answering the background saves (its database is down, say).
    page.route("**/r/*", lambda route: route.fulfill(status=503, headers={"Retry-After": "30"}))
    items = page.locator("fieldset.item:not(.prediction)")
    statements = items.count()
    for index in range(statements):
        items.nth(index).locator("input[value='4']").check()
    page.locator("textarea").first.fill("Listens first, then decides.")
    expect(page.locator("#progress")).to_contain_text("Not saved yet", timeout=10_000)
    screenshot(page, "not-saved-yet")
    page.close()  # the rater gives up for now

    # Later, the same browser opens the link again: nothing reached the server, all comes back.
    again = context.new_page()
    again.goto(link)
    expect(again.locator("#progress")).to_contain_text("have been put back")
    assert again.locator("fieldset.item:not(.prediction) input:checked").count() == statements
    assert again.locator("textarea").first.input_value() == "Listens first, then decides."
    screenshot(again, "put-back")
    again.get_by_role("button", name="Submit my answers").click()
    expect(again.get_by_role("heading", name="Thank you")).to_be_visible()
    kept = again.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('cl360:answers:')).length"
    )
    assert kept == 0
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Answer)) == len(instrument.items)
    context.close()
