"""The coach's pages: cohorts, leaders, invitation links, completion, close, reports."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from assessment import invitations, reporting
from assessment.cohorts import (
    FILTERS,
    CohortError,
    add_leader,
    close_cohort,
    cohort_instrument,
    cohort_languages,
    completion,
    create_cohort,
    filter_progress,
)
from assessment.forms import (
    CohortForm,
    EmptyForm,
    ImportForm,
    InvitationForm,
    LeaderForm,
    ScheduleForm,
)
from assessment.imports import RowProblem
from assessment.instruments import Instrument, discover_instruments, language_variants
from assessment.models import Cohort, Invitation, Leader, Relationship
from assessment.nominations import pending
from assessment.releases import coach_report_pdf, released_leaders
from assessment.reminders import outstanding, unsent
from assessment.web import current_coach, db_session, login_required, require, settings

blueprint = Blueprint("coach", __name__)


@blueprint.route("/")
def home() -> Response:
    return redirect(url_for("coach.cohorts" if current_coach() else "auth.login"))


def _instrument_choices() -> dict[str, list[Instrument]]:
    """Each questionnaire (id@version) with its language variants, newest version first."""
    instruments, _ = discover_instruments(settings().instruments_path)
    ordered = sorted(instruments, key=lambda i: (i.title, -i.version, i.language))
    return language_variants(ordered)


def _language_name(tag: str) -> str:
    try:
        return Locale.parse(tag.replace("-", "_")).get_display_name(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return tag


@blueprint.route("/cohorts", methods=["GET", "POST"])
@login_required
def cohorts() -> str | Response:
    coach = current_coach()
    available = _instrument_choices()
    form = CohortForm()
    form.instrument.choices = [
        SelectChoice(
            key,
            f"{variants[0].title} (version {variants[0].version}; "
            f"{', '.join(_language_name(v.language) for v in variants)})",
        )
        for key, variants in available.items()
    ]
    languages = sorted({v.language for variants in available.values() for v in variants})
    form.language.choices = [SelectChoice(tag, _language_name(tag)) for tag in languages]
    if form.validate_on_submit():
        variants = {v.language: v for v in available[form.instrument.data]}
        main = variants.get(form.language.data or "en") or (
            None if form.language.data else next(iter(variants.values()))
        )
        if main is None:
            form.language.errors.append(
                "This questionnaire is not available in that language; choose one of "
                + ", ".join(_language_name(tag) for tag in variants)
            )
        else:
            try:
                cohort = create_cohort(
                    db_session(),
                    coach,
                    form.name.data or "",
                    main,
                    translations=[v for v in variants.values() if v is not main],
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
def cohort(slug: str) -> str | Response | tuple[str, int]:
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
    return render_cohort(cohort, form=form, status=400 if form.errors else 200)


def render_cohort(
    cohort: Cohort,
    *,
    form: LeaderForm | None = None,
    imports: dict[str, ImportForm] | None = None,
    problems: dict[str, list[RowProblem]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The cohort dashboard: completion with filters, outstanding people, campaign actions."""
    session = db_session()
    show = request.args.get("show", "all")
    department = request.args.get("department") or None
    progress = completion(session, cohort)
    waiting = outstanding(session, cohort)
    return render_template(
        "coach/cohort.html",
        cohort=cohort,
        instrument=cohort_instrument(cohort),
        languages=cohort_languages(cohort),
        progress=filter_progress(progress, show if show in FILTERS else "all", department),
        total_leaders=len(progress),
        filters=FILTERS,
        show=show if show in FILTERS else "all",
        department=department,
        departments=sorted({p.leader.department for p in progress if p.leader.department}),
        outstanding=waiting,
        anyone_responded=any(p.self_done or p.others_submitted for p in progress),
        unsent=unsent(waiting),
        without_link=[p.leader for p in progress if p.leader.token_hash is None],
        nominations=pending(session, cohort),
        releases=released_leaders(session, cohort),
        mail_configured=settings().mail.configured,
        form=form or LeaderForm(formdata=None),
        imports=imports or {kind: ImportForm(prefix=kind) for kind in ("leaders", "raters")},
        problems=problems or {},
        schedule_form=ScheduleForm(
            formdata=None,
            deadline=cohort.deadline,
            reminder_days=", ".join(str(d) for d in cohort.reminder_days or []),
        ),
        action_form=EmptyForm(),
    ), status


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
    form.language.choices = [
        SelectChoice(tag, _language_name(tag)) for tag in cohort_languages(leader.cohort)
    ]
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
        mail_configured=settings().mail.configured,
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
                language=form.language.data
                if form.language.data in cohort_languages(leader.cohort)
                else None,
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
    pdf = coach_report_pdf(db_session(), leader)
    filename = reporting.report_filename(leader)
    download = request.args.get("inline") is None
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{filename}"'
        },
    )
