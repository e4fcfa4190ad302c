"""Leaders nominate their raters; the coach approves (which invites), edits or rejects each.

Domain operations that only flush. Approval creates the invitation and mails it in the same
transaction, so a failed mail leaves the nomination pending and nothing half-done.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.accounts import AccountError, normalise_email
from assessment.cohorts import CohortError, checked_line, cohort_instrument, completion
from assessment.invitations import create_invitation
from assessment.mail import Postman
from assessment.models import (
    Cohort,
    Invitation,
    Leader,
    Nomination,
    NominationStatus,
    Relationship,
    utcnow,
)
from assessment.reminders import send_invitation


def _checked(
    leader: Leader, name: str, email: str, relationship: str, *, ignore: Nomination | None = None
) -> tuple[str, str, Relationship]:
    name = checked_line(name, "The name")
    if not name:
        raise CohortError("give the person's name")
    if len(name) > 200:
        raise CohortError("the name is longer than 200 characters")
    try:
        email = normalise_email(email)
    except AccountError as error:
        raise CohortError(str(error)) from None
    allowed = {g.id for g in cohort_instrument(leader.cohort).observer_groups}
    if relationship not in allowed:
        raise CohortError("choose how this person works with the leader")
    if email == leader.email.lower():
        raise CohortError("the leader's own view is their self-assessment, not a nomination")
    if any(i.rater_email == email for i in leader.invitations):
        raise CohortError(f"{email} has already been invited")
    others = [n for n in _nominations(leader) if n is not ignore]
    if any(n.rater_email == email and n.status != NominationStatus.REJECTED for n in others):
        raise CohortError(f"{email} has already been nominated")
    return name, email, Relationship(relationship)


def _nominations(leader: Leader) -> list[Nomination]:
    session = Session.object_session(leader)
    if session is None:
        raise ValueError("the leader must belong to a session")
    return list(session.scalars(select(Nomination).where(Nomination.leader_id == leader.id)))


def nominate(
    session: Session, leader: Leader, name: str, email: str, relationship: str
) -> Nomination:
    """The leader proposes a rater; nothing is sent until the coach approves."""
    if not leader.cohort.is_open:
        raise CohortError("this feedback round is closed; nominations can no longer be made")
    name, email, kind = _checked(leader, name, email, relationship)
    rejected = next(
        (n for n in _nominations(leader) if n.rater_email == email), None
    )  # a rejected nomination may be made again
    if rejected is not None:
        session.delete(rejected)
        session.flush()
    nomination = Nomination(leader=leader, rater_name=name, rater_email=email, relationship_=kind)
    session.add(nomination)
    session.flush()
    audit.record(
        session, leader.email, "nomination.create", f"leader:{leader.id}", relationship=kind.value
    )
    return nomination


def withdraw(session: Session, nomination: Nomination) -> None:
    """The leader takes back a nomination the coach has not decided yet."""
    if nomination.status != NominationStatus.PENDING:
        raise CohortError("the coach has already decided on this nomination")
    session.delete(nomination)
    session.flush()


def approve(
    session: Session,
    nomination: Nomination,
    postman: Postman,
    *,
    actor: str,
    name: str | None = None,
    email: str | None = None,
    relationship: str | None = None,
) -> Invitation:
    """Accept a nomination, with the coach's corrections, and send the invitation."""
    if nomination.status != NominationStatus.PENDING:
        raise CohortError("this nomination has already been decided")
    leader = nomination.leader
    if not leader.cohort.is_open:
        raise CohortError("this cohort is closed; reopen it to invite more raters")
    name, email, kind = _checked(
        leader,
        nomination.rater_name if name is None else name,
        nomination.rater_email if email is None else email,
        nomination.relationship_.value if relationship is None else relationship,
        ignore=nomination,
    )
    edited = (name, email, kind) != (
        nomination.rater_name,
        nomination.rater_email,
        nomination.relationship_,
    )
    nomination.rater_name, nomination.rater_email, nomination.relationship_ = name, email, kind
    invitation = create_invitation(
        session, leader, kind, actor=actor, rater_name=name, rater_email=email
    )
    nomination.status = NominationStatus.APPROVED
    nomination.decided_at = utcnow()
    nomination.decided_by = actor
    nomination.invitation_id = invitation.id
    send_invitation(session, invitation, postman, actor=actor)
    session.flush()
    audit.record(
        session,
        actor,
        "nomination.approve",
        f"nomination:{nomination.id}",
        edited=edited,
        invitation=invitation.id,
    )
    return invitation


def reject(session: Session, nomination: Nomination, *, actor: str) -> None:
    if nomination.status != NominationStatus.PENDING:
        raise CohortError("this nomination has already been decided")
    nomination.status = NominationStatus.REJECTED
    nomination.decided_at = utcnow()
    nomination.decided_by = actor
    session.flush()
    audit.record(session, actor, "nomination.reject", f"nomination:{nomination.id}")


def pending(session: Session, cohort: Cohort) -> list[Nomination]:
    """Nominations waiting for the coach, by leader then time."""
    return list(
        session.scalars(
            select(Nomination)
            .join(Leader)
            .where(Leader.cohort_id == cohort.id, Nomination.status == NominationStatus.PENDING)
            .order_by(Leader.name, Nomination.created_at, Nomination.id)
        )
    )


def leader_nominations(session: Session, leader: Leader) -> list[Nomination]:
    return list(
        session.scalars(
            select(Nomination)
            .where(Nomination.leader_id == leader.id)
            .order_by(Nomination.created_at, Nomination.id)
        )
    )


@dataclass(frozen=True)
class GroupCount:
    """What a leader may see of a group: how many responded, against the minimum. Never who."""

    label: str
    responded: int
    minimum: int

    @property
    def met(self) -> bool:
        return self.responded >= self.minimum


def leader_progress(session: Session, leader: Leader) -> list[GroupCount]:
    (progress,) = completion(session, leader.cohort, [leader])
    counts = [GroupCount(g.label, g.submitted, g.minimum) for g in progress.groups]
    counts.append(GroupCount("All observers", progress.others_submitted, progress.others_minimum))
    return counts
