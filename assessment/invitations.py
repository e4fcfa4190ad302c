"""Invitation links: unguessable tokens (256 bits) of which only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.cohorts import CohortError
from assessment.models import Invitation, InvitationStatus, Leader, Relationship, utcnow

TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def hash_token(token: str) -> str:
    # A fast hash is right here: the token has 256 bits of entropy, so nothing can be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(
    session: Session,
    leader: Leader,
    relationship: Relationship,
    *,
    actor: str,
    rater_name: str | None = None,
    rater_email: str | None = None,
    language: str | None = None,
) -> tuple[Invitation, str]:
    """A new invitation and its token; the token is returned once and never stored."""
    if relationship == Relationship.SELF and any(
        i.relationship_ == Relationship.SELF for i in leader.invitations
    ):
        raise CohortError(f"{leader.name} already has a self-assessment link; reissue it instead")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation = Invitation(
        leader=leader,
        relationship_=relationship,
        token_hash=hash_token(token),
        rater_name=(rater_name or "").strip() or None,
        rater_email=(rater_email or "").strip().lower() or None,
        language=language,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session, actor, "invitation.create", f"leader:{leader.id}", relationship=relationship.value
    )
    return invitation, token


def reissue_token(session: Session, invitation: Invitation, *, actor: str) -> str:
    """Replace a lost link: the old token stops working, any draft stays with the invitation."""
    if invitation.status == InvitationStatus.SUBMITTED:
        raise CohortError("this invitation has been used already; its link cannot be reissued")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invitation.token_hash = hash_token(token)
    session.flush()
    audit.record(session, actor, "invitation.reissue", f"invitation:{invitation.id}")
    return token


def find_invitation(session: Session, token: str) -> Invitation | None:
    """The invitation for a token, or None for anything that is not one of ours."""
    if not _TOKEN_SHAPE.match(token):
        return None
    return session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))


def find_leader(session: Session, token: str) -> Leader | None:
    """The leader whose personal link this is, or None."""
    if not _TOKEN_SHAPE.match(token):
        return None
    return session.scalar(select(Leader).where(Leader.token_hash == hash_token(token)))


def issue_leader_link(session: Session, leader: Leader, *, actor: str) -> str:
    """A new personal link for a leader; any earlier one stops working (only the hash is kept)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    first = leader.token_hash is None
    leader.token_hash = hash_token(token)
    leader.link_issued_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor,
        "leader.link.issue" if first else "leader.link.reissue",
        f"leader:{leader.id}",
    )
    return token


def self_invitation(leader: Leader) -> Invitation | None:
    return next((i for i in leader.invitations if i.relationship_ == Relationship.SELF), None)


def open_self_assessment(session: Session, leader: Leader) -> str:
    """A working link to the leader's own questionnaire, from their personal page.

    The self-assessment is an ordinary invitation whose token only exists as a hash, so the
    personal page mints a fresh one (the draft stays with the invitation).
    """
    invitation = self_invitation(leader)
    if invitation is None:
        _, token = create_invitation(session, leader, Relationship.SELF, actor=leader.email)
        return token
    return reissue_token(session, invitation, actor=leader.email)
