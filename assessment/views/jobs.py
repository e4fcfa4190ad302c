"""The coach's jobs: starting the cohort-wide ones, their progress page, and what they made.

Starting a job only records it (:func:`assessment.jobs.submit`); it is handed to the runner
once the request's transaction has committed, like the request's mail. The progress page
works without JavaScript (it refreshes itself while the job runs, or the coach presses
Refresh) and, with it, follows the job live through the small JSON view beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from assessment import disclosures, jobs
from assessment.cohort_jobs import (
    BUILD_REPORTS,
    FIT_PROFILES,
    IMPORT,
    RELEASE_ALL,
    REMIND,
    SEND_INVITATIONS,
    SEND_LEADER_LINKS,
)
from assessment.forms import EmptyForm
from assessment.models import Cohort, Job, JobState
from assessment.views.coach import my_cohort, not_yet
from assessment.web import (
    db_session,
    login_required,
    require,
    settings,
    signed_in_coach,
    start_job,
)

blueprint = Blueprint("jobs", __name__)


@dataclass(frozen=True)
class Page:
    """How a kind of job is shown: its title, and the heading over the items that failed."""

    title: str
    failed: str


PAGES = {
    RELEASE_ALL: Page("Releasing every report", "Not released"),
    BUILD_REPORTS: Page("Preparing every report", "Not prepared"),
    SEND_INVITATIONS: Page("Sending invitations", "Not sent"),
    SEND_LEADER_LINKS: Page("Sending leaders their personal links", "Not sent"),
    REMIND: Page("Reminding everyone who has not answered", "Not reminded"),
    IMPORT: Page("Importing a file", "Problems in the file (nothing was imported)"),
    FIT_PROFILES: Page("Fitting leader profiles", "Not fitted"),
}
MAIL_JOBS = {SEND_INVITATIONS, SEND_LEADER_LINKS, REMIND}


def _closed_cohort_job(slug: str, name: str) -> Response:
    cohort = my_cohort(slug)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("coach.cohort", slug=slug))
    if cohort.is_open:
        flash("Close the cohort first, so the figures in the reports are final.", "error")
        return redirect(url_for("coach.cohort", slug=slug))
    record = start_job(name, cohort_id=cohort.id)
    return redirect(url_for("jobs.page", job_id=record.id))


@blueprint.route("/cohorts/<slug>/release-all", methods=["POST"])
@login_required
def release_all(slug: str) -> Response:
    return _closed_cohort_job(slug, RELEASE_ALL)


@blueprint.route("/cohorts/<slug>/build-reports", methods=["POST"])
@login_required
def build_reports(slug: str) -> Response:
    """Prepare every report of the cohort, to download together as one ZIP file."""
    return _closed_cohort_job(slug, BUILD_REPORTS)


def my_job(job_id: int) -> Job:
    """The signed-in coach's job with this id, or 404 (another coach's job included)."""
    record = db_session().get(Job, job_id)
    require(record is not None and record.coach_id == signed_in_coach().id)
    assert record is not None
    return record


def _cohort_of(record: Job) -> Cohort | None:
    cohort_id = record.params.get("cohort_id")
    return db_session().get(Cohort, cohort_id) if cohort_id is not None else None


@blueprint.route("/jobs/<int:job_id>")
@login_required
def page(job_id: int) -> str:
    record = my_job(job_id)
    cohort = _cohort_of(record)
    finished = record.state == JobState.DONE
    return render_template(
        "jobs/job.html",
        job=jobs.progress(record),
        page=PAGES.get(record.name, Page(record.name, "Could not be done")),
        cohort=cohort,
        download=finished and record.name == BUILD_REPORTS and bool(record.outputs),
        outbox=finished and record.name in MAIL_JOBS and not settings().mail.configured,
    )


@blueprint.route("/jobs/<int:job_id>.json")
@login_required
def status(job_id: int) -> Response:
    return jsonify(jobs.progress(my_job(job_id)))


@blueprint.route("/jobs/<int:job_id>/reports.zip")
@login_required
def reports_zip(job_id: int) -> Response | tuple[str, int]:
    """Every report the job prepared, as they were disclosed, in one file."""
    record = my_job(job_id)
    cohort = _cohort_of(record)
    require(record.name == BUILD_REPORTS and record.state == JobState.DONE and cohort is not None)
    assert cohort is not None
    try:
        archive = disclosures.bundle(
            db_session(),
            cohort,
            [int(artefact_id) for artefact_id in record.outputs.values()],
            actor=signed_in_coach().email,
        )
    except disclosures.CohortOpen as error:
        return not_yet(error)
    return send_file(
        archive,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{cohort.slug}-reports.zip",
    )
