"""A whole campaign in headless Chromium: import, nominate, approve, answer, moderate, release.

Every page is saved as a screenshot in test-artifacts/screenshots/ to be looked at, and the
rater pages are checked with axe-core (shipped inside the axe-playwright-python wheel).
"""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import select

from assessment.models import LinkPurpose, MailMessage
from tests.builders import (
    COACH_EMAIL,
    COACH_PASSWORD,
    SPANISH,
    answer_everything,
    rate_on_a_phone,
)

LEADERS_CSV = (
    b"\xef\xbb\xbfname;email;department\n"  # Excel's UTF-8 with BOM and semicolons
    b"Priya Shah;priya@example.org;Community nursing\n"
    b"Tom Reed;tom@example.org;Pharmacy\n"
)
IDENTIFYING = "She covered for me the week my father died."


def latest_link(session, recipient: str, path: str) -> str:
    session.expire_all()
    body = session.scalars(
        select(MailMessage.body)
        .where(MailMessage.recipient == recipient)
        .order_by(MailMessage.id.desc())
    ).first()
    return re.search(rf"(http://\S+/{path}/\S+)", body).group(1)


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_a_whole_campaign(browser, live_server, coach, session, screenshot):
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    coach_page = desk.new_page()
    coach_page.goto(live_server + "/login")
    coach_page.get_by_label("Email").fill(COACH_EMAIL)
    coach_page.get_by_label("Password").fill(COACH_PASSWORD)
    coach_page.get_by_role("button", name="Sign in").click()
    coach_page.get_by_label("Cohort name").fill("Spring programme")
    coach_page.get_by_role("button", name="Create cohort").click()

    # Import leaders from a CSV file: first a broken one, then a good one.
    coach_page.locator("#leaders-file").set_input_files(
        {"name": "bad.csv", "mimeType": "text/csv", "buffer": b"name,email\nNo Address,\n"}
    )
    coach_page.get_by_role("button", name="Import leaders").click()
    expect(coach_page.get_by_text("Nothing was imported")).to_be_visible()
    screenshot(coach_page, "01-import-problems")
    coach_page.locator("#leaders-file").set_input_files(
        {"name": "leaders.csv", "mimeType": "text/csv", "buffer": LEADERS_CSV}
    )
    coach_page.get_by_role("button", name="Import leaders").click()
    expect(coach_page.get_by_text("2 leaders imported")).to_be_visible()
    screenshot(coach_page, "02-cohort-after-import")

    # The coach sends Priya her personal link; it lands in the outbox (no SMTP here).
    coach_page.get_by_role("link", name="Priya Shah").click()
    coach_page.get_by_role("button", name="Send personal link").click()
    expect(coach_page.get_by_text("The personal page link was emailed")).to_be_visible()
    screenshot(coach_page, "03-leader-page-link")
    priya_link = latest_link(session, "priya@example.org", "l")

    # Priya, on her phone, nominates three peers and does her self-assessment.
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    priya = phone.new_page()
    priya.goto(priya_link)
    for name, email in (
        ("Ana Lopez", "ana@example.org"),
        ("Ben Ford", "ben@example.org"),
        ("Cai Wong", "cai@exmaple.org"),  # a typo the coach corrects
    ):
        priya.get_by_label("Their name").fill(name)
        priya.get_by_label("Their email").fill(email)
        priya.get_by_label("How they work with you").select_option("peer")
        priya.get_by_role("button", name="Nominate").click()
        expect(priya.get_by_text(f"{name} nominated")).to_be_visible()
    screenshot(priya, "04-leader-nominated")
    priya.get_by_role("button", name="Start your self-assessment").click()
    expect(priya.get_by_role("heading", name="Your self-assessment")).to_be_visible()
    answer_everything(priya, "4")
    priya.get_by_role("button", name="Submit my answers").click()
    expect(priya.get_by_role("heading", name="Thank you")).to_be_visible()

    # The coach approves the nominations, correcting one address.
    coach_page.goto(live_server + "/cohorts/spring-programme")
    coach_page.get_by_role("link", name=re.compile("Review 3 nominations")).click()
    screenshot(coach_page, "05-nominations")
    nominations = coach_page.locator("form.nomination")
    for waiting in (2, 1):
        nominations.first.get_by_role("button", name="Approve and invite").click()
        expect(nominations).to_have_count(waiting)
        expect(coach_page.get_by_text("approved and invited")).to_be_visible()
    cai = coach_page.locator("form.nomination", has_text="Cai Wong")
    cai.get_by_label("Email").fill("cai@example.org")
    cai.get_by_role("button", name="Approve and invite").click()
    expect(coach_page.get_by_text("No nominations are waiting")).to_be_visible()
    coach_page.goto(live_server + "/cohorts/spring-programme/outbox")
    screenshot(coach_page, "06-outbox")

    # Three raters answer; Ana saves a draft first and comes back to it.
    for index, email in enumerate(("ana@example.org", "ben@example.org", "cai@example.org")):
        comment = IDENTIFYING if index == 1 else f"Priya listens well ({index})."
        resume = (lambda page: screenshot(page, "07-rater-resumed")) if index == 0 else None
        rater = rate_on_a_phone(
            browser, latest_link(session, email, "r"), str(3 + index % 2), comment, resume
        )
        rater.context.close()

    # Tom's manager is invited by hand and has not answered yet.
    coach_page.goto(live_server + "/cohorts/spring-programme")
    coach_page.get_by_role("link", name="Tom Reed").click()
    coach_page.get_by_label("Relationship to the leader").select_option("manager")
    coach_page.get_by_label("Rater's name (optional)").fill("Mo Manager")
    coach_page.get_by_label("Rater's email (optional)").fill("mo@example.org")
    coach_page.get_by_role("button", name="Create links").click()
    expect(coach_page.get_by_text("Mo Manager").first).to_be_visible()

    # The dashboard, filtered; then close, moderate and release.
    coach_page.goto(live_server + "/cohorts/spring-programme")
    coach_page.get_by_label("Show").select_option("below")
    coach_page.get_by_role("button", name="Filter").click()
    expect(coach_page.get_by_role("row", name=re.compile("Tom Reed"))).to_be_visible()
    priya_row = coach_page.get_by_role("row", name=re.compile("Priya Shah"))
    expect(priya_row).to_have_count(0)
    coach_page.get_by_label("Show").select_option("all")
    coach_page.get_by_role("button", name="Filter").click()
    expect(priya_row).to_have_count(1)
    coach_page.get_by_text("Show who has not responded yet").click()
    screenshot(coach_page, "08-dashboard")
    coach_page.get_by_role("button", name="Close cohort").click()
    expect(coach_page.get_by_text("The cohort is closed")).to_be_visible()
    coach_page.get_by_role("row", name=re.compile("Priya Shah")).get_by_role(
        "link", name="Review & release"
    ).click()
    box = coach_page.locator("textarea", has_text="father")
    box.fill("She covered for me the week [redacted].")
    box.locator("xpath=..").get_by_role("button", name="Save comment").click()
    expect(coach_page.get_by_text("Comment saved as it will appear")).to_be_visible()
    screenshot(coach_page, "09-moderation")
    coach_page.get_by_role("button", name="Release report to Priya Shah").click()
    expect(coach_page.get_by_text("Report released to Priya Shah")).to_be_visible()
    screenshot(coach_page, "10-released")

    # Priya reads her report and writes her development plan.
    priya.goto(latest_link(session, "priya@example.org", "l"))
    expect(priya.get_by_role("heading", name="Your report is ready")).to_be_visible()
    screenshot(priya, "11-leader-report-ready")
    with priya.expect_download() as download:
        priya.get_by_role("link", name="Download your report (PDF)").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")
    priya.get_by_role("link", name="Write your development plan").click()
    priya.get_by_label("What is your leadership for?").fill("Care that families can trust.")
    priya.get_by_label("What do I notice in myself under pressure?").fill("I go quiet.")
    priya.get_by_label("Where do I need courage?").fill("Saying no to the weekly target.")
    priya.get_by_role("button", name="Save my plan").click()
    expect(priya.get_by_text("Your development plan is saved")).to_be_visible()
    screenshot(priya, "12-development-plan")
    phone.close()
    desk.close()


def invitations(app, coach, instrument, *relationships, translations=()):
    """Links to a fresh cohort's questionnaire: one per (relationship, language) asked for."""
    from assessment.cohorts import add_leader, create_cohort
    from assessment.invitations import create_invitation, new_link
    from assessment.models import Coach

    with app.extensions["cl360.db"].transaction() as s:
        cohort = create_cohort(
            s, s.get(Coach, coach.id), "Browser", instrument, translations=translations
        )
        leader = add_leader(s, cohort, "Eva Marsh", "eva@example.org")
        return [
            new_link(
                s,
                create_invitation(s, leader, relationship, actor="t", language=language),
                LinkPurpose.SHOWN,
                actor="t",
            )
            for relationship, language in relationships
        ]


def test_rater_pages_pass_axe_in_both_languages(
    browser, live_server, coach, instrument, app, screenshot
):
    from assessment.core.instruments import load_instrument
    from assessment.models import Relationship

    en, es, self_es = invitations(
        app,
        coach,
        instrument,
        (Relationship.MANAGER, None),
        (Relationship.PEER, "es"),
        (Relationship.SELF, "es"),  # the self-assessment, with its prediction section
        translations=[load_instrument(SPANISH)],
    )
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    problems = {}
    for name, token in (("en", en), ("es", es), ("self-es", self_es)):
        page.goto(f"{live_server}/r/{token}")
        problems[name] = serious_violations(page)
        screenshot(page, f"rater-{name}")
    expect(page.get_by_role("heading", name="¿Cómo te verán los demás?")).to_be_visible()
    # The form with errors shown (incomplete submit) and the progress indicator in use.
    page.goto(f"{live_server}/r/{en}")
    page.locator("fieldset.item").first.locator("input[value='3']").check()
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.locator("#progress")).to_have_text(re.compile("^1 of"))
    problems["errors"] = serious_violations(page)
    screenshot(page, "rater-errors")
    answer_everything(page, "4")
    page.get_by_role("button", name="Submit my answers").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    problems["thanks"] = serious_violations(page)
    assert problems == {"en": [], "es": [], "self-es": [], "errors": [], "thanks": []}
    page.context.close()


def test_autosave_keeps_answers_without_pressing_save(browser, live_server, coach, instrument, app):
    from assessment.models import DraftResponse, Relationship

    database = app.extensions["cl360.db"]
    (token,) = invitations(app, coach, instrument, (Relationship.PEER, None))
    page = browser.new_page()
    page.goto(f"{live_server}/r/{token}")
    page.locator("fieldset.item").nth(1).locator("input[value='5']").check()
    expect(page.locator("#progress")).to_contain_text("Draft saved")
    with database.session() as s:
        assert s.scalar(select(DraftResponse.sealed))  # stored, sealed for this browser only
    page.evaluate("() => localStorage.clear()")  # what the server kept, not the browser's copy
    page.goto(f"{live_server}/r/{token}")  # as if the tab had been closed
    assert page.locator("fieldset.item").nth(1).locator("input[value='5']").is_checked()
    elsewhere = browser.new_context().new_page()  # another browser: the draft does not open
    elsewhere.goto(f"{live_server}/r/{token}")
    assert not elsewhere.locator("fieldset.item").nth(1).locator("input[value='5']").is_checked()
    expect(elsewhere.get_by_text("in another browser or on another device")).to_be_visible()
    elsewhere.context.close()
    page.close()
