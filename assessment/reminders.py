"""Invitation mail, leaders' personal links, and reminders to those who have not answered yet.

A reminder is recorded as a :class:`ReminderSent` row keyed by (invitation, reminder key), with
a unique constraint, inserted in the same transaction (a savepoint) as the mail is sent or
written to the outbox. Running ``cl360 reminders send`` from cron again and again therefore sends
each reminder at most once: a second run, or two runs at the same moment, hit the constraint and
skip. If the mail server refuses, the savepoint is rolled back with the mail, so the next run
tries again.

Tokens are stored only as hashes, so a mail about an existing invitation cannot repeat the old
link: it carries a new one (:func:`assessment.invitations.new_link`), and every earlier link
keeps working. The draft stays with the invitation, so any of the rater's links finds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assessment.invitations import new_link, undelivered
from assessment.mail import MailError, Postman, invitation_message, leader_link_message
from assessment.models import (
    AccessLink,
    Cohort,
    CohortStatus,
    Invitation,
    InvitationStatus,
    Leader,
    LinkPurpose,
    Relationship,
    ReminderSent,
    utcnow,
)


def address(invitation: Invitation) -> str | None:
    """Where mail for an invitation goes: the rater's address, or the leader's for the self link."""
    if invitation.rater_email:
        return invitation.rater_email
    if invitation.relationship_ == Relationship.SELF:
        return invitation.leader.email
    return None


def outstanding(session: Session, cohort: Cohort) -> list[Invitation]:
    """Invitations not yet submitted, by leader: who a reminder would go to (never answers)."""
    return list(
        session.scalars(
            select(Invitation)
            .join(Leader)
            .where(Leader.cohort_id == cohort.id, Invitation.status != InvitationStatus.SUBMITTED)
            .order_by(Leader.name, Invitation.relationship_, Invitation.id)
        )
    )


def unsent(invitations: Iterable[Invitation]) -> list[Invitation]:
    """Of outstanding invitations, those with an address never mailed (e.g. just imported)."""
    return [i for i in invitations if i.invited_at is None and address(i)]


def send_invitation(
    session: Session,
    invitation: Invitation,
    postman: Postman,
    *,
    actor: str,
    key: str | None = None,
) -> None:
    """(Re)send an invitation by mail, with a new link; earlier links and any draft are kept.

    ``key`` is the message's idempotency key (:meth:`Postman.deliver`), when a job sends it."""
    to = address(invitation)
    if to is None:
        raise MailError("this invitation has no email address")
    token = new_link(session, invitation, LinkPurpose.INVITATION, actor=actor)
    message = invitation_message(invitation, postman.rater_link(token))
    invitation_id, withdraw = invitation.id, undelivered(token)

    def not_sent(session: Session) -> None:
        withdraw(session)
        session.execute(
            update(Invitation).where(Invitation.id == invitation_id).values(invited_at=None)
        )

    postman.deliver(session, message, invitation.leader.cohort, on_failure=not_sent, key=key)
    invitation.invited_at = utcnow()
    session.flush()


def send_leader_link(
    session: Session, leader: Leader, postman: Postman, *, actor: str, key: str | None = None
) -> str:
    """Mail a leader a new link to their personal page; returns the link. Earlier links keep
    working. ``key`` as for :func:`send_invitation`."""
    token = new_link(session, leader, LinkPurpose.PERSONAL_PAGE, actor=actor)
    link = postman.leader_link(token)
    postman.deliver(
        session,
        leader_link_message(leader, link),
        leader.cohort,
        on_failure=undelivered(token),
        key=key,
    )
    return link


def leaders_without_link(session: Session, cohort: Cohort) -> list[Leader]:
    """Leaders who were never sent a personal link (e.g. just imported)."""
    return list(
        session.scalars(
            select(Leader)
            .where(
                Leader.cohort_id == cohort.id,
                ~select(AccessLink.id)
                .where(AccessLink.leader_id == Leader.id, AccessLink.revoked_at.is_(None))
                .exists(),
            )
            .order_by(Leader.name, Leader.id)
        )
    )


def remind(
    session: Session, invitation: Invitation, key: str, postman: Postman, *, actor: str
) -> bool:
    """Queue one reminder unless this (invitation, key) was sent before; True if it was queued.

    If the mail server refuses it later, its record is deleted with the link it carried, so
    the next run tries again. Raises :class:`MailError` (with the savepoint rolled back) for a
    message that cannot be written.
    """
    if invitation.status == InvitationStatus.SUBMITTED or address(invitation) is None:
        return False
    try:
        with session.begin_nested():
            sent = ReminderSent(invitation_id=invitation.id, reminder_key=key)
            session.add(sent)
            session.flush()
            token = new_link(session, invitation, LinkPurpose.REMINDER, actor=actor)
            message = invitation_message(invitation, postman.rater_link(token), reminder=True)
            sent_id, withdraw = sent.id, undelivered(token)

            def not_sent(session: Session) -> None:
                withdraw(session)
                session.execute(delete(ReminderSent).where(ReminderSent.id == sent_id))

            postman.deliver(session, message, invitation.leader.cohort, on_failure=not_sent)
    except IntegrityError:
        return False
    return True


def scheduled_key(cohort: Cohort, today: date) -> str | None:
    """The reminder due today for a cohort's schedule, if any.

    For reminder days [7, 3, 1] and a deadline, the reminders fall due 7, 3 and 1 days before
    it; on any day up to the deadline the most recent one that has fallen due is the one to
    send (so a cron job that missed a day catches up with one reminder, not several).
    """
    if cohort.status != CohortStatus.OPEN or cohort.deadline is None or today > cohort.deadline:
        return None
    due = [d for d in cohort.reminder_days if cohort.deadline - timedelta(days=d) <= today]
    if not due:
        return None
    return f"before:{cohort.deadline.isoformat()}:{min(due)}"


def scheduled_reminders(session: Session, today: date) -> list[tuple[int, str]]:
    """(invitation id, reminder key) for every reminder due today across all open cohorts."""
    due: list[tuple[int, str]] = []
    cohorts = session.scalars(
        select(Cohort).where(Cohort.status == CohortStatus.OPEN, Cohort.deadline.is_not(None))
    )
    for cohort in cohorts:
        key = scheduled_key(cohort, today)
        if key is None:
            continue
        sent = set(
            session.scalars(
                select(ReminderSent.invitation_id)
                .join(Invitation)
                .join(Leader)
                .where(Leader.cohort_id == cohort.id, ReminderSent.reminder_key == key)
            )
        )
        due.extend(
            (i.id, key)
            for i in outstanding(session, cohort)
            if i.id not in sent and address(i) is not None
        )
    return due
