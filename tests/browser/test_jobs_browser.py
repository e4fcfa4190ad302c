"""The job page in headless Chromium: with JavaScript it follows the job live, without reloading."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.builders import COACH_EMAIL, COACH_PASSWORD, make_cohort


def test_release_all_updates_the_progress_page_in_place(
    browser, live_server, database, coach, instrument, screenshot
):
    cohort = make_cohort(database, coach, instrument, ("Ada Lovelace", "Grace Hopper"))
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(COACH_EMAIL)
    page.get_by_label("Password").fill(COACH_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/cohorts/{cohort.slug}")
    page.get_by_role("button", name="Release all reports").click()
    expect(page.locator("h1")).to_have_text("Releasing every report")
    page.evaluate("window.notReloaded = true")

    expect(page.locator("#job-sentence")).to_have_text("2 of 2 reports released.", timeout=120_000)
    assert page.evaluate("window.notReloaded === true")  # polled, not refreshed
    expect(page.locator("#job-count")).to_have_text("2 of 2 done")
    expect(page.locator("#job-refresh")).to_be_hidden()
    expect(page.get_by_role("link", name=f"Back to {cohort.name}")).to_be_visible()
    screenshot(page, "done")
