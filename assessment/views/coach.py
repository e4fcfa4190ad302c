"""The coach's pages: cohorts, leaders, invitation links, completion, close, reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

from babel import Locale, UnknownLocaleError
from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from assessment import disclosures, invitations
from assessment.cohort_jobs import FIT_PROFILES
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
from assessment.core.instruments import Instrument, discover_instruments, language_variants
from assessment.core.scoring import Rules
from assessment.forms import (
    CohortForm,
    EmptyForm,
    ImportForm,
    InvitationForm,
    LeaderForm,
    ScheduleForm,
)
from assessment.imports import RowProblem
from assessment.models import AccessLink, Cohort, Invitation, Leader, LinkPurpose, Relationship
from assessment.nominations import pending
from assessment.releases import released_leaders
from assessment.reminders import leaders_without_link, outstanding, unsent
from assessment.results import stored_profile_model
from assessment.web import (
    after_commit,
    current_coach,
    database,
    db_session,
    login_required,
    postman,
    require,
    send_artefact,
    settings,
    signed_in_coach,
    start_job,
    writes,
)

blueprint = Blueprint("coach", __name__)


@blueprint.route("/")
def home() -> Response:
    return redirect(url_for("coach.cohorts" if current_coach() else "auth.login"))


@blueprint.route("/healthz")
def healthz() -> Response:
    """Liveness for a load balancer: the process answers. Touches nothing, not the database."""
    return Response("ok\n", mimetype="text/plain")


def _instrument_choices() -> dict[str, list[Instrument]]:
    """Each questionnaire (id@version) with its language variants, newest version first."""
    instruments, _ = discover_instruments(settings().instruments_path)
    ordered = sorted(instruments, key=lambda i: (i.title, -i.version, i.language))
    return language_variants(ordered)


def _language_name(tag: str) -> str:
    try:
        return Locale.parse(tag.replace("-", "_")).get_display_name(tag.replace("-", "_")) or tag
    except (ValueError, UnknownLocaleError):
        return tag


@blueprint.route("/cohorts", methods=["GET", "POST"])
@login_required
def cohorts() -> str | Response | tuple[str, int]:
    coach = signed_in_coach()
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


def my_cohort(slug: str) -> Cohort:
    """The signed-in coach's cohort with this slug, or 404 (slugs are unique per coach)."""
    cohort = db_session().scalar(
        select(Cohort).where(Cohort.slug == slug, Cohort.coach_id == signed_in_coach().id)
    )
    return mine(cohort, lambda found: found)


T = TypeVar("T")


def mine(thing: T | None, cohort_of: Callable[[T], Cohort | None]) -> T:
    """``thing`` (asked for by id; None when there is no such thing) if it belongs to a cohort
    of the signed-in coach, otherwise 404: another coach's ids answer as if they did not exist."""
    cohort = None if thing is None else cohort_of(thing)
    require(cohort is not None and cohort.coach_id == signed_in_coach().id)
    return cast(T, thing)


def my_leader(slug: str, leader_id: int) -> Leader:
    cohort = my_cohort(slug)
    return mine(
        db_session().get(Leader, leader_id),
        lambda leader: cohort if leader.cohort_id == cohort.id else None,
    )


@blueprint.route("/cohorts/<slug>", methods=["GET", "POST"])
@login_required
def cohort(slug: str) -> str | Response | tuple[str, int]:
    cohort = my_cohort(slug)
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
        without_link=leaders_without_link(session, cohort),
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
    cohort = my_cohort(slug)
    if EmptyForm().validate_on_submit():
        try:
            close_cohort(db_session(), cohort, signed_in_coach().email)
        except CohortError as error:
            flash(str(error), "error")
        else:
            after_commit(database().compact)
            if stored_profile_model(db_session(), cohort) is None:
                # The first closed cohort of its questionnaire with enough leaders: its
                # reports' profiles are fitted now, off the request (docs/jobs.md).
                start_job(FIT_PROFILES, cohort_id=cohort.id)
            flash(
                "The cohort is closed. Links no longer accept answers; reports are final.",
                "success",
            )
    return redirect(url_for("coach.cohort", slug=slug))


@dataclass(frozen=True)
class NewLink:
    """A link made in this request, shown to the coach this once (only its hash is kept)."""

    who: str
    url: str


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>", methods=["GET", "POST"])
@login_required
def leader(slug: str, leader_id: int) -> tuple[str, int]:
    leader = my_leader(slug, leader_id)
    form = _invitation_form(leader)
    if form.validate_on_submit():
        links = _create_links(leader, form)
        if links:
            # Shown in the answer to this POST, not through a redirect: a token must not wait
            # in the session cookie for the next page.
            return render_leader(leader, new_links=links, form=_invitation_form(leader, form))
    return render_leader(leader, form=form, status=400 if form.errors else 200)


def _invitation_form(leader: Leader, made: InvitationForm | None = None) -> InvitationForm:
    """The form for new links; after links were made, a fresh one keeping the relationship."""
    form = (
        InvitationForm()
        if made is None
        else InvitationForm(formdata=None, relationship=made.relationship.data)
    )
    form.language.choices = [
        SelectChoice(tag, _language_name(tag)) for tag in cohort_languages(leader.cohort)
    ]
    return form


def render_leader(
    leader: Leader,
    *,
    new_links: Sequence[NewLink] = (),
    form: InvitationForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The coach's page of one leader: invitations and their links, the personal page, and
    (once closed) which new responses the disclosure ledger holds back."""
    held_back = []
    if not leader.cohort.is_open:
        decision = disclosures.decide(db_session(), leader.cohort, [leader.id])[leader.id]
        rules = Rules.from_instrument(cohort_instrument(leader.cohort))
        held_back = disclosures.held_back_lines(decision, rules)
    return render_template(
        "coach/leader.html",
        leader=leader,
        cohort=leader.cohort,
        held_back=held_back,
        form=form or _invitation_form(leader),
        new_links=new_links,
        live_links=invitations.live_links,
        action_form=EmptyForm(),
        mail_configured=settings().mail.configured,
        purposes=LINK_PURPOSES,
    ), status


LINK_PURPOSES = {
    LinkPurpose.SHOWN: "shown to the coach",
    LinkPurpose.INVITATION: "invitation mail",
    LinkPurpose.REMINDER: "reminder mail",
    LinkPurpose.SELF_ASSESSMENT: "opened from the personal page",
    LinkPurpose.PERSONAL_PAGE: "personal page mail",
    LinkPurpose.REPORT_READY: "report-ready mail",
}
"""How each kind of link reached its person, as the coach reads it."""


def _create_links(leader: Leader, form: InvitationForm) -> list[NewLink]:
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
    actor = signed_in_coach().email
    try:
        for _ in range(count):
            invitation = invitations.create_invitation(
                db_session(),
                leader,
                relationship,
                actor=actor,
                rater_name=form.rater_name.data,
                rater_email=form.rater_email.data,
                language=form.language.data
                if form.language.data in cohort_languages(leader.cohort)
                else None,
            )
            token = invitations.new_link(db_session(), invitation, LinkPurpose.SHOWN, actor=actor)
            links.append(NewLink(_who(invitation), postman().rater_link(token)))
    except CohortError as error:
        form.relationship.errors.append(str(error))
        return []
    return links


def _who(invitation: Invitation) -> str:
    return invitation.rater_name or invitation.relationship_.label


def _my_invitation(invitation_id: int) -> Invitation:
    return mine(db_session().get(Invitation, invitation_id), lambda found: found.leader.cohort)


@blueprint.route("/invitations/<int:invitation_id>/reissue", methods=["POST"])
@login_required
def reissue(invitation_id: int) -> Response | tuple[str, int]:
    """Another link to the same invitation, for a rater who lost theirs; earlier ones still work."""
    invitation = _my_invitation(invitation_id)
    leader = invitation.leader
    if EmptyForm().validate_on_submit():
        try:
            token = invitations.reissue(db_session(), invitation, actor=signed_in_coach().email)
        except CohortError as error:
            flash(str(error), "error")
        else:
            return render_leader(
                leader, new_links=[NewLink(_who(invitation), postman().rater_link(token))]
            )
    return redirect(url_for("coach.leader", slug=leader.cohort.slug, leader_id=leader.id))


def _owner(link: AccessLink) -> Leader:
    """The leader a link leads to: its invitation's, or the leader's own page."""
    owner = link.invitation.leader if link.invitation else link.leader
    if owner is None:
        raise ValueError(f"access link {link.id} belongs to neither an invitation nor a leader")
    return owner


@blueprint.route("/links/<int:link_id>/revoke", methods=["POST"])
@login_required
def revoke(link_id: int) -> Response:
    """Stop one link on purpose, e.g. one that went to the wrong person."""
    link = mine(db_session().get(AccessLink, link_id), lambda found: _owner(found).cohort)
    owner = _owner(link)
    if EmptyForm().validate_on_submit():
        try:
            invitations.revoke_link(db_session(), link, actor=signed_in_coach().email)
        except CohortError as error:
            flash(str(error), "error")
        else:
            flash(
                f"That link no longer works (made {link.created_at:%-d %B %Y, %H:%M}, "
                f"{LINK_PURPOSES[link.purpose]}). The other links still do.",
                "success",
            )
    return redirect(url_for("coach.leader", slug=owner.cohort.slug, leader_id=owner.id))


@blueprint.route("/cohorts/<slug>/leaders/<int:leader_id>/report.pdf")
@login_required
@writes
def report(slug: str, leader_id: int) -> Response | tuple[str, int]:
    leader = my_leader(slug, leader_id)
    try:
        artefact = disclosures.leader_pdf(db_session(), leader, actor=signed_in_coach().email)
    except disclosures.CohortOpen as error:
        return not_yet(error)
    return send_artefact(artefact, inline=request.args.get("inline") is not None)


def not_yet(error: disclosures.CohortOpen) -> tuple[str, int]:
    """The page for a disclosure asked for while the cohort is open: why, and what to do."""
    page = render_template("error.html", title="Not while the cohort is open", message=str(error))
    return page, 409
