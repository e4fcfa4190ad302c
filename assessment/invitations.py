"""Invitations and the links that reach them and leaders' pages.

A link is an unguessable token (256 bits) of which only a SHA-256 hash is stored. An invitation
(and a leader's personal page) keeps every link that was handed out: a reminder, a reissue or
"start your self-assessment" adds one and stops none, so a mail sent a minute ago still works.
A link stops when its invitation is used, when its cohort closes (rater links), or when the
coach revokes that one link on purpose (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from assessment import audit
from assessment.cohorts import CohortError, checked_line
from assessment.models import (
    AccessLink,
    Invitation,
    InvitationStatus,
    Leader,
    LinkPurpose,
    Relationship,
    utcnow,
)
from assessment.responses import discard_draft

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
) -> Invitation:
    """A new invitation, with no link yet: :func:`new_link` makes one when it is handed out."""
    if relationship == Relationship.SELF and any(
        i.relationship_ == Relationship.SELF for i in leader.invitations
    ):
        raise CohortError(
            f"{leader.name} already has a self-assessment link; use “New link” on it instead"
        )
    invitation = Invitation(
        leader=leader,
        relationship_=relationship,
        rater_name=checked_line(rater_name, "The rater's name") or None,
        rater_email=(rater_email or "").strip().lower() or None,
        language=language,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session, actor, "invitation.create", f"leader:{leader.id}", relationship=relationship.value
    )
    return invitation


def new_link(
    session: Session, owner: Invitation | Leader, purpose: LinkPurpose, *, actor: str
) -> str:
    """Add a link to an invitation or a leader's page and return its token, once.

    Earlier links keep working. A used invitation takes no new link: its answers are in.
    """
    if isinstance(owner, Invitation) and owner.status == InvitationStatus.SUBMITTED:
        raise CohortError("this invitation has been used already; it needs no new link")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = AccessLink(token_hash=hash_token(token), purpose=purpose)
    owner.links.append(link)
    session.flush()
    kind = "invitation" if isinstance(owner, Invitation) else "leader"
    audit.record(session, actor, f"{kind}.link", f"{kind}:{owner.id}", purpose=purpose.value)
    return token


def reissue(session: Session, invitation: Invitation, *, actor: str) -> str:
    """A new link from the coach, for a rater who lost theirs; earlier links still work.

    The coach sees this link, so it must not open anything the rater saved: any draft is
    discarded (it was sealed for the rater's browser only) and the questionnaire starts afresh.
    """
    token = new_link(session, invitation, LinkPurpose.SHOWN, actor=actor)
    discard_draft(session, invitation)
    return token


def revoke_link(session: Session, link: AccessLink, *, actor: str) -> None:
    """Stop one link on purpose (e.g. it went to the wrong person); the others still work."""
    if link.revoked_at is not None:
        raise CohortError("this link was revoked already")
    link.revoked_at = utcnow()
    link.revoked_by = actor
    session.flush()
    owner = f"invitation:{link.invitation_id}" if link.invitation_id else f"leader:{link.leader_id}"
    audit.record(session, actor, "link.revoke", owner, link=link.id)


def undelivered(token: str) -> Callable[[Session], None]:
    """For a mail that never went out: withdraw the link it carried, which nobody received."""

    def withdraw(session: Session) -> None:
        link = session.scalar(select(AccessLink).where(AccessLink.token_hash == hash_token(token)))
        if link is not None and link.live:
            link.revoked_at, link.revoked_by = utcnow(), "undelivered mail"

    return withdraw


def find_link(session: Session, token: str) -> AccessLink | None:
    """The link a token belongs to (revoked or not), or None for anything that is not ours.

    What a page behind the link reads comes in the same query: the invitation, its draft,
    the leader and the cohort (every rater request starts here).
    """
    if not _TOKEN_SHAPE.match(token):
        return None
    invitation = joinedload(AccessLink.invitation)
    return session.scalar(
        select(AccessLink)
        .where(AccessLink.token_hash == hash_token(token))
        .options(
            invitation.joinedload(Invitation.leader).joinedload(Leader.cohort),
            invitation.joinedload(Invitation.draft),
            joinedload(AccessLink.leader).joinedload(Leader.cohort),
        )
    )


def live_links(owner: Invitation | Leader) -> list[AccessLink]:
    return [link for link in owner.links if link.live]


def self_invitation(leader: Leader) -> Invitation | None:
    return next((i for i in leader.invitations if i.relationship_ == Relationship.SELF), None)


def open_self_assessment(session: Session, leader: Leader) -> str:
    """A working link to the leader's own questionnaire, from their personal page.

    Tokens only exist as hashes, so the personal page makes a new link each time; the link in
    the self-assessment mail, and any draft, stay as they were.
    """
    invitation = self_invitation(leader)
    if invitation is None:
        invitation = create_invitation(session, leader, Relationship.SELF, actor=leader.email)
    return new_link(session, invitation, LinkPurpose.SELF_ASSESSMENT, actor=leader.email)
