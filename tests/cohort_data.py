"""A small cohort with submitted responses in the real database, for report and batch tests."""

from __future__ import annotations

import random
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient

from assessment.cohorts import add_leader, close_cohort, create_cohort
from assessment.core.instruments import Instrument
from assessment.database import Database
from assessment.models import Coach, Relationship
from assessment.responses import NewResponse, store_responses

RATERS = (
    [Relationship.SELF, Relationship.MANAGER]
    + [Relationship.PEER] * 3
    + [Relationship.DIRECT_REPORT] * 2
)
COMMENT = "Explains why the work matters before the targets."


@dataclass(frozen=True)
class SmallCohort:
    id: int
    slug: str
    name: str
    leaders: dict[str, int]  # name -> id


def make_cohort(
    database: Database,
    coach: Coach,
    instrument: Instrument,
    names: tuple[str, ...] = ("Ada Lovelace", "Grace Hopper"),
    name: str = "Report cohort",
    predictions: dict[str, dict[str, int]] | None = None,
) -> SmallCohort:
    """A closed cohort: leaders each rated by themselves, a manager, three peers and two
    direct reports.

    ``predictions`` holds, by leader name, the predicted Others scores their self-assessment
    carries (PRODUCT §5, predicted views); leaders not in it predicted nothing.
    """
    rng = random.Random(len(names))
    with database.transaction() as session:
        cohort = create_cohort(session, session.merge(coach), name, instrument)
        leaders = {
            n: add_leader(session, cohort, n, n.lower().replace(" ", ".") + "@example.org")
            for n in names
        }
        session.flush()
        new = []
        for leader_name, leader in leaders.items():
            for relationship in RATERS:
                ratings = {item.id: rng.randint(2, 5) for item in instrument.items}
                comments = (
                    {instrument.open_questions[0].id: COMMENT}
                    if relationship != Relationship.SELF and instrument.open_questions
                    else {}
                )
                predicted = (
                    (predictions or {}).get(leader_name, {})
                    if relationship == Relationship.SELF
                    else {}
                )
                new.append(NewResponse(leader.id, relationship, ratings, comments, predicted))
        store_responses(session, new)
        close_cohort(session, cohort, "test")
        return SmallCohort(
            cohort.id, cohort.slug, cohort.name, {n: leader.id for n, leader in leaders.items()}
        )


def client_signed_in_as(app: Flask, email: str, password: str) -> FlaskClient:
    """A second browser, signed in as another coach."""
    from tests.conftest import csrf_token

    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return client


def close(database: Database, *cohorts: object) -> None:
    """Close cohorts (by object or name): their figures may only be read once closed."""
    from sqlalchemy import select

    from assessment.cohorts import close_cohort
    from assessment.models import Cohort

    with database.transaction() as session:
        for cohort in cohorts:
            found = (
                session.scalars(select(Cohort).where(Cohort.name == cohort)).one()
                if isinstance(cohort, str)
                else session.get(Cohort, cohort.id)  # type: ignore[attr-defined]
            )
            if found.is_open:
                close_cohort(session, found, "test")


def export_text(database: Database, cohort_name: str, fmt: str, actor: str = "test") -> str:
    """The scores export of a closed cohort, as ``cl360 scores export`` writes it."""
    from sqlalchemy import select

    from assessment.disclosures import content_of, scores
    from assessment.models import Cohort

    with database.transaction() as session:
        cohort = session.scalars(select(Cohort).where(Cohort.name == cohort_name)).one()
        return content_of(scores(session, cohort, fmt, actor=actor)).decode()


def draft_ratings(client: FlaskClient, session) -> dict[str, int | None] | None:
    """The one draft stored, opened with the key of the browser ``client`` (None if it holds
    no key that opens it): what that rater would see, and the only way to read it."""
    from sqlalchemy import select

    from assessment.core.sealing import BrowserKey, unseal
    from assessment.models import DraftResponse

    session.expire_all()
    draft = session.scalar(select(DraftResponse))
    cookie = client.get_cookie(f"cl360_draft_{draft.key_id}", path="/r/")
    key = BrowserKey.from_cookie(draft.key_id, cookie.value if cookie else None)
    data = unseal(key, draft.sealed, f"draft:{draft.invitation_id}") if key else None
    return None if data is None else data["ratings"]
