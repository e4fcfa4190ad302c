"""The coach's jobs: starting one (release all reports) and its progress page.

Starting a job only records it (:func:`assessment.jobs.submit`); it is handed to the runner
once the request's transaction has committed, like the request's mail. The progress page
works without JavaScript (it refreshes itself while the job runs, or the coach presses
Refresh) and, with it, follows the job live through the small JSON view beside it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for
from werkzeug.wrappers import Response

from assessment import jobs
from assessment.cohort_jobs import RELEASE_ALL
from assessment.forms import EmptyForm
from assessment.models import Cohort, Job
from assessment.views.coach import my_cohort
from assessment.web import after_commit, db_session, login_required, require, signed_in_coach

blueprint = Blueprint("jobs", __name__)

PAGES = {RELEASE_ALL: ("Releasing every report", "Not released")}
"""Per job name: the progress page's title and the heading of the items that failed."""


def start(name: str, **ids: int) -> Job:
    """Record a job for the signed-in coach and have it run once this request commits."""
    coach = signed_in_coach()
    record = jobs.submit(db_session(), name, requested_by=coach.email, coach_id=coach.id, **ids)
    runner: jobs.Runner = current_app.extensions["cl360.jobs"]
    job_id = record.id
    after_commit(lambda: runner.enqueue(job_id))
    return record


@blueprint.route("/cohorts/<slug>/release-all", methods=["POST"])
@login_required
def release_all(slug: str) -> Response:
    cohort = my_cohort(slug)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("coach.cohort", slug=slug))
    if cohort.is_open:
        flash("Close the cohort before releasing reports, so the figures are final.", "error")
        return redirect(url_for("coach.cohort", slug=slug))
    record = start(RELEASE_ALL, cohort_id=cohort.id)
    return redirect(url_for("jobs.page", job_id=record.id))


def my_job(job_id: int) -> Job:
    """The signed-in coach's job with this id, or 404 (another coach's job included)."""
    record = db_session().get(Job, job_id)
    require(record is not None and record.coach_id == signed_in_coach().id)
    assert record is not None
    return record


@blueprint.route("/jobs/<int:job_id>")
@login_required
def page(job_id: int) -> str:
    record = my_job(job_id)
    title, failed_heading = PAGES.get(record.name, (record.name, "Could not be done"))
    cohort_id = record.params.get("cohort_id")
    cohort = db_session().get(Cohort, cohort_id) if cohort_id is not None else None
    return render_template(
        "jobs/job.html",
        job=jobs.progress(record),
        title=title,
        failed_heading=failed_heading,
        cohort=cohort,
    )


@blueprint.route("/jobs/<int:job_id>.json")
@login_required
def status(job_id: int) -> Response:
    return jsonify(jobs.progress(my_job(job_id)))
