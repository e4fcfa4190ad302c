"""Clearly labelled demo cohorts of synthetic leaders, so a new install shows a living product.

Two cohorts: a closed one with thirteen leaders whose reports can be read (nothing observer-side
leaves an open cohort, docs/anonymity.md), and an open one with one leader, Mei Chen, for the
visitor to try: her personal page, her self-assessment and a peer rating of her.

The answers are drawn from a seeded random model (a true level per leader and dimension, a
self-view bias per leader, rater leniency and item noise), so every run makes the same cohorts.
Group sizes are chosen so that some groups fall below their minimum and one leader has too few
observers for any observer score: the demo shows the anonymity rules at work, not just numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.accounts import create_coach
from assessment.cohorts import add_leader, close_cohort, create_cohort
from assessment.core.instruments import Instrument
from assessment.disclosures import content_of, leader_pdf
from assessment.invitations import create_invitation, new_link
from assessment.models import (
    Coach,
    Cohort,
    Invitation,
    InvitationStatus,
    Leader,
    LinkPurpose,
    Relationship,
)
from assessment.reporting import report_filename
from assessment.responses import Answers, submit

DEMO_COACH_EMAIL = "coach@example.org"
DEMO_COACH_PASSWORD = "compassion-360"
DEMO_COHORT_NAME = "Demo cohort (synthetic data): ward and service leaders"
TRY_COHORT_NAME = "Demo cohort (synthetic data): try it yourself"
SEED = 360
TRY_LEADER = "Mei Chen"
VISITOR = "Demo visitor"

# name, department, (peers, direct reports, others, has manager) invited and answering
LEADERS: list[tuple[str, str, tuple[int, int, int, bool]]] = [
    ("Amara Okafor", "Emergency department", (4, 5, 1, True)),
    ("Ben Hughes", "Community nursing", (3, 4, 0, True)),
    ("Chloe Davies", "Outpatients", (2, 6, 1, True)),
    ("Daniel Price", "Estates and facilities", (5, 2, 0, True)),
    ("Eleri Morgan", "Maternity", (3, 3, 2, True)),
    ("Farid Rahman", "Pharmacy", (4, 4, 0, False)),
    ("Grace Whitfield", "Mental health services", (3, 7, 1, True)),
    ("Harriet Lewis", "Finance", (2, 2, 0, True)),
    ("Isaac Mensah", "Radiology", (4, 3, 1, True)),
    ("Joanna Kowalska", "Children's services", (1, 1, 0, True)),
    ("Kieran Walsh", "Theatres", (5, 5, 0, True)),
    ("Layla Hussain", "Stroke unit", (3, 4, 3, True)),
    ("Mei Chen", "Research and innovation", (2, 1, 0, True)),
    ("Nathan Brooks", "Human resources", (3, 5, 1, False)),
]

STRENGTH_COMMENTS = [
    "{first} always explains why a change matters for patients before asking us to do it.",
    "When things go wrong {first} asks what happened rather than who is to blame.",
    "{first} stood up to the pressure to cut the handover time and protected the team.",
    "Stays calm on the worst shifts and listens before deciding.",
    "{first} makes time for people who are struggling, even when the targets are tight.",
    "Knows what they stand for and it shows in the decisions they make.",
    "{first} backs people who do things differently instead of pushing them out.",
]
DEVELOPMENT_COMMENTS = [
    "Sometimes {first} reacts very quickly in meetings and it shuts the discussion down.",
    "I would like {first} to challenge the centre more openly when targets make no sense.",
    "It is not always clear how decisions link to what {first} says matters.",
    "{first} could share more of what drives them; we only see the numbers side.",
    "Under pressure {first} can go quiet and it is hard to know what they think.",
    "More curiosity before judging a situation would help the team trust the process.",
]
SELF_COMMENTS = [
    "I want my team to feel safe enough to tell me when things are not right.",
    "I notice I rush to fix things when I am anxious; I am working on pausing.",
]


@dataclass(frozen=True)
class DemoResult:
    cohort: Cohort
    """The closed cohort, whose reports can be read."""
    trial: Cohort
    """The open cohort the visitor tries."""
    created: bool
    try_links: dict[str, str]
    """Paths (``/r/...``, ``/l/...``) for the visitor to try, by what they open."""


def load_demo(session: Session, instrument: Instrument) -> DemoResult:
    """Create the demo coach and cohorts once; later runs only add new try-it links."""
    coach = session.scalar(select(Coach).where(Coach.email == DEMO_COACH_EMAIL))
    if coach is None:
        coach = create_coach(session, DEMO_COACH_EMAIL, DEMO_COACH_PASSWORD)
    cohort = _demo_cohort(session, DEMO_COHORT_NAME)
    created = cohort is None
    if cohort is None:
        cohort = create_cohort(session, coach, DEMO_COHORT_NAME, instrument, is_demo=True)
        leaders = [leader for leader in LEADERS if leader[0] != TRY_LEADER]
        _populate(session, cohort, instrument, random.Random(SEED), leaders)
        audit.record(session, coach.email, "demo.load", f"cohort:{cohort.slug}")
    if cohort.is_open:  # made by an earlier version, when reports could be read while open
        close_cohort(session, cohort, coach.email)
    trial = _demo_cohort(session, TRY_COHORT_NAME)
    if trial is None:
        trial = create_cohort(session, coach, TRY_COHORT_NAME, instrument, is_demo=True)
        leaders = [leader for leader in LEADERS if leader[0] == TRY_LEADER]
        _populate(session, trial, instrument, random.Random(SEED + 1), leaders)
        audit.record(session, coach.email, "demo.load", f"cohort:{trial.slug}")
    return DemoResult(cohort, trial, created, _try_links(session, trial))


def _demo_cohort(session: Session, name: str) -> Cohort | None:
    return session.scalar(select(Cohort).where(Cohort.is_demo, Cohort.name == name))


def _populate(
    session: Session,
    cohort: Cohort,
    instrument: Instrument,
    rng: random.Random,
    leaders: list[tuple[str, str, tuple[int, int, int, bool]]],
) -> None:
    for name, department, (peers, reports, others, has_manager) in leaders:
        email = name.lower().replace(" ", ".").replace("'", "") + "@example.org"
        leader = add_leader(session, cohort, name, email, department)
        level = {d.id: min(4.6, max(2.2, rng.gauss(3.7, 0.45))) for d in instrument.dimensions}
        self_bias = rng.gauss(0.15, 0.55)
        if name == TRY_LEADER:
            # Left for the visitor to fill in through the link `cl360 demo` prints.
            create_invitation(session, leader, Relationship.SELF, actor="demo", rater_name=VISITOR)
        else:
            _answer(session, instrument, leader, Relationship.SELF, level, self_bias, rng)
        groups = [
            (Relationship.MANAGER, int(has_manager)),
            (Relationship.PEER, peers),
            (Relationship.DIRECT_REPORT, reports),
            (Relationship.OTHER, others),
        ]
        for relationship, count in groups:
            for _ in range(count):
                _answer(session, instrument, leader, relationship, level, rng.gauss(0, 0.35), rng)
        # A couple of raters who have not answered yet, so completion is not uniformly full.
        for _ in range(rng.choice([0, 1, 2])):
            create_invitation(session, leader, Relationship.PEER, actor="demo")


def _answer(
    session: Session,
    instrument: Instrument,
    leader: Leader,
    relationship: Relationship,
    level: dict[str, float],
    bias: float,
    rng: random.Random,
) -> None:
    invitation = create_invitation(session, leader, relationship, actor="demo")
    points = instrument.scale.points
    not_able = 0.03 if relationship in (Relationship.SELF, Relationship.DIRECT_REPORT) else 0.08
    ratings: dict[str, int | None] = {}
    for item in instrument.items:
        if rng.random() < not_able:
            ratings[item.id] = None
            continue
        true = level[item.dimension] + bias + rng.gauss(0, 0.55)
        value = min(points, max(1, round(true)))
        ratings[item.id] = points + 1 - value if item.reverse else value
    first = leader.name.split()[0]
    comments: dict[str, str] = {}
    predictions: dict[str, int] = {}
    questions = instrument.open_questions
    if relationship == Relationship.SELF:
        if questions:
            comments[questions[0].id] = rng.choice(SELF_COMMENTS)
        predictions = _predictions(instrument, level, bias, random.Random(leader.name))
    else:
        for question, bank, chance in zip(
            questions, (STRENGTH_COMMENTS, DEVELOPMENT_COMMENTS), (0.5, 0.4), strict=False
        ):
            if rng.random() < chance:
                comments[question.id] = rng.choice(bank).format(first=first)
    submit(session, instrument, invitation, Answers(ratings, comments, predictions))


def _predictions(
    instrument: Instrument, level: dict[str, float], bias: float, rng: random.Random
) -> dict[str, int]:
    """A leader's guesses of their Others scores: near the truth, pulled by their self-bias.

    One leader in five makes none (predicting is optional). A generator of its own, so the
    rest of the demo cohort is the same whether or not predictions are made.
    """
    if rng.random() < 0.2:
        return {}
    points = instrument.scale.points
    return {
        d.id: min(points, max(1, round(level[d.id] + bias / 2 + rng.gauss(0, 0.4))))
        for d in instrument.dimensions
    }


def _try_links(session: Session, cohort: Cohort) -> dict[str, str]:
    """New links for the visitor: Mei Chen's own page (nominations, progress), her
    self-assessment and a peer rating of her. Links printed by earlier runs keep working."""
    leader = session.scalars(
        select(Leader).where(Leader.cohort_id == cohort.id, Leader.name == TRY_LEADER)
    ).one()
    links = {"leader": "/l/" + new_link(session, leader, LinkPurpose.SHOWN, actor="demo")}
    for relationship in (Relationship.SELF, Relationship.PEER):
        waiting = session.scalar(
            select(Invitation).where(
                Invitation.leader_id == leader.id,
                Invitation.relationship_ == relationship,
                Invitation.rater_name == VISITOR,
                Invitation.status != InvitationStatus.SUBMITTED,
            )
        )
        if waiting is None and relationship != Relationship.SELF:  # one self-assessment only
            waiting = create_invitation(
                session, leader, relationship, actor="demo", rater_name=VISITOR
            )
        if waiting is not None:
            token = new_link(session, waiting, LinkPurpose.SHOWN, actor="demo")
            links[relationship.value] = "/r/" + token
    return links


def write_sample_reports(session: Session, cohort: Cohort, folder: Path) -> list[Path]:
    """Each leader's report of the closed demo cohort, through the disclosure ledger."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for leader in cohort.leaders:
        path = folder / report_filename(leader)
        path.write_bytes(content_of(leader_pdf(session, leader, actor="demo")))
        written.append(path)
    return written
