"""What more than one test module builds: people, cohorts, questionnaires, answers and reports.

Test modules import helpers from here and never from one another, so a test module can be read
(and changed) on its own: anything it did not define itself is either a fixture in conftest.py,
the live server of live.py, the product, or here. Fixtures stay in conftest.py; this module
holds plain functions and data, which conftest.py's fixtures use too.
"""

from __future__ import annotations

import io
import random
import re
import time
from dataclasses import dataclass
from datetime import date

import pypdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect
from sqlalchemy import select

from assessment import accounts, cohorts, disclosures, jobs
from assessment.config import PROJECT_ROOT, Settings
from assessment.core.instruments import Instrument
from assessment.core.scoring import RaterResponse
from assessment.core.sealing import BrowserKey, unseal
from assessment.database import Database
from assessment.invitations import create_invitation
from assessment.models import Coach, Cohort, DraftResponse, Job, Leader, Relationship
from assessment.responses import Answers, NewResponse, store_responses, submit

# -- the coach and the questionnaires the product ships ----------------------------------------

#: The coach the ``coach`` fixture creates and ``signed_in`` signs in as.
COACH_EMAIL = "coach@example.org"
COACH_PASSWORD = "a long coach password"
DEFAULT_INSTRUMENT = PROJECT_ROOT / "instruments" / "compassionate-leadership.v1.yaml"
PULSE_INSTRUMENT = PROJECT_ROOT / "instruments" / "compassionate-leadership-pulse.v1.yaml"
SPANISH = PROJECT_ROOT / "instruments" / "compassionate-leadership.v1.es.yaml"


# -- through the web, as a coach or a rater would ----------------------------------------------


def require_redis(url: str, needed_for: str) -> None:
    """Skip (with a sentence) when Redis does not answer, or fail where it is required
    (``CL360_REQUIRE_REDIS``, which ``.ci/run`` sets)."""
    import os

    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if os.environ.get("CL360_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required here but {url} does not answer")
        pytest.skip(f"Redis does not answer at {url}: {needed_for} needs it")


def coach_signed_in(browser, live_server: str, viewport: dict[str, int]):
    """A Chromium page signed in as the ``coach`` fixture's coach."""
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(live_server + "/login")
    page.get_by_label("Email").fill(COACH_EMAIL)
    page.get_by_label("Password").fill(COACH_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def job_of(response) -> int:
    """The id of the job a coach's action started (it redirects to the job's page)."""
    assert response.status_code == 302, response.status_code
    match = re.search(r"/jobs/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def wait_for_job(client: FlaskClient, response, seconds: float = 180) -> dict:
    """Wait until the job a coach's action started has ended; its state as the page polls it."""
    job_id = job_of(response)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(f"/jobs/{job_id}.json").get_json()
        if status["finished"]:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def run_job(database: Database, settings: Settings, name: str, **ids: int) -> Job:
    """Record a job as a coach's click would, and run it here to its end; its row."""
    with database.transaction() as session:
        job_id = jobs.submit(session, name, requested_by=COACH_EMAIL, **ids).id
    jobs.run(database, settings, job_id)
    with database.session() as session:
        record = session.get(Job, job_id)
        assert record is not None
        return record


def csrf_token(html: str) -> str:
    """The token a form on ``html`` carries: every POST needs the one from the page it is on."""
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "page has no CSRF token"
    return match.group(1)


def client_signed_in_as(app: Flask, email: str, password: str) -> FlaskClient:
    """A second browser, signed in as another coach."""
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    return client


def create_cohort(
    client: FlaskClient,
    name: str = "Ward leaders 2027",
    instrument: str = "compassionate-leadership@1",
) -> str:
    """A cohort made through the coach's form; returns its address."""
    page = client.get("/cohorts").get_data(as_text=True)
    response = client.post(
        "/cohorts", data={"name": name, "instrument": instrument, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def add_leader(client: FlaskClient, cohort_url: str, name: str, email: str) -> str:
    """A leader added on the cohort page; returns the address of their page."""
    page = client.get(cohort_url).get_data(as_text=True)
    response = client.post(
        cohort_url, data={"name": name, "email": email, "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    page = client.get(cohort_url).get_data(as_text=True)
    return re.search(rf'href="([^"]+/leaders/\d+)">{name}<', page).group(1)


def make_links(
    client: FlaskClient, leader_url: str, relationship: str, count: int = 1
) -> list[str]:
    """Rater links made on the leader's page, read off the page that shows them (the only
    time it does), as paths the test client can open."""
    page = client.get(leader_url).get_data(as_text=True)
    response = client.post(
        leader_url,
        data={"relationship": relationship, "count": count, "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    return [
        url.removeprefix("http://localhost")
        for url in re.findall(
            r'value="(http://localhost/r/[^"]+)"', response.get_data(as_text=True)
        )
    ]


def answer_all(instrument, value: str = "4") -> dict[str, str]:
    """The questionnaire form's fields with every statement rated ``value``."""
    return {item.id: value for item in instrument.items}


def post_form(client: FlaskClient, link: str, data: dict[str, str], action: str = "submit"):
    """A rater's form sent from the page at ``link``: ``action`` is "submit" or "save"."""
    page = client.get(link).get_data(as_text=True)
    return client.post(link, data={**data, "action": action, "csrf_token": csrf_token(page)})


def draft_ratings(client: FlaskClient, session) -> dict[str, int | None] | None:
    """The one draft stored, opened with the key of the browser ``client`` (None if it holds
    no key that opens it): what that rater would see, and the only way to read it."""
    session.expire_all()
    draft = session.scalar(select(DraftResponse))
    cookie = client.get_cookie(f"cl360_draft_{draft.key_id}", path="/r/")
    key = BrowserKey.from_cookie(draft.key_id, cookie.value if cookie else None)
    data = unseal(key, draft.sealed, f"draft:{draft.invitation_id}") if key else None
    return None if data is None else data["ratings"]


# -- straight into the database, for tests about what comes after the answers -----------------

RATERS = (
    [Relationship.SELF, Relationship.MANAGER]
    + [Relationship.PEER] * 3
    + [Relationship.DIRECT_REPORT] * 2
)
COMMENT = "Explains why the work matters before the targets."


@dataclass(frozen=True)
class SmallCohort:
    """What ``make_cohort`` made, as plain values: tests look rows up again in their own
    sessions rather than holding on to objects of a closed one."""

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
    direct reports, so that reports and batches have something to print.

    ``predictions`` holds, by leader name, the predicted Others scores their self-assessment
    carries; leaders not in it predicted nothing.
    """
    rng = random.Random(len(names))
    with database.transaction() as session:
        cohort = cohorts.create_cohort(session, session.merge(coach), name, instrument)
        leaders = {
            n: cohorts.add_leader(session, cohort, n, n.lower().replace(" ", ".") + "@example.org")
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
        cohorts.close_cohort(session, cohort, "test")
        return SmallCohort(
            cohort.id, cohort.slug, cohort.name, {n: leader.id for n, leader in leaders.items()}
        )


def answer(session, instrument, leader, relationship, value=4, comment=None):
    """One rater invited and answering every statement ``value``, through the same
    ``submit`` the rater's form calls, without a page in between."""
    invitation = create_invitation(session, leader, relationship, actor="t")
    comments = {instrument.open_questions[0].id: comment} if comment else {}
    submit(
        session,
        instrument,
        invitation,
        Answers({i.id: value for i in instrument.items}, comments),
    )


def close(database: Database, *cohorts_to_close: object) -> None:
    """Close cohorts (by object or name): their figures may only be read once closed."""
    with database.transaction() as session:
        for cohort in cohorts_to_close:
            found = (
                session.scalars(select(Cohort).where(Cohort.name == cohort)).one()
                if isinstance(cohort, str)
                else session.get(Cohort, cohort.id)  # type: ignore[attr-defined]
            )
            if found.is_open:
                cohorts.close_cohort(session, found, "test")


def export_text(database: Database, cohort_name: str, fmt: str, actor: str = "test") -> str:
    """The scores export of a closed cohort, as ``cl360 scores export`` writes it."""
    with database.transaction() as session:
        cohort = session.scalars(select(Cohort).where(Cohort.name == cohort_name)).one()
        return disclosures.content_of(
            disclosures.scores(session, cohort, fmt, actor=actor)
        ).decode()


# -- questionnaires small enough to score with pencil and paper --------------------------------


def tiny_instrument() -> Instrument:
    """Two dimensions: ``a`` has four items (a3 reverse-keyed), ``b`` two; a 5-point scale."""
    item = lambda i, d, reverse=False: {  # noqa: E731
        "id": i,
        "dimension": d,
        "self": f"I {i}",
        "observer": f"{{leader}} {i}",
        "reverse": reverse,
    }
    return Instrument.model_validate(
        {
            "id": "tiny", "version": 1, "title": "Tiny", "language": "en",
            "scale": {"points": 5, "anchors": ["1", "2", "3", "4", "5"]},
            "dimensions": [
                {"id": "a", "name": "A", "description": "first"},
                {"id": "b", "name": "B", "description": "second"},
            ],
            "items": [item("a1", "a"), item("a2", "a"), item("a3", "a", True), item("a4", "a"),
                      item("b1", "b"), item("b2", "b")],
            "rater_groups": [
                {"id": "self", "label": "Self", "minimum": 1},
                {"id": "manager", "label": "Manager", "minimum": 1},
                {"id": "peer", "label": "Peers", "minimum": 3},
                {"id": "direct_report", "label": "Direct reports", "minimum": 3},
                {"id": "other", "label": "Other", "minimum": 3},
            ],
        }
    )  # fmt: skip


def hand_instrument() -> Instrument:
    """The tiny instrument without item a4, and with one open question: dimension ``a`` has
    three items (``a3`` reverse-keyed: a raw r scores 6 - r), ``b`` two. A rater counts for
    ``a`` with 2 of its 3 items answered, for ``b`` with 1 of 2."""
    data = tiny_instrument().to_data()
    data |= {
        "id": "hand",
        "title": "Worked by hand",
        "items": [item for item in data["items"] if item["id"] != "a4"],
        "open_questions": [{"id": "note", "self": "Note?", "observer": "Note on {leader}?"}],
    }
    return Instrument.from_data(data)


# Two cohorts' responses on the hand instrument, as a coach would import them, with every
# figure worked out beside its row (tests/test_scores_by_hand.py checks them). Cohort "Before"
# (created first) and cohort "Now" share the instrument; Ann and Ben are in both, so their
# change is measured. Blank cells are "not able to rate".
HEADER = "leader,relationship,a1,a2,a3,b1,b2,note,predicted:a,predicted:b\n"

# fmt: off
# The last two columns are the leader's predictions of their Others scores for a and b, on
# self rows only (blank: no prediction).
BEFORE_CSV = HEADER + (
    # Ann (given in capitals: leaders match by email whatever the case). a = (a1+a2+(6-a3))/3
    "ANN@Example.org,other,3,3,3,3,3,,,\n"    # a (3+3+3)/3 = 3      b (3+3)/2 = 3
    "ann@example.org,other,3,4,2,4,3,,,\n"    # a (3+4+4)/3 = 11/3   b 3.5
    "ann@example.org,other,2,3,3,3,2,,,\n"    # a (2+3+3)/3 = 8/3    b 2.5
    # Ben
    "ben@example.org,other,2,2,4,2,3,,,\n"    # a (2+2+2)/3 = 2      b 2.5
    "ben@example.org,other,3,2,4,2,2,,,\n"    # a (3+2+2)/3 = 7/3    b 2
    "ben@example.org,other,2,3,3,3,3,,,\n"    # a (2+3+3)/3 = 8/3    b 3
)
NOW_CSV = HEADER + (
    # Ann: a manager and three peers. She predicts Others will give her 4 on a and 3 on b.
    "ann@example.org,self,4,4,2,5,4,I try to listen,4,3\n"  # a (4+4+4)/3 = 4    b 4.5
    "ann@example.org,manager,3,4,3,4,4,Clear about why,,\n" # a (3+4+3)/3 = 10/3 b 4
    "ann@example.org,peer,4,5,1,4,5,Kind,,\n"           # a (4+5+5)/3 = 14/3   b 4.5
    "ann@example.org,peer,3,3,,3,4,,,\n"                # a3 not rated: a (3+3)/2 = 3 (2 of 3)
    "ann@example.org,peer,,,2,4,,,,\n"                  # 1 of 3 items of a: no a; b 4 (1 of 2)
    # Ben: two direct reports and one other colleague, each group below its minimum.
    # He predicts 4 on a and makes no prediction for b.
    "ben@example.org,self,5,5,1,3,3,,4,\n"              # a 5      b 3
    "ben@example.org,direct_report,3,3,3,3,2,,,\n"      # a 3      b 2.5
    "ben@example.org,direct_report,2,3,4,2,3,,,\n"      # a 7/3    b 2.5
    "ben@example.org,other,4,3,2,4,4,,,\n"              # a 11/3   b 4
    # Cat: three direct reports; no predictions.
    "cat@example.org,self,2,2,4,2,3,,,\n"               # a 2      b 2.5
    "cat@example.org,direct_report,4,4,2,4,4,,,\n"      # a 4      b 4
    "cat@example.org,direct_report,5,4,1,5,5,,,\n"      # a 14/3   b 5
    "cat@example.org,direct_report,4,5,2,3,4,,,\n"      # a 13/3   b 3.5
    # Dan: only two observers, below the Others minimum of 3. He predicts 3 on a.
    "dan@example.org,self,3,3,3,3,3,,3,\n"
    "dan@example.org,peer,4,4,2,4,4,Secret detail,,\n"
    "dan@example.org,peer,3,3,3,3,3,,,\n"
)
# fmt: on


# -- reports built without a database -----------------------------------------------------------

#: The date every test report says it was generated on, so that the PDFs are reproducible.
GENERATED = date(2025, 10, 3)
DIMENSIONS = {
    "purpose": ("Purpose", "A personal answer to what leadership is for."),
    "self_awareness": ("Self-awareness", "Noticing thoughts and feelings before acting."),
    "courage": ("Courage", "Acting on purpose when it is unpopular."),
}


def make_report_instrument(manager_minimum: int = 3) -> Instrument:
    """A synthetic instrument shaped like the product's (three capabilities, three items each,
    the third reverse-keyed) but small enough that every figure in a report can be predicted."""
    items = []
    for dim in DIMENSIONS:
        for index in range(1, 4):
            items.append(
                {
                    "id": f"{dim}_{index}",
                    "dimension": dim,
                    "self": f"I show {dim.replace('_', ' ')} behaviour {index}",
                    "observer": f"{{leader}} shows {dim.replace('_', ' ')} behaviour {index}",
                    # The third item of each dimension is reverse-keyed; courage's is not
                    # restated, as in an instrument copied into a cohort before restatements.
                    "reverse": index == 3,
                    **(
                        {"restated": f"{{leader}} rarely fails at {dim.replace('_', ' ')} {index}"}
                        if index == 3 and dim != "courage"
                        else {}
                    ),
                }
            )
    return Instrument.model_validate(
        {
            "id": "cl-test",
            "version": 4,
            "title": "Compassionate Leadership test instrument",
            "language": "en-GB",
            "scale": {
                "points": 5,
                "anchors": ["Never", "Rarely", "Sometimes", "Often", "Always"],
            },
            "dimensions": [
                {"id": dim, "name": name, "description": text}
                for dim, (name, text) in DIMENSIONS.items()
            ],
            "items": items,
            "rater_groups": [
                {"id": "self", "label": "Self", "minimum": 1},
                {"id": "manager", "label": "Manager", "minimum": manager_minimum},
                {"id": "peer", "label": "Peers", "minimum": 3},
                {"id": "direct_report", "label": "Direct reports", "minimum": 3},
            ],
        }
    )


def response(instrument: Instrument, relationship: str, **scored: int) -> RaterResponse:
    """A rater who gives every item of a dimension the same *scored* value."""
    answers = {}
    for item in instrument.items:
        value = scored[item.dimension]
        answers[item.id] = instrument.scale.points + 1 - value if item.reverse else value
    return RaterResponse(relationship, answers)


def full_responses(instrument: Instrument) -> list[RaterResponse]:
    """Self, one manager, three peers and two direct reports."""
    return [
        response(instrument, "self", purpose=4, self_awareness=5, courage=3),
        response(instrument, "manager", purpose=4, self_awareness=4, courage=4),
        response(instrument, "peer", purpose=4, self_awareness=3, courage=4),
        response(instrument, "peer", purpose=5, self_awareness=3, courage=4),
        response(instrument, "peer", purpose=4, self_awareness=4, courage=5),
        # Direct reports' own averages (1.50) must never be printed: they are below their minimum.
        response(instrument, "direct_report", purpose=2, self_awareness=2, courage=2),
        response(instrument, "direct_report", purpose=1, self_awareness=1, courage=1),
    ]


def cohort_responses(
    instrument: Instrument, fixture_leader: list[RaterResponse]
) -> dict[str, list[RaterResponse]]:
    """The fixture leader and five colleagues rated by a self and three to four observers."""
    cohort = {"fixture": fixture_leader}
    levels = [(3, 3, 3), (4, 4, 4), (5, 4, 3), (2, 3, 4), (4, 2, 5)]
    for index, (purpose, awareness, courage) in enumerate(levels):
        raters = [response(instrument, "self", purpose=5, self_awareness=4, courage=4)]
        for shift in (-1, 0, 0, 1)[: 3 + index % 2]:
            raters.append(
                response(
                    instrument,
                    "peer",
                    purpose=min(5, max(1, purpose + shift)),
                    self_awareness=awareness,
                    courage=min(5, max(1, courage - shift)),
                )
            )
        cohort[f"colleague-{index}"] = raters
    return cohort


def pdf_text(pdf: bytes) -> str:
    """The text a reader (or a screen reader) gets out of the PDF, page after page."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


# -- in headless Chromium (tests/browser) -------------------------------------------------------


def answer_everything(page, value: str) -> None:
    """Every statement on the questionnaire page rated ``value``, predictions left alone."""
    for group in page.locator("fieldset.item:not(.prediction)").all():
        group.locator(f"input[value='{value}']").check()


def rate_on_a_phone(browser, link: str, value: str, comment: str, resume_shot=None):
    """A rater answers Priya Shah's questionnaire on a phone and submits; with ``resume_shot``
    (a function taking the page) they first save part-way, come back through the same link
    and find their answer kept. Returns the page, on the thank-you screen."""
    rater = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    rater.goto(link)
    expect(rater.get_by_role("heading", name="Feedback for Priya Shah")).to_be_visible()
    if resume_shot is not None:
        rater.locator("fieldset.item").first.locator("input[value='2']").check()
        rater.get_by_role("button", name="Save and finish later").click()
        expect(rater.get_by_text("Your answers are saved")).to_be_visible()
        rater.goto(link)
        expect(rater.locator("fieldset.item").first.locator("input[value='2']")).to_be_checked()
        resume_shot(rater)
    answer_everything(rater, value)
    rater.get_by_label(re.compile("What does Priya Shah")).fill(comment)
    rater.get_by_role("button", name="Submit my answers").click()
    expect(rater.get_by_role("heading", name="Thank you")).to_be_visible()
    return rater


def four_leaders(database) -> Cohort:
    """A cohort on the instrument worked by hand (tests/test_scores_by_hand.py) with the four
    leaders of its "Now" cohort, and no responses yet."""
    with database.transaction() as session:
        coach = accounts.create_coach(session, "transfer@example.org", "a long coach password")
        cohort = cohorts.create_cohort(session, coach, "Transfer", hand_instrument())
        for name in ("Ann", "Ben", "Cat", "Dan"):
            session.add(Leader(cohort=cohort, name=name, email=f"{name.lower()}@example.org"))
    return cohort
