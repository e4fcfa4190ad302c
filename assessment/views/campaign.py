"""The coach running a campaign: imports, nominations, mail, reminders, moderation, release, exports.

Thin views: each parses the request, calls one domain operation and redirects (PRG); the
request's single commit happens in :mod:`assessment.web`. Mail failures roll the whole
action back, so nothing is half-done.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from assessment import audit, disclosures, moderation, nominations, releases, reminders
from assessment.cohort_jobs import (
    IMPORT,
    IMPORT_KINDS,
    IMPORTERS,
    REMIND,
    SEND_INVITATIONS,
    SEND_LEADER_LINKS,
)
from assessment.cohorts import CohortError, cohort_instrument, reopen_cohort, set_schedule
from assessment.core.scoring import Rules
from assessment.forms import (
    DecisionForm,
    EmptyForm,
    ImportForm,
    RedactionForm,
    ScheduleForm,
    observer_choices,
)
from assessment.imports import ImportProblems
from assessment.mail import MailError
from assessment.models import Cohort, MailMessage, Nomination
from assessment.views.coach import (
    NewLink,
    mine,
    my_cohort,
    my_leader,
    not_yet,
    render_cohort,
    render_leader,
)
from assessment.web import (
    db_session,
    login_required,
    postman,
    require,
    rollback,
    send_artefact,
    settings,
    signed_in_coach,
    start_job,
    writes,
)

blueprint = Blueprint("campaign", __name__)


def _actor() -> str:
    return signed_in_coach().email


def _back(cohort: Cohort) -> Response:
    return redirect(url_for("coach.cohort", slug=cohort.slug))


# -- Imports ----------------------------------------------------------------------------------

LARGE_IMPORT_LINES = 300
"""A file of more lines than this is imported by a job: the request only stores it."""


@blueprint.route("/cohorts/<slug>/import/<kind>", methods=["POST"])
@login_required
def import_csv(slug: str, kind: str) -> Response | tuple[str, int]:
    cohort = my_cohort(slug)
    require(kind in IMPORTERS)
    forms = {k: ImportForm(prefix=k, formdata=None) for k in IMPORTERS}
    form = forms[kind] = ImportForm(prefix=kind)
    if not form.validate_on_submit():
        return render_cohort(cohort, imports=forms, status=400)
    data = form.file.data.read()
    if data.count(b"\n") > LARGE_IMPORT_LINES:
        record = start_job(IMPORT, upload=data, cohort_id=cohort.id, kind=IMPORT_KINDS.index(kind))
        return redirect(url_for("jobs.page", job_id=record.id))
    try:
        created = IMPORTERS[kind](db_session(), cohort, data, actor=_actor())
    except ImportProblems as error:
        rollback()
        return render_cohort(cohort, imports=forms, problems={kind: error.problems}, status=422)
    if kind == "leaders":
        flash(f"{len(created)} leaders imported.", "success")
    else:
        flash(
            f"{len(created)} raters imported. Their invitations are ready: press "
            "“Send invitations” to mail them.",
            "success",
        )
    return _back(cohort)


# -- Schedule, invitations and reminders ---------------------------------------------------------


@blueprint.route("/cohorts/<slug>/schedule", methods=["POST"])
@login_required
def schedule(slug: str) -> Response:
    cohort = my_cohort(slug)
    form = ScheduleForm()
    if form.validate_on_submit():
        try:
            set_schedule(db_session(), cohort, form.deadline.data, form.days(), _actor())
        except (ValueError, CohortError) as error:
            flash(f"The schedule was not changed: {error}.", "error")
        else:
            flash("Deadline and reminder days saved.", "success")
    else:
        flash("The schedule was not changed: give the deadline as a date.", "error")
    return _back(cohort)


def _mail_job(slug: str, name: str, day: int | None = None) -> Response:
    """Start one of the cohort's mail jobs and show its progress; mail only an open cohort."""
    cohort = my_cohort(slug)
    if not EmptyForm().validate_on_submit():
        return _back(cohort)
    if not cohort.is_open:
        flash("This cohort is closed; reopen it before mailing anyone.", "error")
        return _back(cohort)
    record = (
        start_job(name, cohort_id=cohort.id)
        if day is None
        else start_job(name, cohort_id=cohort.id, day=day)
    )
    audit.record(db_session(), _actor(), f"mail.{name}", f"cohort:{cohort.slug}", job=record.id)
    return redirect(url_for("jobs.page", job_id=record.id))


@blueprint.route("/cohorts/<slug>/invitations/send", methods=["POST"])
@login_required
def send_invitations(slug: str) -> Response:
    return _mail_job(slug, SEND_INVITATIONS)


@blueprint.route("/cohorts/<slug>/leader-links/send", methods=["POST"])
@login_required
def send_leader_links(slug: str) -> Response:
    """Mail a personal link to every leader who has none yet (for nominations and progress)."""
    return _mail_job(slug, SEND_LEADER_LINKS)


@blueprint.route("/cohorts/<slug>/remind", methods=["POST"])
@login_required
def remind(slug: str) -> Response:
    """Remind everyone outstanding, at most once a day each (the day is the job's)."""
    return _mail_job(slug, REMIND, day=int(date.today().strftime("%Y%m%d")))


@blueprint.route("/cohorts/<slug>/outbox")
@login_required
def outbox(slug: str) -> str:
    cohort = my_cohort(slug)
    messages = db_session().scalars(
        select(MailMessage)
        .where(MailMessage.cohort_id == cohort.id)
        .order_by(MailMessage.created_at.desc(), MailMessage.id.desc())
        .limit(500)
    )
    return render_template(
        "coach/outbox.html",
        cohort=cohort,
        messages=list(messages),
        mail_configured=settings().mail.configured,
    )


@blueprint.route("/cohorts/<slug>/reopen", methods=["POST"])
@login_required
def reopen(slug: str) -> Response:
    cohort = my_cohort(slug)
    if EmptyForm().validate_on_submit():
        try:
            reopen_cohort(db_session(), cohort, _actor())
        except CohortError as error:
            flash(str(error), "error")
        else:
            flash(
                "The cohort is open again. Released reports stay as they are; a leader's report "
                "can be released again only when enough new responses arrive in each group.",
                "success",
            )
    return _back(cohort)


# -- Nominations -------------------------------------------------------------------------------


def _decision_form(nomination: Nomination, formdata: bool = False) -> DecisionForm:
    form = DecisionForm(
        prefix=f"n{nomination.id}",
        formdata=None if not formdata else request.form,
        name=nomination.rater_name,
        email=nomination.rater_email,
        relationship=nomination.relationship_.value,
    )
    form.relationship.choices = observer_choices(cohort_instrument(nomination.leader.cohort))
    return form


@blueprint.route("/cohorts/<slug>/nominations")
@login_required
def nominations_page(slug: str) -> str:
    cohort = my_cohort(slug)
    waiting = nominations.pending(db_session(), cohort)
    return render_template(
        "coach/nominations.html",
        cohort=cohort,
        items=[(n, _decision_form(n)) for n in waiting],
    )


@blueprint.route("/nominations/<int:nomination_id>", methods=["POST"])
@login_required
def decide(nomination_id: int) -> Response | str:
    nomination = mine(db_session().get(Nomination, nomination_id), lambda n: n.leader.cohort)
    cohort = nomination.leader.cohort
    form = _decision_form(nomination, formdata=True)
    action = request.form.get("action")
    if not form.validate_on_submit() and action != "reject":
        flash(f"Not approved: {_first_error(form)}", "error")
        return redirect(url_for("campaign.nominations_page", slug=cohort.slug))
    try:
        if action == "reject":
            if not EmptyForm(prefix=f"n{nomination.id}").validate_on_submit():
                return redirect(url_for("campaign.nominations_page", slug=cohort.slug))
            nominations.reject(db_session(), nomination, actor=_actor())
            flash(f"Nomination of {nomination.rater_name} declined.", "success")
        else:
            nominations.approve(
                db_session(),
                nomination,
                postman(),
                actor=_actor(),
                name=form.name.data,
                email=form.email.data,
                relationship=form.relationship.data,
            )
            flash(f"{nomination.rater_name} approved and invited.", "success")
    except (CohortError, MailError) as error:
        rollback()
        flash(f"Nothing was changed: {error}", "error")
    return redirect(url_for("campaign.nominations_page", slug=cohort.slug))


def _first_error(form: DecisionForm) -> str:
    for name, errors in form.errors.items():
        if errors:
            return f"{name.split('-')[-1]}: {errors[0]}"
    return "the form has expired; reload the page"


# -- Leader links, moderation and release --------------------------------------------------------


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>/link", methods=["POST"])
@login_required
def leader_link(slug: str, leader_id: int) -> Response | tuple[str, int]:
    leader = my_leader(slug, leader_id)
    if EmptyForm().validate_on_submit():
        try:
            link = reminders.send_leader_link(db_session(), leader, postman(), actor=_actor())
        except MailError as error:
            rollback()
            flash(f"No link was sent: {error}", "error")
        else:
            flash(f"The personal page link was emailed to {leader.email}.", "success")
            return render_leader(
                leader, new_links=[NewLink(f"{leader.name} (personal page)", link)]
            )
    return redirect(url_for("coach.leader", slug=slug, leader_id=leader.id))


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>/comments", methods=["GET", "POST"])
@login_required
@writes
def moderate(slug: str, leader_id: int) -> str | Response | tuple[str, int]:
    leader = my_leader(slug, leader_id)
    if leader.cohort.is_open:
        return not_yet(disclosures.CohortOpen(leader.cohort))
    instrument = cohort_instrument(leader.cohort)
    form = RedactionForm()
    secret = settings().secret_key
    status = 200
    if form.validate_on_submit():
        try:
            moderation.redact(
                db_session(),
                leader,
                form.handle.data or "",
                form.text.data or "",
                actor=_actor(),
                secret=secret,
            )
        except CohortError as error:
            flash(f"Not saved: {error}.", "error")
            status = 422
        else:
            flash("Comment saved as it will appear in the report.", "success")
            return redirect(url_for("campaign.moderate", slug=slug, leader_id=leader.id))
    shown = disclosures.comments_for_moderation(db_session(), leader, actor=_actor(), secret=secret)
    return render_template(
        "coach/moderate.html",
        leader=leader,
        cohort=leader.cohort,
        comments=shown.comments,
        comments_allowed=shown.allowed,
        comments_minimum=Rules.from_instrument(instrument).comments_minimum,
        state=releases.release_state(db_session(), leader),
        action_form=EmptyForm(),
        redacted=moderation.REDACTED,
    ), status


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>/release", methods=["POST"])
@login_required
def release(slug: str, leader_id: int) -> Response:
    leader = my_leader(slug, leader_id)
    if EmptyForm().validate_on_submit():
        try:
            releases.release_report(db_session(), leader, postman(), actor=_actor())
        except (CohortError, MailError) as error:
            rollback()
            flash(f"Not released: {error}", "error")
        else:
            flash(f"Report released to {leader.name}, who has been told by email.", "success")
    return redirect(url_for("campaign.moderate", slug=slug, leader_id=leader.id))


# -- Exports ------------------------------------------------------------------------------------


@blueprint.route("/cohorts/<slug>/scores.<fmt>")
@login_required
@writes
def export_scores(slug: str, fmt: str) -> Response | tuple[str, int]:
    """The cohort's aggregated scores: the rows of ``cl360 scores export``, as CSV or XLSX."""
    cohort = my_cohort(slug)
    require(fmt in ("csv", "xlsx"))
    try:
        artefact = disclosures.scores(db_session(), cohort, fmt, actor=_actor())
    except disclosures.CohortOpen as error:
        return not_yet(error)
    return send_artefact(artefact)
