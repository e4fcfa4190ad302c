"""Comment moderation before release: a coach may cut an identifying detail, never rewrite.

The coach sees a leader's observer comments pooled, with no author, group or response id: each
comment is addressed by a keyed hash of its (response, question), so two comments by the same
rater cannot be matched up through their handles. A redaction replaces spans of the original
with ``[redacted]`` and nothing else (:func:`is_redaction` enforces it); the original is kept
beside the redacted text, and each change is an audit event naming who made it and when.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.cohorts import CohortError
from assessment.core.instruments import Instrument
from assessment.core.text import free_text
from assessment.models import Comment, Leader, Relationship, Response

REDACTED = "[redacted]"


def is_redaction(original: str, edited: str) -> bool:
    """Whether ``edited`` is ``original`` with some non-empty spans replaced by ``[redacted]``.

    Anything else — a changed word, an added word, moved text — is refused, so moderation can
    remove an identifying detail but never change what a rater meant. The kept pieces must
    appear in order with at least one character cut between them: each is placed as early as it
    can be, which leaves the most room for the rest, so one left-to-right pass decides (linear
    in the comment's length; a pattern with lazy wildcards took seconds on a long comment).
    """
    pieces = edited.split(REDACTED)
    if len(pieces) == 1:
        return edited == original
    first, *middle, last = pieces
    if not original.startswith(first):
        return False
    position = len(first)
    for piece in middle:
        found = original.find(piece, position + 1)
        if found < 0:
            return False
        position = found + len(piece)
    return len(original) - len(last) > position and original.endswith(last)


@dataclass(frozen=True)
class ModeratedComment:
    handle: str
    question: str
    original: str
    shown: str

    @property
    def redacted(self) -> bool:
        return self.shown != self.original


def _handle(secret: str, comment: Comment) -> str:
    message = f"{comment.response_id}:{comment.question_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:24]


def _comments(
    session: Session, leader: Leader, response_ids: Collection[str] | None = None
) -> list[Comment]:
    query = (
        select(Comment)
        .join(Response)
        .where(Response.leader_id == leader.id, Response.relationship_ != Relationship.SELF)
    )
    if response_ids is not None:
        query = query.where(Response.id.in_(list(response_ids)))
    return list(session.scalars(query))


def leader_comments(
    session: Session,
    leader: Leader,
    instrument: Instrument,
    secret: str,
    *,
    response_ids: Collection[str] | None = None,
) -> list[ModeratedComment]:
    """The comments a report would quote (of ``response_ids`` only, when given), in question
    then text order (never by author)."""
    order = {q.id: index for index, q in enumerate(instrument.open_questions)}
    questions = {
        q.id: q.observer.replace("{leader}", leader.name) for q in instrument.open_questions
    }
    comments = sorted(
        _comments(session, leader, response_ids),
        key=lambda c: (order.get(c.question_id, len(order)), c.text),
    )
    return [
        ModeratedComment(
            _handle(secret, c),
            questions.get(c.question_id, c.question_id),
            c.text,
            c.redacted_text if c.redacted_text is not None else c.text,
        )
        for c in comments
    ]


def redact(
    session: Session, leader: Leader, handle: str, edited: str, *, actor: str, secret: str
) -> None:
    """Store the moderated text of one comment (the original is kept), or restore the original."""
    comment = next((c for c in _comments(session, leader) if _handle(secret, c) == handle), None)
    if comment is None:
        raise CohortError("that comment is no longer there")
    edited = free_text(edited)
    if not is_redaction(comment.text, edited):
        raise CohortError(
            f"a redaction may only replace words with {REDACTED}: keep the rest exactly as written"
        )
    comment.redacted_text = None if edited == comment.text else edited
    session.flush()
    audit.record(
        session,
        actor,
        "comment.redact" if comment.redacted_text else "comment.restore",
        f"leader:{leader.id}",
        comment=handle,
        spans=edited.count(REDACTED) - comment.text.count(REDACTED),
    )
