"""``cl360 reports build``: every report of a cohort through the build job, in worker
processes, failures reported.

Kept small (two leaders and the cohort report per run) because each run starts real worker
processes that import WeasyPrint and render real PDFs.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import func, select

from assessment import disclosures
from assessment.cli import cli
from assessment.cohort_jobs import BUILD_REPORTS
from assessment.database import Database
from assessment.models import Artefact, Cohort, Job, JobState, Leader
from assessment.results import cohort_results
from reports.build import number
from tests.builders import SmallCohort, make_cohort, run_job

TODAY = date(2025, 10, 3)


@pytest.fixture
def cohort(database: Database, coach, instrument) -> SmallCohort:
    return make_cohort(database, coach, instrument)


def text_of(path: Path) -> str:
    reader = pypdf.PdfReader(io.BytesIO(path.read_bytes()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_the_command_renders_every_leader_and_the_cohort_report_through_the_job(
    runner, database: Database, cohort: SmallCohort, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        cli, ["reports", "build", "--cohort", cohort.slug, "--out", str(out), "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "3 of 3 reports written to" in result.output and "(2 workers)" in result.output
    assert "3 of 3 reports ready to download." in result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "ada-lovelace-360-report.pdf",
        "grace-hopper-360-report.pdf",
        "report-cohort-cohort-report.pdf",
    ]
    # The workers' figures are the scoring module's, read in this process.
    with database.session() as session:
        results = cohort_results(session, session.scalar(select(Cohort)))
        ada = session.get(Leader, cohort.leaders["Ada Lovelace"])
        [record] = session.scalars(select(Job)).all()
        stored = {a.filename: a for a in session.scalars(select(Artefact))}
    assert (record.name, record.state, record.done, record.total) == (
        BUILD_REPORTS,
        JobState.DONE,
        3,
        3,
    )
    scores = results.figures.leaders[ada.id].scores
    text = text_of(out / "ada-lovelace-360-report.pdf")
    assert "Ada Lovelace" in text and "Grace Hopper" not in text
    for stat in scores.others.dimensions.values():
        assert number(stat.mean) in text
    cohort_text = text_of(out / "report-cohort-cohort-report.pdf")
    assert "Report cohort" in cohort_text and "Ada Lovelace" not in cohort_text
    # Every PDF is the ledger's, so the coach's download and a second build serve it again.
    assert (
        stored["grace-hopper-360-report.pdf"].content
        == (out / "grace-hopper-360-report.pdf").read_bytes()
    )
    again = runner.invoke(cli, ["reports", "build", "--cohort", cohort.slug, "--out", str(out)])
    assert again.exit_code == 0, again.output
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Artefact)) == 3


def test_the_command_names_a_file_it_cannot_write_and_writes_the_others(
    runner, cohort: SmallCohort, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # A folder where Ada's PDF should go: her report cannot be written, the others can.
    (out / "ada-lovelace-360-report.pdf").mkdir()
    result = runner.invoke(
        cli, ["reports", "build", "--cohort", cohort.slug, "--out", str(out), "--jobs", "2"]
    )
    assert result.exit_code == 1, result.output
    assert "error: ada-lovelace-360-report.pdf could not be written: Is a directory" in (
        result.output
    )
    assert "2 of 3 reports written to" in result.output
    assert (out / "grace-hopper-360-report.pdf").stat().st_size > 1000
    assert (out / "report-cohort-cohort-report.pdf").stat().st_size > 1000
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


def test_a_report_that_cannot_be_made_is_named_and_the_others_finish(
    database: Database, settings, cohort: SmallCohort, monkeypatch
) -> None:
    real = disclosures.leader_pdf

    def fails_for_grace(session, leader, *, actor, ahead=None):
        if leader.name == "Grace Hopper":
            raise RuntimeError("the fonts are missing")
        return real(session, leader, actor=actor, ahead=ahead)

    monkeypatch.setattr(disclosures, "leader_pdf", fails_for_grace)
    record = run_job(database, settings, BUILD_REPORTS, cohort_id=cohort.id)
    assert (record.state, record.done, record.total) == (JobState.DONE, 3, 3)
    assert record.summary == "2 of 3 reports ready to download."
    assert record.errors == [
        {"item": "Grace Hopper", "error": "an unexpected error stopped it (the fonts are missing)"}
    ]


def test_the_command_refuses_an_unknown_cohort(runner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["reports", "build", "--cohort", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no cohort with the slug 'nope'" in result.output


def test_the_command_refuses_an_open_cohort(
    runner, database: Database, cohort: SmallCohort, tmp_path: Path
) -> None:
    with database.transaction() as session:
        session.get(Cohort, cohort.id).status = "open"
    result = runner.invoke(
        cli, ["reports", "build", "--cohort", cohort.slug, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 1 and "open" in result.output
    assert not (tmp_path / "out").exists()
