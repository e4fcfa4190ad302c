"""Cohorts (feedback campaigns) and their leaders: domain operations that only flush."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.accounts import AccountError, normalise_email
from assessment.instruments import Instrument
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


class CohortError(ValueError):
    """A cohort operation that would break a rule; the message is meant for the coach."""


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "cohort"


def create_cohort(
    session: Session, coach: Coach, name: str, instrument: Instrument, *, is_demo: bool = False
) -> Cohort:
    """A new open cohort holding a frozen copy of ``instrument``."""
    name = name.strip()
    if not name:
        raise CohortError("a cohort needs a name")
    base = slugify(name)
    taken = set(session.scalars(select(Cohort.slug).where(Cohort.slug.like(f"{base}%"))))
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
    )
    session.add(cohort)
    session.flush()
    audit.record(
        session, coach.email, "cohort.create", f"cohort:{cohort.slug}", instrument=instrument.key
    )
    return cohort


def cohort_instrument(cohort: Cohort) -> Instrument:
    return Instrument.from_data(cohort.instrument, source=f"cohort {cohort.slug}")


def add_leader(
    session: Session, cohort: Cohort, name: str, email: str, department: str | None = None
) -> Leader:
    name = name.strip()
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
        cohort=cohort, name=name, email=email, department=(department or "").strip() or None
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
    audit.record(session, actor, "cohort.close", f"cohort:{cohort.slug}")


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


def completion(session: Session, cohort: Cohort) -> list[LeaderProgress]:
    """Completion per leader and rater group, counted from invitation statuses (never answers)."""
    instrument = cohort_instrument(cohort)
    rows = session.execute(
        select(Invitation.leader_id, Invitation.relationship_, Invitation.status, func.count())
        .join(Leader)
        .where(Leader.cohort_id == cohort.id)
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
    for leader in cohort.leaders:
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
