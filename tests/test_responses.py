"""Reading responses back fast: :func:`assessment.responses.driver_batches`, which reads a large
cohort's answers from the database driver's cursor, returns what SQLAlchemy returns."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, func, select

from assessment import responses
from assessment.cohorts import create_cohort
from assessment.models import Answer, Cohort, Leader, Relationship, Response
from assessment.responses import NewResponse, driver_batches, store_responses
from tests.builders import tiny_instrument

INSTRUMENT = tiny_instrument()
ITEMS = [item.id for item in INSTRUMENT.items]
BATCH = 3

TEXT = st.sampled_from(ITEMS) | st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20
)
"""Text for names and for the literals of a query: item ids, or any text a database holds
(UTF-8, without NUL)."""
ANSWERS = st.fixed_dictionaries({item: st.none() | st.integers(1, 5) for item in ITEMS})
COHORT = st.lists(
    st.tuples(TEXT, st.lists(st.tuples(st.sampled_from(list(Relationship)), ANSWERS), max_size=5)),
    max_size=4,
)
"""Leaders, each with a name and the responses they received."""


@pytest.fixture
def cohort(database, coach, monkeypatch) -> Cohort:
    monkeypatch.setattr(responses, "STREAM_ROWS", BATCH)  # several batches from a few rows
    with database.transaction() as session:
        return create_cohort(session, session.merge(coach), "Read fast", INSTRUMENT)


def queries(cohort_id: int, texts: list[str], number: float) -> list:
    """Queries of the kinds read this way: ids, text and numbers, joined, filtered by literals
    (rendered inline by the fast path, bound by SQLAlchemy), computed and aggregated."""
    column = case({item: index for index, item in enumerate(ITEMS)}, value=Answer.item_id, else_=-1)
    in_cohort = Leader.cohort_id == cohort_id
    return [
        select(Response.id, Response.leader_id).join(Leader).where(in_cohort).order_by(Response.id),
        select(Answer.response_id, Answer.item_id, Answer.value)
        .where(Answer.item_id.in_(texts))
        .order_by(Answer.response_id, Answer.item_id),
        select(
            Response.id, func.count(), func.sum(column * 16 + Answer.value), func.max(Answer.value)
        )
        .join(Answer, Answer.response_id == Response.id)
        .join(Leader, Leader.id == Response.leader_id)
        .where(in_cohort, Answer.value > number)
        .group_by(Response.id)
        .order_by(Response.id),
        select(Leader.id, Leader.name)
        .where(Leader.name.in_(texts) | in_cohort)
        .order_by(Leader.id),
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    leaders=COHORT,
    texts=st.lists(TEXT, min_size=1, max_size=4),
    number=st.integers(0, 5) | st.floats(0, 5),
)
def test_the_driver_cursor_returns_what_sqlalchemy_returns(
    database, cohort, leaders, texts, number
):
    with database.session(writes=True) as session:
        for index, (name, received) in enumerate(leaders):
            leader = Leader(cohort_id=cohort.id, name=name, email=f"leader{index}@example.org")
            session.add(leader)
            session.flush()
            store_responses(
                session, [NewResponse(leader.id, group, answers, {}) for group, answers in received]
            )
        for query in queries(cohort.id, texts, number):
            batches = list(driver_batches(session, query))
            assert [row for batch in batches for row in batch] == [
                tuple(row) for row in session.execute(query)
            ]
            assert all(0 < len(batch) <= BATCH for batch in batches)
        session.rollback()
