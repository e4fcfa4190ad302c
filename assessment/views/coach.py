"""The coach's pages: cohorts, leaders, invitation links, completion, close, reports."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from assessment import invitations, reporting
from assessment.cohorts import (
    CohortError,
    add_leader,
    close_cohort,
    cohort_instrument,
    completion,
    create_cohort,
)
from assessment.forms import CohortForm, EmptyForm, InvitationForm, LeaderForm
from assessment.instruments import discover_instruments
from assessment.models import Cohort, Invitation, Leader, Relationship
from assessment.web import current_coach, db_session, login_required, require, settings

blueprint = Blueprint("coach", __name__)


@blueprint.route("/")
def home() -> Response:
    return redirect(url_for("coach.cohorts" if current_coach() else "auth.login"))


def _instrument_choices() -> dict[str, object]:
    instruments, _ = discover_instruments(settings().instruments_path)
    return {i.key: i for i in sorted(instruments, key=lambda i: (i.title, -i.version))}


@blueprint.route("/cohorts", methods=["GET", "POST"])
@login_required
def cohorts() -> str | Response:
    coach = current_coach()
    available = _instrument_choices()
    form = CohortForm()
    form.instrument.choices = [
        SelectChoice(key, f"{i.title} (version {i.version})") for key, i in available.items()
    ]
    if form.validate_on_submit():
        try:
            cohort = create_cohort(
                db_session(), coach, form.name.data or "", available[form.instrument.data]
            )
        except CohortError as error:
            form.name.errors.append(str(error))
        else:
            flash(f"Cohort '{cohort.name}' created. Add its leaders next.", "success")
            return redirect(url_for("coach.cohort", slug=cohort.slug))
    mine = db_session().scalars(
        select(Cohort).where(Cohort.coach_id == coach.id).order_by(Cohort.created_at.desc())
    )
    return render_template("coach/cohorts.html", cohorts=list(mine), form=form), (
        400 if form.errors else 200
    )


def _my_cohort(slug: str) -> Cohort:
    cohort = db_session().scalar(select(Cohort).where(Cohort.slug == slug))
    require(cohort is not None and cohort.coach_id == current_coach().id)
    return cohort


def _my_leader(slug: str, leader_id: int) -> Leader:
    cohort = _my_cohort(slug)
    leader = db_session().get(Leader, leader_id)
    require(leader is not None and leader.cohort_id == cohort.id)
    return leader


@blueprint.route("/cohorts/<slug>", methods=["GET", "POST"])
@login_required
def cohort(slug: str) -> str | Response:
    cohort = _my_cohort(slug)
    form = LeaderForm()
    if form.validate_on_submit():
        if not cohort.is_open:
            form.name.errors.append("This cohort is closed; leaders can no longer be added.")
        else:
            try:
                leader = add_leader(
                    db_session(),
                    cohort,
                    form.name.data or "",
                    form.email.data or "",
                    form.department.data,
                )
            except CohortError as error:
                form.email.errors.append(str(error))
            else:
                flash(f"{leader.name} added. Create their invitation links next.", "success")
                return redirect(url_for("coach.cohort", slug=cohort.slug))
    return render_template(
        "coach/cohort.html",
        cohort=cohort,
        instrument=cohort_instrument(cohort),
        progress=completion(db_session(), cohort),
        form=form,
        action_form=EmptyForm(),
    ), (400 if form.errors else 200)


@blueprint.route("/cohorts/<slug>/close", methods=["POST"])
@login_required
def close(slug: str) -> Response:
    cohort = _my_cohort(slug)
    if EmptyForm().validate_on_submit():
        try:
            close_cohort(db_session(), cohort, current_coach().email)
        except CohortError as error:
            flash(str(error), "error")
        else:
            flash(
                "The cohort is closed. Links no longer accept answers; reports are final.",
                "success",
            )
    return redirect(url_for("coach.cohort", slug=slug))


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>", methods=["GET", "POST"])
@login_required
def leader(slug: str, leader_id: int) -> str | Response:
    leader = _my_leader(slug, leader_id)
    form = InvitationForm()
    if form.validate_on_submit():
        links = _create_links(leader, form)
        if links:
            flash_links(links)
            return redirect(url_for("coach.leader", slug=slug, leader_id=leader.id))
    return render_template(
        "coach/leader.html",
        leader=leader,
        cohort=leader.cohort,
        form=form,
        action_form=EmptyForm(),
    ), (400 if form.errors else 200)


def _create_links(leader: Leader, form: InvitationForm) -> list[tuple[str, str]]:
    relationship = Relationship(form.relationship.data)
    if not leader.cohort.is_open:
        form.relationship.errors.append("This cohort is closed; no new links can be created.")
        return []
    count = form.count.data or 1
    if relationship == Relationship.SELF:
        count = 1
    if count > 1 and (form.rater_name.data or form.rater_email.data):
        form.count.errors.append("A named rater gets one link; leave the name empty for several.")
        return []
    links = []
    try:
        for _ in range(count):
            _, token = invitations.create_invitation(
                db_session(),
                leader,
                relationship,
                actor=current_coach().email,
                rater_name=form.rater_name.data,
                rater_email=form.rater_email.data,
            )
            links.append((form.rater_name.data or relationship.value, _link(token)))
    except CohortError as error:
        form.relationship.errors.append(str(error))
        return []
    return links


def _link(token: str) -> str:
    return settings().base_url + url_for("rate.respond", token=token)


def flash_links(links: list[tuple[str, str]]) -> None:
    # Tokens are never stored, so the new links are shown once, to the coach who made them.
    for who, link in links:
        flash(f"{who}|{link}", "link")


@blueprint.route("/invitations/<int:invitation_id>/reissue", methods=["POST"])
@login_required
def reissue(invitation_id: int) -> Response:
    invitation = db_session().get(Invitation, invitation_id)
    require(invitation is not None and invitation.leader.cohort.coach_id == current_coach().id)
    leader = invitation.leader
    if EmptyForm().validate_on_submit():
        try:
            token = invitations.reissue_token(db_session(), invitation, actor=current_coach().email)
        except CohortError as error:
            flash(str(error), "error")
        else:
            flash_links([(invitation.rater_name or invitation.relationship_.value, _link(token))])
    return redirect(url_for("coach.leader", slug=leader.cohort.slug, leader_id=leader.id))


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>/report.pdf")
@login_required
def report(slug: str, leader_id: int) -> Response:
    leader = _my_leader(slug, leader_id)
    pdf = reporting.leader_report_pdf(db_session(), leader)
    filename = reporting.report_filename(leader)
    download = request.args.get("inline") is None
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{filename}"'
        },
    )
