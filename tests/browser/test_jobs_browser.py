"""The job page in headless Chromium: with JavaScript it follows the job live through its JSON
view, and shows what comes next once the job has ended."""

from __future__ import annotations

import zipfile

from playwright.sync_api import expect

from tests.builders import coach_signed_in, make_cohort


def test_release_all_updates_the_progress_page_in_place(
    browser, live_server, database, coach, instrument, screenshot
):
    cohort = make_cohort(database, coach, instrument, ("Ada Lovelace", "Grace Hopper"))
    page = coach_signed_in(browser, live_server, {"width": 1280, "height": 900})
    page.goto(f"{live_server}/cohorts/{cohort.slug}")
    polls = []
    page.on("request", lambda request: polls.append(request.url) if ".json" in request.url else 0)
    page.get_by_role("button", name="Release all reports").click()
    expect(page.locator("h1")).to_have_text("Releasing every report")

    expect(page.locator("#job-sentence")).to_have_text("2 of 2 reports released.", timeout=120_000)
    expect(page.get_by_role("link", name=f"Back to {cohort.name}")).to_be_visible()
    assert polls and all(url.endswith(".json") for url in polls)  # followed, not refreshed
    expect(page.locator("#job-count")).to_have_text("2 of 2 done")
    expect(page.locator("#job-refresh")).to_have_count(0)
    screenshot(page, "done")


def test_all_reports_end_with_a_zip_to_download(
    browser, live_server, database, coach, instrument, screenshot
):
    cohort = make_cohort(database, coach, instrument, ("Ada Lovelace", "Grace Hopper"))
    page = coach_signed_in(browser, live_server, {"width": 390, "height": 844})
    page.goto(f"{live_server}/cohorts/{cohort.slug}")
    page.get_by_role("button", name="All reports (ZIP)").click()
    expect(page.locator("h1")).to_have_text("Preparing every report")
    download_link = page.get_by_role("link", name="Download all reports (ZIP)")
    expect(download_link).to_be_visible(timeout=120_000)
    expect(page.locator("#job-sentence")).to_have_text("3 of 3 reports ready to download.")
    screenshot(page, "zip-ready")
    with page.expect_download() as downloading:
        download_link.click()
    download = downloading.value
    assert download.suggested_filename == f"{cohort.slug}-reports.zip"
    with zipfile.ZipFile(download.path()) as archive:
        assert len(archive.namelist()) == 3
