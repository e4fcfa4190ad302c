"""Cohorts (feedback campaigns) and their leaders: domain operations that only flush."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.accounts import AccountError, normalise_email
from assessment.core.instruments import Instrument, translation_problems
from assessment.core.text import TextError, one_line
from assessment.models import (
    Coach,
    Cohort,
    CohortStatus,
    Invitation,
    InvitationStatus,
    Leader,
    Relationship,
    utcnow,
)
from assessment.responses import forget_order


class CohortError(ValueError):
    """A cohort operation that would break a rule; the message is meant for the coach."""


def checked_line(text: str | None, what: str) -> str:
    """:func:`assessment.core.text.one_line`, refusing as a :class:`CohortError` the coach reads."""
    try:
        return one_line(text or "", what)
    except TextError as error:
        raise CohortError(str(error)) from None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "cohort"


def create_cohort(
    session: Session,
    coach: Coach,
    name: str,
    instrument: Instrument,
    *,
    is_demo: bool = False,
    translations: Sequence[Instrument] = (),
) -> Cohort:
    """A new open cohort holding a frozen copy of ``instrument`` (and of its translations).

    Translations must be the same questionnaire in another language, item for item, so that
    every language's answers pool into one set of scores (:func:`translation_problems`).
    """
    for translation in translations:
        if problems := translation_problems(instrument, translation):
            raise CohortError(
                f"the {translation.language} version does not match: {'; '.join(problems)}"
            )
    name = checked_line(name, "The cohort name")
    if not name:
        raise CohortError("a cohort needs a name")
    base = slugify(name)
    taken = set(
        session.scalars(
            select(Cohort.slug).where(Cohort.coach_id == coach.id, Cohort.slug.like(f"{base}%"))
        )
    )
    slug = base
    suffix = 2
    while slug in taken:
        slug, suffix = f"{base}-{suffix}", suffix + 1
    cohort = Cohort(
        slug=slug,
        name=name,
        coach=coach,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        instrument=instrument.to_data(),
        is_demo=is_demo,
        translations={
            t.language: t.to_data() for t in translations if t.language != instrument.language
        },
    )
    session.add(cohort)
    session.flush()
    audit.record(
        session, coach.email, "cohort.create", f"cohort:{cohort.slug}", instrument=instrument.key
    )
    return cohort


def find_cohort(session: Session, slug: str, coach_email: str | None = None) -> Cohort:
    """The cohort with this slug, for the command line, where every coach's cohorts are in reach.

    Slugs are unique per coach, so when two coaches use the same one, ``coach_email`` decides.
    """
    query = select(Cohort).join(Coach).where(Cohort.slug == slug)
    if coach_email:
        query = query.where(func.lower(Coach.email) == coach_email.strip().lower())
    found = session.scalars(query).all()
    if not found:
        raise CohortError(
            f"no cohort with the slug '{slug}'" + (f" for {coach_email}" if coach_email else "")
        )
    if len(found) > 1:
        coaches = ", ".join(sorted(c.coach.email for c in found))
        raise CohortError(
            f"several coaches have a cohort '{slug}' ({coaches}): say whose with --coach EMAIL"
        )
    return found[0]


def cohort_instrument(cohort: Cohort, language: str | None = None) -> Instrument:
    """The cohort's frozen instrument, in ``language`` when the cohort has that translation."""
    if (
        language
        and language != cohort.instrument.get("language")
        and language in (cohort.translations or {})
    ):
        return Instrument.from_data(
            cohort.translations[language], source=f"cohort {cohort.slug} ({language})"
        )
    return Instrument.from_data(cohort.instrument, source=f"cohort {cohort.slug}")


def cohort_languages(cohort: Cohort) -> list[str]:
    """The cohort's own language first, then the languages of its translations."""
    return [cohort.instrument["language"], *sorted(cohort.translations or {})]


def add_leader(
    session: Session, cohort: Cohort, name: str, email: str, department: str | None = None
) -> Leader:
    name = checked_line(name, "The name")
    if not name:
        raise CohortError("a leader needs a name")
    try:
        email = normalise_email(email)
    except AccountError as error:
        raise CohortError(str(error)) from None
    exists = session.scalar(
        select(Leader.id).where(Leader.cohort_id == cohort.id, func.lower(Leader.email) == email)
    )
    if exists:
        raise CohortError(f"{email} is already a leader in this cohort")
    leader = Leader(
        cohort=cohort,
        name=name,
        email=email,
        department=checked_line(department, "The department") or None,
    )
    session.add(leader)
    session.flush()
    audit.record(session, cohort.coach.email, "leader.add", f"cohort:{cohort.slug}", leader=email)
    return leader


def close_cohort(session: Session, cohort: Cohort, actor: str) -> None:
    if cohort.status == CohortStatus.CLOSED:
        raise CohortError("this cohort is already closed")
    cohort.status = CohortStatus.CLOSED
    cohort.closed_at = utcnow()
    session.flush()
    forget_order(session, cohort.id)
    audit.record(session, actor, "cohort.close", f"cohort:{cohort.slug}")


def reopen_cohort(session: Session, cohort: Cohort, actor: str) -> None:
    """Take answers again. Released reports stay as released: a new release for a leader needs
    enough new responses in every group that changed (:mod:`assessment.releases`), so reopening
    can never be used to learn one late rater's answers from the difference."""
    if cohort.is_open:
        raise CohortError("this cohort is already open")
    cohort.status = CohortStatus.OPEN
    cohort.closed_at = None
    session.flush()
    audit.record(session, actor, "cohort.reopen", f"cohort:{cohort.slug}")


MAX_REMINDER_DAYS = 60


def set_schedule(
    session: Session,
    cohort: Cohort,
    deadline: date | None,
    reminder_days: Sequence[int],
    actor: str,
) -> None:
    """The deadline and the days before it on which ``cl360 reminders send`` reminds raters."""
    days = sorted({int(d) for d in reminder_days}, reverse=True)
    if any(d < 0 or d > MAX_REMINDER_DAYS for d in days):
        raise CohortError(f"reminder days must be between 0 and {MAX_REMINDER_DAYS}")
    if days and deadline is None:
        raise CohortError("set a deadline for reminders to be counted back from")
    cohort.deadline = deadline
    cohort.reminder_days = days
    session.flush()
    audit.record(
        session,
        actor,
        "cohort.schedule",
        f"cohort:{cohort.slug}",
        deadline=deadline.isoformat() if deadline else None,
        reminder_days=days,
    )


@dataclass(frozen=True)
class GroupProgress:
    """How many of a rater group have submitted, against the minimum that shows them."""

    group: str
    label: str
    invited: int
    submitted: int
    minimum: int

    @property
    def met(self) -> bool:
        return self.submitted >= self.minimum


@dataclass(frozen=True)
class LeaderProgress:
    leader: Leader
    self_done: bool
    groups: list[GroupProgress]
    others_submitted: int
    others_minimum: int

    @property
    def others_met(self) -> bool:
        return self.others_submitted >= self.others_minimum

    @property
    def below_minimum(self) -> bool:
        """Some group with invitations, or Others, has fewer responses than its minimum."""
        return not self.others_met or any(g.invited and not g.met for g in self.groups)


FILTERS = {
    "all": "All leaders",
    "below": "Below a minimum",
    "self": "Self-assessment not done",
    "complete": "Every minimum met",
}


def filter_progress(
    progress: Sequence[LeaderProgress], show: str = "all", department: str | None = None
) -> list[LeaderProgress]:
    """The dashboard's filters: by completion state and by department."""
    keep = {
        "below": lambda p: p.below_minimum,
        "self": lambda p: not p.self_done,
        "complete": lambda p: not p.below_minimum and p.self_done,
    }.get(show, lambda p: True)
    return [
        p
        for p in progress
        if keep(p) and (not department or (p.leader.department or "") == department)
    ]


def completion(
    session: Session,
    cohort: Cohort,
    leaders: Sequence[Leader] | None = None,
    *,
    instrument: Instrument | None = None,
) -> list[LeaderProgress]:
    """Completion per leader and rater group, counted from invitation statuses (never answers).

    ``instrument`` is the cohort's, when the caller has read it already.
    """
    instrument = instrument or cohort_instrument(cohort)
    leaders = cohort.leaders if leaders is None else leaders
    rows = session.execute(
        select(Invitation.leader_id, Invitation.relationship_, Invitation.status, func.count())
        .where(Invitation.leader_id.in_([leader.id for leader in leaders]))
        .group_by(Invitation.leader_id, Invitation.relationship_, Invitation.status)
    ).all()
    invited: dict[tuple[int, str], int] = {}
    submitted: dict[tuple[int, str], int] = {}
    for leader_id, relationship, status, count in rows:
        key = (leader_id, Relationship(relationship).value)
        invited[key] = invited.get(key, 0) + count
        if status == InvitationStatus.SUBMITTED:
            submitted[key] = submitted.get(key, 0) + count
    progress = []
    for leader in leaders:
        groups = [
            GroupProgress(
                g.id,
                g.label,
                invited.get((leader.id, g.id), 0),
                submitted.get((leader.id, g.id), 0),
                g.minimum,
            )
            for g in instrument.observer_groups
        ]
        progress.append(
            LeaderProgress(
                leader=leader,
                self_done=submitted.get((leader.id, "self"), 0) > 0,
                groups=groups,
                others_submitted=sum(g.submitted for g in groups),
                others_minimum=instrument.thresholds.others,
            )
        )
    return progress
