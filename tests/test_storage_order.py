"""What the database remembers: neither physical row order nor system columns nor the audit
trail tie a submitted response to the invitation that produced it (docs/anonymity.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from assessment.models import AuditEvent, Invitation, InvitationStatus, Response
from tests.builders import answer_all, csrf_token, make_links, post_form

RATERS = 6


@pytest.fixture
def submitted_in_order(cohort_setup, instrument, session):
    """Six peers submit one after another, each through their own link, then the cohort closes."""
    client, cohort_url, leader_url = cohort_setup
    links = make_links(client, leader_url, "peer", RATERS)
    audit_before = session.scalar(select(func.count()).select_from(AuditEvent))
    order: list[str] = []  # response ids as they were submitted, which only this test knows
    for value, link in enumerate(links, start=1):
        submitted = post_form(client, link, answer_all(instrument, str(1 + value % 5)))
        assert submitted.status_code == 302
        ids = set(session.scalars(select(Response.id)))
        order += sorted(ids - set(order))
        session.expire_all()
    session.expire_all()
    # No rater event in the audit trail: submitting records nothing about who or when.
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before
    page = client.get(cohort_url).get_data(as_text=True)
    closed = client.post(cohort_url + "/close", data={"csrf_token": csrf_token(page)})
    assert closed.status_code == 302
    return order


def test_row_order_after_the_close_is_not_the_order_of_submission(submitted_in_order, database):
    dialect = database.engine.dialect.name
    with database.engine.connect() as connection:
        if dialect == "sqlite":
            with pytest.raises(Exception, match="rowid"):
                connection.execute(text("SELECT rowid FROM response"))
            physical = list(connection.execute(text("SELECT id FROM response")).scalars())
            assert physical == sorted(physical)  # stored in the random keys' order
        else:
            # Rewritten in key order at the close, into whatever space the table has free, so
            # a row's place depends on its random key, not on when it was submitted.
            physical = list(
                connection.execute(text("SELECT id FROM response ORDER BY ctid")).scalars()
            )
    assert sorted(physical) == sorted(submitted_in_order) and len(physical) == RATERS
    assert physical != submitted_in_order


def test_no_system_column_ties_a_response_to_its_invitation(submitted_in_order, database):
    if database.engine.dialect.name != "postgresql":
        pytest.skip("xmin is PostgreSQL's; SQLite keeps no write stamps")
    with database.engine.connect() as connection:
        responses = set(
            connection.execute(text("SELECT xmin::text FROM response")).scalars()
        ) | set(connection.execute(text("SELECT xmin::text FROM answer")).scalars())
        invitations = set(connection.execute(text("SELECT xmin::text FROM invitation")).scalars())
    assert len(responses) == 1  # one stamp for all: the transaction that closed the cohort
    assert not responses & invitations


def test_an_invitation_records_that_it_was_used_never_when(submitted_in_order, session):
    columns = set(Invitation.__table__.columns.keys())
    assert not {c for c in columns if c.endswith("_at")} - {"created_at", "invited_at"}
    statuses = set(session.scalars(select(Invitation.status)))
    assert statuses == {InvitationStatus.SUBMITTED}
