"""Reports through the app: the cohort report download, its authorisation, and the one path
from the database to a leader's report (assessment.reporting) with the cohort-level figures."""

from __future__ import annotations

import io

import pypdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from assessment.accounts import create_coach
from assessment.core.profiles import TooFewLeaders
from assessment.database import Database
from assessment.models import Cohort, Leader
from assessment.reporting import cohort_report_data, leader_report, placement
from assessment.results import cohort_results
from reports.build import AGREEMENT_LABELS, ordinal, signed
from tests.builders import SmallCohort, client_signed_in_as, make_cohort


@pytest.fixture
def cohort(database: Database, coach, instrument) -> SmallCohort:
    return make_cohort(
        database, coach, instrument, names=("Ada Lovelace", "Grace Hopper", "Mary Seacole")
    )


def url_of(cohort: SmallCohort) -> str:
    return f"/cohorts/{cohort.slug}/cohort-report.pdf"


def test_coach_downloads_the_cohort_report(signed_in: FlaskClient, cohort: SmallCohort) -> None:
    page = signed_in.get(f"/cohorts/{cohort.slug}").get_data(as_text=True)
    assert url_of(cohort) in page  # linked from the cohort page
    response = signed_in.get(url_of(cohort))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename={cohort.slug}-cohort-report.pdf"
    )
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Cohort report" in text and cohort.name in text
    for name in cohort.leaders:
        assert name not in text  # no leader is named in the cohort report
    inline = signed_in.get(url_of(cohort) + "?inline")
    assert inline.headers["Content-Disposition"].startswith("inline;")
    assert inline.data == response.data  # the stored report, not a new one


def test_cohort_report_is_only_for_its_coach(
    app: Flask, database: Database, cohort: SmallCohort
) -> None:
    anonymous = app.test_client()
    response = anonymous.get(url_of(cohort))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with database.transaction() as s:
        create_coach(s, "other@example.org", "another long password")
    other = client_signed_in_as(app, "other@example.org", "another long password")
    assert other.get(url_of(cohort)).status_code == 404
    assert other.get("/cohorts/no-such-cohort/cohort-report.pdf").status_code == 404


def test_leader_report_carries_the_cohort_figures(database: Database, cohort: SmallCohort) -> None:
    with database.session() as session:
        leader = session.get(Leader, cohort.leaders["Ada Lovelace"])
        results = cohort_results(session, leader.cohort)
        report = leader_report(session, leader)
        data = cohort_report_data(session, session.scalar(select(Cohort)))
    figures = results.figures.leaders[leader.id]
    assert report.standing.available
    for dimension, row in zip(results.instrument.dimensions, report.standing.rows, strict=True):
        kind = figures.agreement.get(dimension.id)
        assert row.agreement == (AGREEMENT_LABELS[kind.value] if kind else None)
        assert row.percentile == ordinal(figures.percentile_cohort[dimension.id])
        assert row.cohort_n == 3
    # Three leaders: too few for profiles, and the report says so in the model's words.
    assert isinstance(results.profiles.unavailable, TooFewLeaders)
    assert report.standing.profile.note == results.profiles.unavailable.message
    assert report.standing.change_notes[0].startswith("This is your first assessment")
    assert placement(results, leader.id).figures == figures
    assert data.n_leaders == 3 and data.with_observer_scores == 3
    assert [d.alpha_value for d in data.dimensions] == [
        results.figures.reliability[d.id].alpha for d in results.instrument.dimensions
    ]


def test_predictions_stored_with_the_self_assessment_reach_both_reports(
    database: Database, coach, instrument
) -> None:
    predicted = {"purpose": 4, "self_awareness": 2}
    cohort = make_cohort(
        database,
        coach,
        instrument,
        names=("Ada Lovelace", "Grace Hopper", "Mary Seacole"),
        name="Predicting cohort",
        predictions={"Ada Lovelace": predicted},
    )
    with database.session() as session:
        ada = session.get(Leader, cohort.leaders["Ada Lovelace"])
        grace = session.get(Leader, cohort.leaders["Grace Hopper"])
        results = cohort_results(session, ada.cohort)
        report = leader_report(session, ada, results=results)
        other = leader_report(session, grace, results=results)
        data = cohort_report_data(session, ada.cohort, results=results)
    mine = results.figures.leaders[ada.id]
    views = report.standing.predictions
    names = {d.id: d.name for d in instrument.dimensions}
    for dimension_id, value in predicted.items():
        row = next(r for r in views.rows if r.dimension == names[dimension_id])
        prediction = mine.predictions[dimension_id]
        assert prediction.predicted == value
        assert row.predicted == str(value)
        assert row.others == f"{prediction.others:.2f}"
        assert row.difference == signed(prediction.error)
    courage = next(r for r in views.rows if r.dimension == names["courage"])
    assert courage.predicted is None and courage.reading == "You did not predict this capability"
    assert views.error == f"{mine.prediction_error:.2f}" and views.compared == 2
    assert other.standing.predictions.rows == []
    assert other.standing.predictions.note is not None
    assert other.standing.predictions.note.startswith("You chose not to predict")
    # The cohort report counts predictors; one leader is too few for a median.
    assert data.predictors == 1
    rows = {p.label: p for p in data.predictions}
    assert (rows["Purpose"].predicted, rows["Courage"].predicted) == (1, 0)
    assert all(p.median_error is None for p in data.predictions)
