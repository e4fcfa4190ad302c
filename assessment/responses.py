"""Drafts and submissions of questionnaires, and reading them back for scoring.

Submission is the anonymity boundary (docs/anonymity.md): the draft, which is linked to its invitation,
is deleted in the same transaction that writes a :class:`Response` with no such link.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from sqlalchemy import Select, String, Table, case, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from assessment.core.instruments import RATER_GROUPS, Instrument
from assessment.core.scoring import RaterResponse, ResponseTable
from assessment.core.sealing import BrowserKey, seal, unseal
from assessment.core.text import free_text
from assessment.database import Base
from assessment.models import (
    Answer,
    Cohort,
    CohortStatus,
    Comment,
    DraftResponse,
    Invitation,
    InvitationStatus,
    Leader,
    Prediction,
    Relationship,
    Response,
    new_response_id,
)

NOT_ABLE_TO_RATE = "na"
MAX_COMMENT_LENGTH = 4000
PREDICTION_FIELD = "predict:{}"
"""Form field of the leader's prediction for a dimension (no item id can contain a colon)."""


@dataclass
class Answers:
    """What a rater has given so far: raw points (``None`` = not able to rate), comments, and
    (self-assessment only) the leader's predicted Others score per dimension."""

    ratings: dict[str, int | None] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    predictions: dict[str, int] = field(default_factory=dict)


class Unavailable(enum.Enum):
    """Why an invitation link cannot take answers now."""

    SUBMITTED = "submitted"
    CLOSED = "closed"


def read_answers(
    instrument: Instrument,
    form: Mapping[str, str],
    field_name=lambda item_id: item_id,
    *,
    predictions: bool = False,
) -> tuple[Answers, dict[str, str]]:
    """Parse posted values into :class:`Answers`, with an error message per field that is wrong.

    Blank means "not answered yet"; anything not on the instrument's scale is an error, so a
    forged post can never store a value the scale does not have. Predictions are read only
    when asked for (the leader's self-assessment); an observer's form has none to send.
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
        text = free_text(form.get(field_name(question.id)) or "")
        if len(text) > MAX_COMMENT_LENGTH:
            errors[question.id] = f"Please keep this under {MAX_COMMENT_LENGTH} characters"
        if text:
            answers.comments[question.id] = text[:MAX_COMMENT_LENGTH]
    for dimension in instrument.dimensions if predictions else ():
        name = PREDICTION_FIELD.format(dimension.id)
        raw = (form.get(name) or "").strip()
        if raw in allowed:
            answers.predictions[dimension.id] = allowed[raw]
        elif raw:
            errors[name] = f"Choose one of the {instrument.scale.points} points of the scale"
    return answers, errors


def missing_items(instrument: Instrument, answers: Answers) -> list[str]:
    return [item.id for item in instrument.items if item.id not in answers.ratings]


def availability(invitation: Invitation) -> Unavailable | None:
    if invitation.status == InvitationStatus.SUBMITTED:
        return Unavailable.SUBMITTED
    if not invitation.leader.cohort.is_open:
        return Unavailable.CLOSED
    return None


class LinkUnavailable(Exception):
    """The invitation stopped taking answers while this request was on its way: another
    request submitted it first, or the coach closed the cohort."""

    def __init__(self, reason: Unavailable) -> None:
        super().__init__(reason.value)
        self.reason = reason


KeyFor = Callable[[str], BrowserKey | None]
"""The key this browser holds under a key id (from its cookies), or None."""


def _context(invitation: Invitation) -> str:
    return f"draft:{invitation.id}"


def draft_answers(invitation: Invitation, key_for: KeyFor) -> tuple[Answers, bool]:
    """The answers saved so far, as this browser can open them, and whether a draft exists
    that it cannot (saved in another browser: only that one can read it)."""
    draft = invitation.draft
    if draft is None:
        return Answers(), False
    key = key_for(draft.key_id)
    data = unseal(key, draft.sealed, _context(invitation)) if key is not None else None
    if data is None:
        return Answers(), True
    return Answers(dict(data["ratings"]), dict(data["comments"]), dict(data["predictions"])), False


def browser_key(invitation: Invitation, key_for: KeyFor) -> BrowserKey:
    """The key to seal this browser's draft with: the one it already holds for the draft,
    or a new one (which then replaces a draft saved in another browser)."""
    draft = invitation.draft
    key = key_for(draft.key_id) if draft is not None else None
    return key or BrowserKey.new()


def _claim(
    session: Session, invitation: Invitation, status: InvitationStatus, **values: Any
) -> None:
    """Move the invitation to ``status`` if it still takes answers, or raise
    :class:`LinkUnavailable`.

    The database decides, not what this request read earlier: one conditional UPDATE whose row
    count says whether the invitation was still unsubmitted in an open cohort. On PostgreSQL a
    concurrent claim waits for this row's lock and then finds the new status; on SQLite writers
    take turns (:mod:`assessment.database`). So of any number of simultaneous submits exactly
    one wins, and a save that arrives after a submit can never reopen the link.
    """
    still_open = select(Leader.id).join(Cohort).where(Cohort.status == CohortStatus.OPEN)
    # An UPDATE's result is a CursorResult, which has the row count the session's types omit.
    claimed = session.execute(  # type: ignore[attr-defined]
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.status != InvitationStatus.SUBMITTED,
            Invitation.leader_id.in_(still_open),
        )
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        # What this request read is out of date: read what the database holds now.
        session.refresh(invitation)
        session.refresh(invitation.leader.cohort)
        raise LinkUnavailable(availability(invitation) or Unavailable.SUBMITTED)
    for name, value in {"status": status, **values}.items():
        set_committed_value(invitation, name, value)


def save_draft(session: Session, invitation: Invitation, answers: Answers, key: BrowserKey) -> None:
    """Keep the answers so far with the invitation, sealed with the browser's ``key``, unless
    it was submitted meanwhile. The caller hands the key to the browser (a cookie)."""
    _claim(session, invitation, InvitationStatus.DRAFT)
    # Read after the claim, which holds the invitation's row: a concurrent save of the same
    # invitation has committed its draft by now, so this updates it instead of adding another.
    draft = session.scalars(
        select(DraftResponse)
        .where(DraftResponse.invitation_id == invitation.id)
        .execution_options(populate_existing=True)
    ).first()
    if draft is None:
        draft = DraftResponse(invitation_id=invitation.id)
        session.add(draft)
    draft.key_id = key.id
    draft.sealed = seal(
        key,
        {
            "ratings": dict(answers.ratings),
            "comments": dict(answers.comments),
            "predictions": dict(answers.predictions),
        },
        _context(invitation),
    )
    session.flush()


def discard_draft(session: Session, invitation: Invitation) -> None:
    """Drop a draft nobody may open any more (the coach made a new link: a new start)."""
    session.execute(delete(DraftResponse).where(DraftResponse.invitation_id == invitation.id))
    session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.status == InvitationStatus.DRAFT)
        .values(status=InvitationStatus.PENDING)
        .execution_options(synchronize_session=False)
    )
    session.expire(invitation)


class SubmissionError(ValueError):
    """The answers cannot be submitted as they are."""


def submission_key(submission: str | None) -> str | None:
    """What an invitation keeps of the form that submitted it: a hash of the random value the
    form carried, so the same form sent twice (a double click) is recognised, and nothing else."""
    return hashlib.sha256(submission.encode()).hexdigest() if submission else None


def submitted_by(invitation: Invitation, submission: str | None) -> bool:
    """Whether this invitation was submitted by the form that carried ``submission``."""
    key = submission_key(submission)
    return (
        key is not None
        and invitation.status == InvitationStatus.SUBMITTED
        and hmac.compare_digest(invitation.submission_key or "", key)
    )


def submit(
    session: Session,
    instrument: Instrument,
    invitation: Invitation,
    answers: Answers,
    *,
    submission: str | None = None,
) -> None:
    """Store the answers as an unlinked response and mark the invitation used, all at once.

    Raises :class:`LinkUnavailable` when another request used the invitation first (then
    nothing is written) and :class:`SubmissionError` when answers are missing.
    """
    if missing := missing_items(instrument, answers):
        raise SubmissionError(f"{len(missing)} items still need an answer or 'not able to rate'")
    _claim(
        session,
        invitation,
        InvitationStatus.SUBMITTED,
        submission_key=submission_key(submission),
    )
    session.execute(delete(DraftResponse).where(DraftResponse.invitation_id == invitation.id))
    store_responses(
        session,
        [
            NewResponse(
                invitation.leader_id,
                invitation.relationship_,
                answers.ratings,
                answers.comments,
                answers.predictions if invitation.relationship_ == Relationship.SELF else {},
            )
        ],
    )
    touch_leader_responses(session, invitation.leader_id)


@dataclass(frozen=True)
class NewResponse:
    """A complete questionnaire to store: from the rater form or from an imported file."""

    leader_id: int
    relationship: Relationship
    ratings: Mapping[str, int | None]
    comments: Mapping[str, str]
    predictions: Mapping[str, int] = field(default_factory=dict)
    """The leader's predicted Others score per dimension (self responses only)."""


STORE_BATCH = 500
"""Responses written per round of bulk inserts (bounds memory on large imports)."""


def store_responses(session: Session, responses: Iterable[NewResponse]) -> int:
    """Write submitted responses exactly as the anonymity rules want them (docs/anonymity.md), whatever their source.

    Each gets a random id, no timestamp and no link to an invitation; answers and comments are
    keyed by (response, item). Rows go in as bulk inserts (one statement per table and batch),
    so importing thousands of paper responses costs what a handful of web submissions does per
    row. Only flushes: the caller's transaction decides whether it all lands. Returns the count.
    """
    session.flush()
    stored = 0
    batches = iter(responses)
    while batch := list(islice(batches, STORE_BATCH)):
        response_rows, answer_rows, comment_rows, prediction_rows = [], [], [], []
        for new in batch:
            response_id = new_response_id()
            response_rows.append(
                {"id": response_id, "leader_id": new.leader_id, "relationship_": new.relationship}
            )
            answer_rows += [
                {"response_id": response_id, "item_id": item_id, "value": value}
                for item_id, value in new.ratings.items()
            ]
            comment_rows += [
                {"response_id": response_id, "question_id": question_id, "text": text}
                for question_id, text in new.comments.items()
            ]
            prediction_rows += [
                {"response_id": response_id, "dimension_id": dimension_id, "value": value}
                for dimension_id, value in new.predictions.items()
            ]
        session.execute(insert(Response), response_rows)
        if answer_rows:
            session.execute(insert(Answer), answer_rows)
        if comment_rows:
            session.execute(insert(Comment), comment_rows)
        if prediction_rows:
            session.execute(insert(Prediction), prediction_rows)
        stored += len(batch)
    return stored


def leader_responses(
    session: Session, leader: Leader, response_ids: Collection[str] | None = None
) -> list[RaterResponse]:
    """Every submitted response for a leader (or only ``response_ids``), for the scoring layer.

    Ordered by response id, a random value, so the order says nothing about who answered when
    and the same set always scores the same way.
    """
    return list(leader_responses_by_id(session, leader, response_ids).values())


def leader_responses_by_id(
    session: Session, leader: Leader, response_ids: Collection[str] | None = None
) -> dict[str, RaterResponse]:
    """A leader's responses keyed by response id: what the differencing rule works on
    (:func:`assessment.core.disclosure.regeneration_responses`)."""
    query = (
        select(Response)
        .where(Response.leader_id == leader.id)
        .order_by(Response.id)
        .options(selectinload(Response.answers))
    )
    if response_ids is not None:
        query = query.where(Response.id.in_(list(response_ids)))
    return {
        r.id: RaterResponse(
            relationship=Relationship(r.relationship_).value,
            answers={a.item_id: a.value for a in r.answers},
        )
        for r in session.scalars(query)
    }


STREAM_ROWS = 20_000
CODE_BASE = 16


def cohort_response_table(
    session: Session,
    cohort_id: int,
    instrument: Instrument,
    response_ids: Mapping[int, Collection[str]] | None = None,
) -> ResponseTable[int]:
    """Every submitted response of a cohort's leaders as one :class:`ResponseTable`.

    Keyed by leader id (every leader of the cohort, with or without responses, in id order).
    One query per table whatever the cohort's size (never one per leader), the answers
    streamed in batches, so scoring ten thousand leaders reads the answer table once.
    ``response_ids`` limits chosen leaders to those responses (a report regenerated after a
    release, see :func:`assessment.core.disclosure.regeneration_responses`); other leaders keep all
    of theirs. Each leader's responses are in response-id order, as in :func:`leader_responses`.
    """
    keys = list(
        session.scalars(select(Leader.id).where(Leader.cohort_id == cohort_id).order_by(Leader.id))
    )
    position = {leader_id: index for index, leader_id in enumerate(keys)}
    kept = _kept(response_ids)
    row_of: dict[str, int] = {}
    leaders = array("q")
    relationships = array("q")
    group_codes = {group: code for code, group in enumerate(RATER_GROUPS)}
    for response_id, leader_id, relationship in session.execute(
        select(Response.id, Response.leader_id, Response.relationship_)
        .join(Leader, Leader.id == Response.leader_id)
        .where(Leader.cohort_id == cohort_id)
        .order_by(Response.leader_id, Response.id)
    ):
        if not kept(leader_id, response_id):
            continue
        row_of[response_id] = len(row_of)
        leaders.append(position[leader_id])
        relationships.append(group_codes[Relationship(relationship).value])
    # Each response's answers come back as one text of codes "column * 16 + value" (scale
    # points are at most 11), which NumPy parses in one go: a row per answer would cost a
    # Python tuple and two strings for each of a large cohort's millions of answers.
    column = case(
        {item.id: index for index, item in enumerate(instrument.items)},
        value=Answer.item_id,
        else_=-1,
    )
    code = column * CODE_BASE + Answer.value
    joined = (
        func.string_agg(cast(code, String), ",")
        if session.get_bind().dialect.name == "postgresql"
        else func.group_concat(code, ",")
    )
    texts: list[str] = []
    rows = array("q")
    lengths = array("q")
    for batch in driver_batches(
        session,
        select(Response.id, joined)
        .join(Leader, Leader.id == Response.leader_id)
        .join(Answer, Answer.response_id == Response.id)
        .where(Leader.cohort_id == cohort_id, Answer.value.is_not(None))
        .group_by(Response.id),
    ):
        for response_id, text in batch:
            row = row_of.get(response_id)
            if row is not None:
                texts.append(text)
                rows.append(row)
                lengths.append(text.count(",") + 1)
    matrix = np.full((len(row_of), len(instrument.items)), np.nan)
    if texts:
        codes = np.fromstring(",".join(texts), dtype=np.int64, sep=",")
        row_index = np.repeat(
            np.frombuffer(rows, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64)
        )
        known = codes >= 0
        matrix[row_index[known], codes[known] // CODE_BASE] = codes[known] % CODE_BASE
    return ResponseTable(
        keys,
        np.frombuffer(leaders, dtype=np.int64).astype(np.intp),
        np.frombuffer(relationships, dtype=np.int64).astype(np.intp),
        matrix,
    )


def cohort_predictions(
    session: Session,
    cohort_id: int,
    response_ids: Mapping[int, Collection[str]] | None = None,
) -> dict[int, dict[str, float]]:
    """Each leader's predicted Others score per dimension, from their self-assessment.

    Keyed by leader id, only leaders who predicted anything. ``response_ids`` limits chosen
    leaders to those responses, as in :func:`cohort_response_table`.
    """
    kept = _kept(response_ids)
    found: dict[int, dict[str, float]] = {}
    for leader_id, response_id, dimension_id, value in session.execute(
        select(Response.leader_id, Response.id, Prediction.dimension_id, Prediction.value)
        .join(Prediction, Prediction.response_id == Response.id)
        .join(Leader, Leader.id == Response.leader_id)
        .where(Leader.cohort_id == cohort_id, Response.relationship_ == Relationship.SELF)
        .order_by(Response.leader_id, Response.id)
    ):
        if not kept(leader_id, response_id):
            continue
        found.setdefault(leader_id, {})[dimension_id] = value
    return found


def _kept(response_ids: Mapping[int, Collection[str]] | None) -> Callable[[int, str], bool]:
    """Whether a (leader id, response id) counts: every response of a leader, unless
    ``response_ids`` limits that leader to some of theirs."""
    keep = {leader: set(ids) for leader, ids in (response_ids or {}).items()}
    return lambda leader_id, response_id: leader_id not in keep or response_id in keep[leader_id]


def driver_batches(session: Session, statement: Select[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """The rows ``session.execute(statement)`` returns, as the database driver's own tuples,
    in batches, straight from its cursor.

    For the millions of answers of a large cohort: SQLAlchemy's result rows double the cost
    of reading them. The statement is compiled by SQLAlchemy for the session's database with
    its parameters rendered inline (ids and instrument ids here), and runs on the session's
    connection, in its transaction; on PostgreSQL a server-side cursor streams the rows
    instead of loading them all into memory at once. The driver's values are SQLAlchemy's for
    integer, float and text columns, the only ones to select: a column SQLAlchemy converts on
    the way out (an enum, a date) would come back unconverted. tests/test_responses.py checks
    the rows are the same.
    """
    connection = session.connection()
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    driver: Any = connection.connection.driver_connection
    cursor = (
        driver.cursor(name="cl360_stream")
        if connection.dialect.name == "postgresql"
        else driver.cursor()
    )
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(STREAM_ROWS):
            yield batch
    finally:
        cursor.close()


def observer_comments(
    session: Session,
    leader: Leader,
    instrument: Instrument,
    response_ids: Collection[str] | None = None,
) -> list[str]:
    """Observers' comments for a leader (or of ``response_ids`` only), pooled across groups and
    questions.

    Ordered by question then text, never by author: the report shuffles them itself. A comment
    the coach moderated is given as redacted (``assessment.moderation``), never the original.
    """
    order = {q.id: index for index, q in enumerate(instrument.open_questions)}
    query = (
        select(Comment.question_id, func.coalesce(Comment.redacted_text, Comment.text))
        .join(Response)
        .where(Response.leader_id == leader.id, Response.relationship_ != Relationship.SELF)
    )
    if response_ids is not None:
        query = query.where(Response.id.in_(list(response_ids)))
    rows = session.execute(query).all()
    return [
        text for _, text in sorted(rows, key=lambda row: (order.get(row[0], len(order)), row[1]))
    ]


def set_language(session: Session, invitation: Invitation, language: str) -> None:
    """The rater's choice of language for their questionnaire (a translation of the same items)."""
    invitation.language = language
    session.flush()


# -- Storage that forgets order (docs/anonymity.md, "What the database remembers") ----------

ANSWER_TABLES = (Response, Answer, Comment, Prediction)
"""The tables of submitted responses, parent first."""


def touch_leader_responses(session: Session, leader_id: int) -> None:
    """On PostgreSQL, rewrite every submitted row of the leader in the submitting transaction.

    PostgreSQL stamps each row version with the transaction that wrote it (``xmin``), and the
    submit transaction also updates the invitation: without this, the two would share a stamp
    and tie the response to its invitation. With it, all the leader's responses carry the
    latest submit's stamp, which says only that somebody submitted last. SQLite keeps no such
    stamp.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = select(Response.id).where(Response.leader_id == leader_id).scalar_subquery()
    session.execute(
        update(Response).where(Response.leader_id == leader_id).values(leader_id=Response.leader_id)
    )
    for table, key in ((Answer, Answer.item_id), (Comment, Comment.question_id)):
        session.execute(update(table).where(table.response_id.in_(ids)).values({key: key}))
    session.execute(
        update(Prediction)
        .where(Prediction.response_id.in_(ids))
        .values(dimension_id=Prediction.dimension_id)
    )


def forget_order(session: Session, cohort_id: int) -> None:
    """Rewrite a closing cohort's submitted rows in the order of their random keys.

    Rows sit in a table roughly in the order they were written, and an access log tells when
    each link was used: together they could tie responses to people. Deleting and re-inserting
    every response of the cohort (with its answers, comments and predictions) in key order, in
    the transaction that closes it, leaves their physical order and their write stamps saying
    nothing about who answered when. (On SQLite the tables are also kept without row ids, in key
    order, and the database file is vacuumed after the close; on PostgreSQL autovacuum reclaims
    the old row versions.)
    """
    leaders = select(Leader.id).where(Leader.cohort_id == cohort_id).scalar_subquery()
    ids = select(Response.id).where(Response.leader_id.in_(leaders)).scalar_subquery()
    kept = {}
    for model in ANSWER_TABLES:
        table = _table(model)
        where = (
            table.c.leader_id.in_(leaders) if model is Response else table.c.response_id.in_(ids)
        )
        order = [table.c[c.name] for c in table.primary_key.columns]
        kept[model] = [
            dict(row)
            for row in session.execute(select(table).where(where).order_by(*order)).mappings()
        ]
    responses = _table(Response)
    session.execute(delete(responses).where(responses.c.leader_id.in_(leaders)))
    for model in ANSWER_TABLES:
        if kept[model]:
            session.execute(insert(_table(model)), kept[model])


def _table(model: type[Base]) -> Table:
    """A mapped class's table (the ORM types it only as a ``FromClause``)."""
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table
