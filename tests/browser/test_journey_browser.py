"""The 360 journey in headless Chromium: what a coach, a leader and raters actually click."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from assessment.models import Prediction, Response
from tests.builders import COACH_EMAIL, COACH_PASSWORD, answer_everything, rate_on_a_phone


def test_coach_leader_and_raters_walk_the_journey(
    browser, live_server, coach, instrument, session, screenshot
):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server + "/")
    page.get_by_label("Email").fill(COACH_EMAIL)
    page.get_by_label("Password").fill(COACH_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    screenshot(page, "1-cohorts")

    page.get_by_label("Cohort name").fill("Community teams, spring")
    assert page.get_by_label("Questionnaire").input_value() == "compassionate-leadership@1"
    page.get_by_role("button", name="Create cohort").click()
    page.get_by_label("Full name").fill("Priya Shah")
    page.get_by_label("Email").fill("priya@example.org")
    page.get_by_role("button", name="Add leader").click()
    page.get_by_role("link", name="Priya Shah").click()

    page.get_by_label("Relationship to the leader").select_option("self")
    page.get_by_role("button", name="Create links").click()
    self_link = page.locator("input.links__url").first.input_value()
    page.get_by_label("Relationship to the leader").select_option("direct_report")
    page.get_by_label("How many links").fill("3")
    page.get_by_role("button", name="Create links").click()
    expect(page.locator("input.links__url")).to_have_count(3)
    screenshot(page, "2-links")
    rater_links = [field.input_value() for field in page.locator("input.links__url").all()]

    leader = context.new_page()
    leader.goto(self_link)
    expect(leader.get_by_role("heading", name="Your self-assessment")).to_be_visible()
    answer_everything(leader, "4")
    # Predictions are optional: Purpose predicted at 3, Courage left at "No prediction".
    leader.get_by_role("group", name=re.compile("^Purpose: what will others")).get_by_role(
        "radio", name=re.compile("^3")
    ).check()
    expect(leader.locator("#progress")).to_have_text(re.compile(r"^27 of 27"))
    screenshot(leader, "2b-self-assessment-predictions")
    leader.get_by_role("button", name="Submit my answers").click()
    expect(leader.get_by_role("heading", name="Thank you")).to_be_visible()

    for index, link in enumerate(rater_links):
        # The first saves part-way, comes back through the same link and finishes.
        resume = (lambda page: screenshot(page, "3-rater-resumed")) if index == 0 else None
        rater = rate_on_a_phone(
            browser, link, str(3 + index % 2), "Listens before deciding.", resume
        )
        rater.goto(link)
        expect(rater.get_by_role("heading", name="Your answers are already in")).to_be_visible()

    assert session.scalar(select(func.count()).select_from(Response)) == 4
    assert session.execute(select(Prediction.dimension_id, Prediction.value)).all() == [
        ("purpose", 3)
    ]
    page.get_by_role("link", name="Community teams, spring").click()
    screenshot(page, "4-completion")
    row = page.get_by_role("row", name=re.compile("Priya Shah"))
    assert "Done" in row.inner_text()
    page.get_by_role("button", name="Close cohort").click()
    expect(page.get_by_text("The cohort is closed")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF report").click()
    pdf = download.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    context.close()


def test_rater_form_works_with_keyboard_only(
    browser, live_server, coach, instrument, app, screenshot
):
    from assessment.cohorts import add_leader, create_cohort
    from assessment.invitations import create_invitation, new_link
    from assessment.models import Coach, LinkPurpose, Relationship

    database = app.extensions["cl360.db"]
    with database.transaction() as s:
        cohort = create_cohort(s, s.get(Coach, coach.id), "Keyboard cohort", instrument)
        leader = add_leader(s, cohort, "Tom Reed", "tom@example.org")
        invitation = create_invitation(s, leader, Relationship.PEER, actor="test")
        token = new_link(s, invitation, LinkPurpose.SHOWN, actor="test")
    page = browser.new_page()
    page.goto(f"{live_server}/r/{token}")
    page.locator("input[type=radio]").first.focus()
    page.keyboard.press("ArrowRight")  # moves within the radio group and selects
    assert page.locator("fieldset.item").first.locator("input[value='2']").is_checked()
    screenshot(page, "keyboard")
    page.close()
