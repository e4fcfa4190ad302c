"""The coach's cohort report: built from the psychometrics module's figures, rendered, read back.

A small cohort on the synthetic test instrument is scored with the real scoring and
psychometrics modules; the PDF is read with pypdf to check that every figure is the module's,
that only Others scores the anonymity rules let out reach the distributions, and that no
distribution is printed from fewer leaders than the Others minimum.
"""

from __future__ import annotations

import io
import random
import re
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pypdf
import pytest

from assessment.core.instruments import Instrument
from assessment.core.profile_fitting import fit_profiles
from assessment.core.profiles import TooFewLeaders
from assessment.core.psychometrics import CohortFigures, cohort_figures
from assessment.core.scoring import SCORING_VERSION, RaterResponse
from reports import charts
from reports.build import number
from reports.cohort import CohortReport, Tally, cohort_report
from reports.render import render_html, render_pdf
from tests.builders import (
    GENERATED,
    cohort_responses,
    full_responses,
    pdf_text,
    response,
)

COHORT = "Autumn leaders 2025"


@pytest.fixture(scope="module")
def responses(report_instrument: Instrument) -> dict[str, list[RaterResponse]]:
    cohort = cohort_responses(report_instrument, full_responses(report_instrument))
    # Two observers only: no Others score, so this leader is in no distribution.
    cohort["too-few"] = [
        response(report_instrument, "self", purpose=1, self_awareness=1, courage=1),
        response(report_instrument, "peer", purpose=1, self_awareness=1, courage=1),
        response(report_instrument, "peer", purpose=1, self_awareness=1, courage=1),
    ]
    return cohort


@pytest.fixture(scope="module")
def figures(report_instrument: Instrument, responses) -> CohortFigures[str]:
    return cohort_figures(report_instrument, responses)


def tallies_of(responses: dict[str, list[RaterResponse]]) -> list[Tally]:
    tallies = []
    for raters in responses.values():
        submitted: dict[str, int] = {"self": 0}
        for rater in raters:
            submitted[rater.relationship] = submitted.get(rater.relationship, 0) + 1
        invited = {group: n + (1 if group == "peer" else 0) for group, n in submitted.items()}
        tallies.append(Tally({**invited, "self": 1}, submitted))
    return tallies


def build(
    instrument: Instrument, responses, figures: CohortFigures[str], **extra: Any
) -> CohortReport:
    return cohort_report(
        instrument=instrument,
        cohort_name=COHORT,
        tallies=tallies_of(responses),
        figures=figures,
        generated_on=GENERATED,
        **extra,
    )


@pytest.fixture(scope="module")
def report(report_instrument: Instrument, responses, figures: CohortFigures[str]) -> CohortReport:
    return build(
        report_instrument,
        responses,
        figures,
        profiles_unavailable=TooFewLeaders(len(responses) - 1).message,
    )


@pytest.fixture(scope="module")
def pdf(report: CohortReport) -> bytes:
    return render_pdf(report)


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return " ".join(pdf_text(pdf).split())


def test_distributions_hold_only_shown_others_scores(
    report: CohortReport, figures: CohortFigures[str]
) -> None:
    for dimension in report.dimensions:
        shown = sorted(
            f.others[dimension.id] for f in figures.leaders.values() if dimension.id in f.others
        )
        assert dimension.values == shown
        assert dimension.n == len(shown) == 6  # the leader with two observers is left out
        assert min(shown) > 1.0  # their 1.00s would otherwise be the lowest score
        distribution = figures.distributions[dimension.id]
        assert dimension.mean == number(distribution.mean)
        assert dimension.sd == number(distribution.sd)
        assert dimension.median == number(distribution.median)


def test_pdf_prints_the_psychometrics_figures(
    text: str, report: CohortReport, figures: CohortFigures[str]
) -> None:
    for dimension in report.dimensions:
        reliability = figures.reliability[dimension.id]
        assert reliability.alpha is not None
        assert dimension.alpha == number(reliability.alpha)
        row = (
            f"{dimension.name} {dimension.n} {dimension.mean} {dimension.sd} {dimension.median} "
            f"{dimension.lowest} {dimension.highest} {dimension.alpha} n = {reliability.n_responses}"
        )
        assert row in text
    assert COHORT in text
    assert re.search(r"\b7 ?leaders in the cohort", text)
    assert re.search(r"\b6 ?have observer scores in their report", text)


def test_completion_counts_submissions_by_group(text: str, report: CohortReport) -> None:
    peers = next(g for g in report.completion if g.label == "Peers")
    # 3 + (3, 4, 3, 4, 3) + 2 peers answered; each leader had one more peer invited.
    assert (peers.invited, peers.submitted, peers.leaders_invited) == (29, 22, 7)
    assert peers.rate == "76%"
    assert peers.leaders_met == 6  # the leader with two peers is below the minimum of 3
    assert "Peers 3 7 29 22 76% 6 of 7" in text
    others = report.completion[-1]
    assert (others.invited, others.submitted, others.rate) == (32, 25, "78%")
    assert others.leaders_met == 6
    assert "Self – 7 7 7 100% 7 of 7" in text


def test_no_leader_is_named_and_profiles_say_why_not(text: str, report: CohortReport) -> None:
    for name in ("fixture", "colleague", "too-few", "Priya"):
        assert name not in text
    assert "Profiles need at least 30 leaders" in text
    assert "there are 6" in text


def test_agreement_types_are_counted_per_capability(
    report: CohortReport, figures: CohortFigures[str]
) -> None:
    for dimension in report.dimensions:
        types = [
            f.agreement[dimension.id]
            for f in figures.leaders.values()
            if dimension.id in f.agreement
        ]
        assert sum(dimension.agreement_counts) == len(types) == 6


def test_too_few_leaders_means_no_distribution(report_instrument: Instrument, responses) -> None:
    two = {key: responses[key] for key in ("fixture", "colleague-0", "too-few")}
    report = build(report_instrument, two, cohort_figures(report_instrument, two))
    for dimension in report.dimensions:
        assert dimension.n == 2
        assert not dimension.shown
        assert dimension.values == [] and dimension.mean is None and dimension.lowest is None
        assert dimension.agreement_counts == []
    assert any("the distribution is printed from 3 leaders" in n for n in report.distribution_notes)
    root = ET.fromstring(str(charts.distribution_chart(report)))
    assert not [e for e in root.iter() if e.get("class") == "dot"]
    assert report.profiles_note == "Profiles were not available for this report."


def test_distribution_chart_has_one_dot_per_leader(report: CohortReport) -> None:
    root = ET.fromstring(str(charts.distribution_chart(report)))
    dots = [e for e in root.iter() if e.get("class") == "dot"]
    assert len(dots) == sum(d.n for d in report.dimensions)
    assert root.find("{http://www.w3.org/2000/svg}title").text


def test_profiles_with_their_names_and_sizes(
    report_instrument: Instrument, responses, figures: CohortFigures[str]
) -> None:
    rng = random.Random(7)
    reference = np.asarray(
        [
            [rng.gauss(3.7, 0.5) for _ in range(3)] + [rng.gauss(0.2, 0.6) for _ in range(3)]
            for _ in range(40)
        ]
    )
    model = fit_profiles(
        reference,
        instrument_id=report_instrument.id,
        instrument_version=report_instrument.version,
        dimension_ids=[d.id for d in report_instrument.dimensions],
        dimension_names=[d.name for d in report_instrument.dimensions],
        n_bootstrap=3,
    )
    assert not isinstance(model, TooFewLeaders)
    assignments = model.assign_leaders(figures.leaders)
    report = build(
        report_instrument, responses, figures, profile_model=model, assignments=assignments
    )
    assert [p.name for p in report.profiles] == model.names
    assert [p.in_reference for p in report.profiles] == model.sizes
    assert sum(p.in_cohort for p in report.profiles) == len(assignments)
    assert report.unassigned == len(figures.leaders) - len(assignments)
    html = render_html(report)
    for row in report.profiles:
        assert row.name in html
    assert report.profiles_note is None


def test_pdf_metadata_and_tags(pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    meta = reader.metadata
    assert meta.title == f"Cohort report: {COHORT}"
    assert meta["/instrumentid"] == "cl-test"
    assert meta["/scoringversion"] == SCORING_VERSION
    assert "cohort report" in meta["/Keywords"]
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/Lang"] == "en-GB"
    assert 2 <= len(reader.pages) <= 5


def test_report_modules_need_no_flask_database_or_scikit_learn() -> None:
    """A worker or the CLI renders reports without the web app, SQLAlchemy or scikit-learn."""
    code = (
        "import sys, reports.build, reports.cohort, reports.charts, reports.render; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'sqlalchemy', 'sklearn'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- predicted views ------------------------------------------------------------------------------


def test_without_predictions_the_cohort_report_says_so(text: str, report: CohortReport) -> None:
    assert report.predictors == 0
    assert "No leader in this cohort predicted their Others scores" in text


def test_predicted_views_are_medians_from_enough_leaders(
    report_instrument: Instrument, responses
) -> None:
    instrument = report_instrument
    predictions = {
        "fixture": {"purpose": 4, "self_awareness": 5, "courage": 3},
        "colleague-0": {"purpose": 3, "courage": 4},
        "colleague-1": {"purpose": 5, "self_awareness": 4, "courage": 4},
        "colleague-2": {"purpose": 2},
        "too-few": {"purpose": 2, "self_awareness": 2, "courage": 2},  # no Others score
    }
    figures = cohort_figures(instrument, responses, predictions=predictions)
    report = build(instrument, responses, figures)
    leaders = list(figures.leaders.values())
    rows = {p.label: p for p in report.predictions}
    assert list(rows) == [d.name for d in instrument.dimensions] + ["All capabilities"]
    for dimension in instrument.dimensions:
        made = [f.predictions[dimension.id] for f in leaders if dimension.id in f.predictions]
        errors = [abs(p.error) for p in made if p.error is not None]
        row = rows[dimension.name]
        assert (row.predicted, row.compared) == (len(made), len(errors))
        if len(errors) >= 3:
            assert row.median_error == number(statistics.median(errors))
        else:
            assert row.median_error is None and row.note is not None
    assert (rows["Purpose"].predicted, rows["Purpose"].compared) == (5, 4)
    assert rows["Self-awareness"].median_error is None  # two comparisons: too few to print
    overall = rows["All capabilities"]
    means = [f.prediction_error for f in leaders if f.prediction_error is not None]
    assert (overall.predicted, overall.compared) == (5, 4) == (report.predictors, len(means))
    assert overall.median_error == number(statistics.median(means))
    text = " ".join(pdf_text(render_pdf(report)).split())
    assert f"Purpose 5 4 {rows['Purpose'].median_error}" in text
    assert f"All capabilities 5 4 {overall.median_error}" in text
    assert "Self-awareness 3 2 –" in text
    assert "a median is printed from 3 leaders" in text
    for name in ("fixture", "colleague", "too-few"):
        assert name not in text
