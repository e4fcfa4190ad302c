"""The leader's personal page behind their magic link: nominations, progress, report, plan.

The page shows the leader how many people in each group have responded against the minimum,
never who; their released report only (the PDF stored at release); and their development plan.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from werkzeug.wrappers import Response

from assessment import nominations, releases
from assessment.cohorts import CohortError, cohort_instrument
from assessment.extensions import limiter
from assessment.forms import EmptyForm, NominationForm, PlanForm, observer_choices
from assessment.invitations import find_link, open_self_assessment, self_invitation
from assessment.models import Leader, NominationStatus
from assessment.ratelimits import LEADER_LINK, link_key, unknown_link_allowed
from assessment.reporting import report_filename
from assessment.web import db_session, rollback

blueprint = Blueprint("leader", __name__, url_prefix="/l")
# Links are secrets: slow down anyone guessing, never the leaders whose links work.
limiter.limit(LEADER_LINK, key_func=link_key)(blueprint)


def _leader(token: str) -> Leader:
    link = find_link(db_session(), token)
    if (link is None or not link.live) and not unknown_link_allowed():
        abort(429, "Too many links that do not work have come from here. Please wait a minute.")
    if link is not None and not link.live:
        abort(410, "Your coach has stopped this link. Ask them for a new one.")
    leader = link.leader if link is not None else None
    if leader is None:
        abort(
            404,
            "This link is not valid. Check you copied all of it from the email; if it still "
            "does not work, ask your coach for a new one.",
        )
    return leader


def _nomination_form(leader: Leader) -> NominationForm:
    form = NominationForm()
    form.relationship.choices = observer_choices(cohort_instrument(leader.cohort))
    return form


@blueprint.route("/<token>", methods=["GET", "POST"])
def home(token: str) -> str | Response | tuple[str, int]:
    leader = _leader(token)
    form = _nomination_form(leader)
    if form.validate_on_submit():
        try:
            nominations.nominate(
                db_session(),
                leader,
                form.name.data or "",
                form.email.data or "",
                form.relationship.data or "",
            )
        except CohortError as error:
            form.email.errors.append(str(error))
        else:
            flash(
                f"{form.name.data} nominated. Your coach will check and send the invitation.",
                "success",
            )
            return redirect(url_for("leader.home", token=token))
    invitation = self_invitation(leader)
    release = releases.latest_release(db_session(), leader)
    return render_template(
        "leader/home.html",
        leader=leader,
        cohort=leader.cohort,
        token=token,
        form=form,
        action_form=EmptyForm(),
        nominations=nominations.leader_nominations(db_session(), leader),
        statuses={
            NominationStatus.PENDING: "Waiting for your coach",
            NominationStatus.APPROVED: "Invited",
            NominationStatus.REJECTED: "Not invited",
        },
        progress=nominations.leader_progress(db_session(), leader),
        self_status=invitation.status.value if invitation else None,
        release=release,
    ), (400 if form.errors else 200)


@blueprint.route("/<token>/self-assessment", methods=["POST"])
def self_assessment(token: str) -> Response:
    leader = _leader(token)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("leader.home", token=token))
    invitation = self_invitation(leader)
    if not leader.cohort.is_open or (invitation and invitation.status.value == "submitted"):
        flash("Your self-assessment can no longer be changed.", "error")
        return redirect(url_for("leader.home", token=token))
    return redirect(url_for("rate.respond", token=open_self_assessment(db_session(), leader)))


@blueprint.route("/<token>/nominations/<int:nomination_id>/withdraw", methods=["POST"])
def withdraw(token: str, nomination_id: int) -> Response:
    leader = _leader(token)
    nomination = next(
        (n for n in nominations.leader_nominations(db_session(), leader) if n.id == nomination_id),
        None,
    )
    if nomination is not None and EmptyForm().validate_on_submit():
        try:
            nominations.withdraw(db_session(), nomination)
        except CohortError as error:
            flash(str(error), "error")
    return redirect(url_for("leader.home", token=token))


@blueprint.route("/<token>/report.pdf")
def report(token: str) -> Response:
    leader = _leader(token)
    release = releases.latest_release(db_session(), leader)
    if release is None:
        abort(404, "Your report has not been released yet.")
    return send_file(
        io.BytesIO(release.pdf),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=report_filename(leader),
    )


@blueprint.route("/<token>/plan", methods=["GET", "POST"])
def plan(token: str) -> str | Response | tuple[str, int]:
    leader = _leader(token)
    if releases.latest_release(db_session(), leader) is None:
        flash("Your development plan opens when your report has been released.", "error")
        return redirect(url_for("leader.home", token=token))
    saved = releases.development_plan(db_session(), leader)
    form = PlanForm(obj=saved)
    if form.validate_on_submit():
        try:
            releases.save_plan(db_session(), leader, form.data)
        except CohortError as error:
            rollback()
            flash(str(error), "error")
        else:
            flash("Your development plan is saved.", "success")
            return redirect(url_for("leader.plan", token=token))
    return render_template(
        "leader/plan.html", leader=leader, cohort=leader.cohort, token=token, form=form, saved=saved
    ), (400 if form.errors else 200)
