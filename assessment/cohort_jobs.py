"""The coach's long work on a cohort, as jobs (assessment/jobs.py): releasing and building every
report, mailing invitations, reminders and leaders' links, large imports, fitting profiles.

Each item goes through the same operation as its one-at-a-time counterpart: a release through
:func:`assessment.releases.release_report` and a PDF through the disclosure ledger
(:mod:`assessment.disclosures`), so the anonymity rules decide every figure a job hands out; a
mail through :mod:`assessment.reminders`, with an idempotency key, so a retried job never
mails anyone twice. Whoever cannot be served is listed with the reason the operation gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import disclosures, imports, releases, reminders
from assessment.cohorts import CohortError
from assessment.core.instruments import Relationship
from assessment.core.profiles import ProfileModel
from assessment.jobs import Item, JobRun, Kind, Output, register
from assessment.mail import MailError
from assessment.models import Cohort, Invitation, Leader
from assessment.results import fit_profile_model

RELEASE_ALL = "release_all"
BUILD_REPORTS = "build_reports"
SEND_INVITATIONS = "send_invitations"
SEND_LEADER_LINKS = "send_leader_links"
REMIND = "remind"
IMPORT = "import"
FIT_PROFILES = "fit_profiles"

COHORT_REPORT = 0
"""The item id of the cohort report in :data:`BUILD_REPORTS` (leaders' ids start at 1)."""


def _cohort(run: JobRun, session: Session) -> Cohort:
    cohort = session.get(Cohort, run.params["cohort_id"])
    if cohort is None:
        raise CohortError("this cohort has been removed")
    return cohort


def _closed_cohort(run: JobRun, session: Session) -> Cohort:
    cohort = _cohort(run, session)
    if cohort.is_open:
        raise CohortError("close the cohort before releasing reports, so the figures are final")
    return cohort


def _leaders(session: Session, cohort: Cohort) -> list[Item]:
    return [
        (leader.id, leader.name)
        for leader in session.scalars(
            select(Leader).where(Leader.cohort_id == cohort.id).order_by(Leader.name, Leader.id)
        )
    ]


def _leader(run: JobRun, session: Session, leader_id: int) -> Leader:
    leader = session.get(Leader, leader_id)
    if leader is None or leader.cohort_id != run.params["cohort_id"]:
        raise CohortError("this leader has been removed")
    return leader


def _counted(sentence: Callable[[int, int], str]) -> Callable[[Mapping[str, Output], int], str]:
    """A summary that needs only how many items succeeded, of how many."""
    return lambda outputs, total: sentence(len(outputs), total)


# -- reports ------------------------------------------------------------------------------------


def _release(run: JobRun, session: Session, leader_id: int, ahead: disclosures.Ahead) -> Output:
    leader = _leader(run, session, leader_id)
    return releases.release_report(session, leader, run.postman, actor=run.actor, ahead=ahead).id


def _leader_pdf_ahead(run: JobRun, session: Session, leader_id: int) -> disclosures.Ahead:
    return disclosures.leader_pdf_ahead(session, _leader(run, session, leader_id))


register(
    Kind(
        RELEASE_ALL,
        items=lambda run, session: _leaders(session, _closed_cohort(run, session)),
        step=_release,
        prepare=_leader_pdf_ahead,
        summary=_counted(lambda done, total: f"{done} of {total} reports released."),
        expected=(CohortError, MailError),
    )
)


def _report_items(run: JobRun, session: Session) -> list[Item]:
    cohort = _cohort(run, session)
    disclosures.decide(session, cohort)  # refuses an open cohort before anything is listed
    return [(COHORT_REPORT, "Cohort report"), *_leaders(session, cohort)]


def _build_report(run: JobRun, session: Session, item_id: int, ahead: disclosures.Ahead) -> Output:
    """One PDF through the ledger (the stored one when nothing changed); its artefact's id."""
    if item_id == COHORT_REPORT:
        cohort = _cohort(run, session)
        return disclosures.cohort_pdf(session, cohort, actor=run.actor, ahead=ahead).id
    leader = _leader(run, session, item_id)
    return disclosures.leader_pdf(session, leader, actor=run.actor, ahead=ahead).id


def _report_ahead(run: JobRun, session: Session, item_id: int) -> disclosures.Ahead:
    if item_id == COHORT_REPORT:
        return disclosures.cohort_pdf_ahead(session, _cohort(run, session))
    return _leader_pdf_ahead(run, session, item_id)


register(
    Kind(
        BUILD_REPORTS,
        items=_report_items,
        step=_build_report,
        prepare=_report_ahead,
        summary=_counted(lambda done, total: f"{done} of {total} reports ready to download."),
        expected=(CohortError, disclosures.CohortOpen),
    )
)


# -- mail ---------------------------------------------------------------------------------------


def _open_cohort(run: JobRun, session: Session) -> Cohort:
    cohort = _cohort(run, session)
    if not cohort.is_open:
        raise CohortError("this cohort is closed; reopen it before mailing anyone")
    return cohort


def invitation_label(invitation: Invitation) -> str:
    """Who an invitation is for, as the coach knows them (never anything they answered)."""
    relationship = Relationship(invitation.relationship_)
    if relationship == Relationship.SELF:
        return f"{invitation.leader.name} (self-assessment)"
    who = invitation.rater_name or invitation.rater_email or "a rater"
    return f"{who} ({relationship.label.lower()} of {invitation.leader.name})"


def _invitation(run: JobRun, session: Session, invitation_id: int) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.leader.cohort_id != run.params["cohort_id"]:
        raise CohortError("this invitation has been removed")
    return invitation


def _mail_kind(
    name: str,
    items: Callable[[JobRun, Session], list[Item]],
    step: Callable[[JobRun, Session, int, None], Output],
    summary: Callable[[Mapping[str, Output], int], str],
) -> Kind:
    """A job whose work is the mail: an item the mail server refused is not done, so a retry
    sends it (:class:`assessment.jobs.Kind`)."""
    return register(
        Kind(
            name,
            items=items,
            step=step,
            summary=summary,
            expected=(CohortError, MailError),
            mail_is_the_work=True,
        )
    )


def _mail_key(run: JobRun, item_id: int) -> str:
    """One message per item of this job, however often the job is retried."""
    return f"job:{run.job_id}:item:{item_id}"


def _send_invitation(run: JobRun, session: Session, invitation_id: int, _prepared: None) -> Output:
    invitation = _invitation(run, session, invitation_id)
    reminders.send_invitation(
        session, invitation, run.postman, actor=run.actor, key=_mail_key(run, invitation_id)
    )
    return "sent"


_mail_kind(
    SEND_INVITATIONS,
    items=lambda run, session: [
        (i.id, invitation_label(i))
        for i in reminders.unsent(reminders.outstanding(session, _open_cohort(run, session)))
    ],
    step=_send_invitation,
    summary=_counted(lambda done, total: f"{done} of {total} invitations sent."),
)


def _send_leader_link(run: JobRun, session: Session, leader_id: int, _prepared: None) -> Output:
    leader = _leader(run, session, leader_id)
    reminders.send_leader_link(
        session, leader, run.postman, actor=run.actor, key=_mail_key(run, leader_id)
    )
    return "sent"


_mail_kind(
    SEND_LEADER_LINKS,
    items=lambda run, session: [
        (leader.id, leader.name)
        for leader in reminders.leaders_without_link(session, _cohort(run, session))
    ],
    step=_send_leader_link,
    summary=_counted(lambda done, total: f"{done} of {total} leaders sent their link."),
)


def _remind(run: JobRun, session: Session, invitation_id: int, _prepared: None) -> Output:
    """One reminder, at most one a day per invitation (the key says which day)."""
    invitation = _invitation(run, session, invitation_id)
    key = f"manual:{date.fromisoformat(str(run.params['day']))}"
    sent = reminders.remind(session, invitation, key, run.postman, actor=run.actor)
    return "sent" if sent else "already"


def _reminders_summary(outputs: Mapping[str, Output], total: int) -> str:
    counts = Counter(outputs.values())
    sent, already = counts["sent"], counts["already"]
    said = f"{sent} reminder{'s' if sent != 1 else ''} sent" if sent else "No reminder sent"
    if not already:
        return said + "."
    return f"{said}{':' if not sent else ';'} {already} had been reminded today already."


_mail_kind(
    REMIND,
    items=lambda run, session: [
        (i.id, invitation_label(i))
        for i in reminders.outstanding(session, _open_cohort(run, session))
        if reminders.address(i) is not None
    ],
    step=_remind,
    summary=_reminders_summary,
)


# -- imports and profiles -----------------------------------------------------------------------

IMPORTERS: dict[str, Callable[..., Sequence[object]]] = {
    "leaders": imports.import_leaders,
    "raters": imports.import_raters,
}
"""What a coach imports from the cohort page, by the kind named in the form."""


IMPORT_KINDS = list(IMPORTERS)
"""A job's parameters are ids, so the kind of import is its index in this list."""


def _import(run: JobRun, session: Session, cohort_id: int, _prepared: None) -> Output:
    """The whole file in one transaction: every row imported, or none and every problem listed."""
    kind = IMPORT_KINDS[run.params["kind"]]
    data = run.upload(session)
    created = IMPORTERS[kind](session, _cohort(run, session), data, actor=run.actor)
    return f"{len(created)} {kind} imported."


register(
    Kind(
        IMPORT,
        items=lambda run, session: [(_cohort(run, session).id, "The file")],
        step=_import,
        summary=lambda outputs, total: str(
            next(iter(outputs.values()), "Nothing was imported: the file's problems are below.")
        ),
        expected=(CohortError,),
        problems=lambda error: [str(p) for p in getattr(error, "problems", [error])],
    )
)


def _fit(run: JobRun, session: Session, cohort_id: int, _prepared: None) -> Output:
    fitted = fit_profile_model(session, _cohort(run, session))
    if not isinstance(fitted, ProfileModel):
        raise CohortError(fitted.message)
    return f"{fitted.k} profiles from {fitted.n_leaders} leaders"


register(
    Kind(
        FIT_PROFILES,
        items=lambda run, session: [(_cohort(run, session).id, "Profiles")],
        step=_fit,
        summary=_counted(
            lambda done, total: "Profiles fitted." if done else "Profiles could not be fitted."
        ),
        expected=(CohortError,),
    )
)
