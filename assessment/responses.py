"""Drafts and submissions of questionnaires, and reading them back for scoring.

Submission is the anonymity boundary (PRODUCT §4): the draft, which is linked to its invitation,
is deleted in the same transaction that writes a :class:`Response` with no such link.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from assessment.instruments import Instrument
from assessment.models import (
    Answer,
    Comment,
    DraftResponse,
    Invitation,
    InvitationStatus,
    Leader,
    Relationship,
    Response,
)
from assessment.scoring import RaterResponse

NOT_ABLE_TO_RATE = "na"
MAX_COMMENT_LENGTH = 4000


@dataclass
class Answers:
    """What a rater has given so far: raw points (``None`` = not able to rate) and comments."""

    ratings: dict[str, int | None] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)

    def to_draft(self) -> tuple[dict[str, int | None], dict[str, str]]:
        return dict(self.ratings), dict(self.comments)


class Unavailable(enum.Enum):
    """Why an invitation link cannot take answers now."""

    SUBMITTED = "submitted"
    CLOSED = "closed"


def read_answers(
    instrument: Instrument, form: Mapping[str, str], field_name=lambda item_id: item_id
) -> tuple[Answers, dict[str, str]]:
    """Parse posted values into :class:`Answers`, with an error message per field that is wrong.

    Blank means "not answered yet"; anything not on the instrument's scale is an error, so a
    forged post can never store a value the scale does not have.
    """
    answers = Answers()
    errors: dict[str, str] = {}
    allowed = {str(point): point for point in range(1, instrument.scale.points + 1)}
    for item in instrument.items:
        raw = (form.get(field_name(item.id)) or "").strip()
        if not raw:
            continue
        if raw == NOT_ABLE_TO_RATE and instrument.scale.not_able_to_rate:
            answers.ratings[item.id] = None
        elif raw in allowed:
            answers.ratings[item.id] = allowed[raw]
        else:
            errors[item.id] = f"Choose one of the {instrument.scale.points} points of the scale"
    for question in instrument.open_questions:
        text = (form.get(field_name(question.id)) or "").strip()
        if len(text) > MAX_COMMENT_LENGTH:
            errors[question.id] = f"Please keep this under {MAX_COMMENT_LENGTH} characters"
        if text:
            answers.comments[question.id] = text[:MAX_COMMENT_LENGTH]
    return answers, errors


def missing_items(instrument: Instrument, answers: Answers) -> list[str]:
    return [item.id for item in instrument.items if item.id not in answers.ratings]


def availability(invitation: Invitation) -> Unavailable | None:
    if invitation.status == InvitationStatus.SUBMITTED:
        return Unavailable.SUBMITTED
    if not invitation.leader.cohort.is_open:
        return Unavailable.CLOSED
    return None


def draft_answers(invitation: Invitation) -> Answers:
    if invitation.draft is None:
        return Answers()
    return Answers(dict(invitation.draft.answers), dict(invitation.draft.comments))


def save_draft(session: Session, invitation: Invitation, answers: Answers) -> None:
    ratings, comments = answers.to_draft()
    if invitation.draft is None:
        invitation.draft = DraftResponse(answers=ratings, comments=comments)
    else:
        invitation.draft.answers = ratings
        invitation.draft.comments = comments
    invitation.status = InvitationStatus.DRAFT
    session.flush()


class SubmissionError(ValueError):
    """The answers cannot be submitted as they are."""


def submit(
    session: Session, instrument: Instrument, invitation: Invitation, answers: Answers
) -> None:
    """Store the answers as an unlinked response and mark the invitation used, all at once."""
    if availability(invitation) is not None:
        raise SubmissionError("this invitation can no longer take answers")
    if missing := missing_items(instrument, answers):
        raise SubmissionError(f"{len(missing)} items still need an answer or 'not able to rate'")
    response = Response(
        leader_id=invitation.leader_id,
        relationship_=invitation.relationship_,
        answers=[Answer(item_id=i, value=v) for i, v in answers.ratings.items()],
        comments=[Comment(question_id=q, text=t) for q, t in answers.comments.items()],
    )
    session.add(response)
    invitation.status = InvitationStatus.SUBMITTED
    invitation.draft = None
    session.flush()


def leader_responses(session: Session, leader: Leader) -> list[RaterResponse]:
    """Every submitted response for a leader, as plain data for the scoring layer."""
    responses = session.scalars(
        select(Response)
        .where(Response.leader_id == leader.id)
        .options(selectinload(Response.answers))
    )
    return [
        RaterResponse(
            relationship=Relationship(r.relationship_).value,
            answers={a.item_id: a.value for a in r.answers},
        )
        for r in responses
    ]


def observer_comments(session: Session, leader: Leader, instrument: Instrument) -> list[str]:
    """Observers' comments for a leader, pooled across groups and questions.

    Ordered by question then text, never by author: the report shuffles them itself.
    """
    order = {q.id: index for index, q in enumerate(instrument.open_questions)}
    rows = session.execute(
        select(Comment.question_id, Comment.text)
        .join(Response)
        .where(Response.leader_id == leader.id, Response.relationship_ != Relationship.SELF)
    ).all()
    return [
        text for _, text in sorted(rows, key=lambda row: (order.get(row[0], len(order)), row[1]))
    ]
