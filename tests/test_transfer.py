"""Scores out (``cl360 scores export``).

Export never carries a rater's answers or comments, marks what the scoring layer withheld as
suppressed, and gives it no numbers.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import select

from assessment.cli import cli
from assessment.imports import import_responses
from assessment.models import Cohort, Comment, Response
from assessment.results import cohort_results
from assessment.transfer import CSV_COLUMNS, csv_rows, write_csv
from tests.cohort_data import close, export_text
from tests.test_imports import four_leaders
from tests.test_scores_by_hand import NOW_CSV

NUMBERS = ("n", "mean", "sd", "ci_low", "ci_high", "rwg")


# -- export -------------------------------------------------------------------------------


@pytest.fixture
def imported(database) -> Cohort:
    cohort = four_leaders(database)
    with database.transaction() as session:
        import_responses(session, session.merge(cohort), NOW_CSV.encode(), actor="test")
        session.merge(cohort).leaders[0].name = "=HYPERLINK(1)"  # a hostile name
    return cohort


def export(database, cohort: Cohort, fmt: str) -> str:
    close(database, cohort)
    return export_text(database, cohort.name, fmt)


def test_export_carries_no_rater_level_data(database, imported):
    with database.session() as session:
        ids = session.scalars(select(Response.id)).all()
        comments = session.scalars(select(Comment.text)).all()
    for fmt in ("csv", "json"):
        text = export(database, imported, fmt)
        assert not any(response_id in text for response_id in ids)
        assert not any(comment in text for comment in comments)
    rules = {"self": 1, "manager": 1, "peer": 3, "direct_report": 3, "other": 3, "others": 3}
    rows = list(csv.DictReader(io.StringIO(export(database, imported, "csv"))))
    for row in rows:
        if row["record"] == "figure" and row["status"] == "shown":
            # Every figure pools at least its group's minimum (the manager's is 1 by design).
            assert int(row["n"]) >= rules[row["group"]], row
            if row["group"] != "self" and rules[row["group"]] > 1:
                assert int(row["n"]) >= 3


def test_suppressed_figures_and_groups_carry_no_numbers(database, imported):
    rows = list(csv.DictReader(io.StringIO(export(database, imported, "csv"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    suppressed = [r for r in rows if r["status"] == "suppressed"]
    assert {r["reason"] for r in suppressed} == {
        "figure_below_minimum",
        "complement",
        "partial_answers",
        "group_below_minimum",
        "others_below_minimum",
    }
    for row in suppressed:
        assert all(row[column] == "" for column in CSV_COLUMNS[CSV_COLUMNS.index("n") :]), row
    data = json.loads(export(database, imported, "json"))
    for entry in data["leaders"]:
        for group in entry["groups"]:
            if group["status"] == "suppressed":
                assert set(group) == {"group", "label", "status", "reason"}
                continue
            for figure in [*group["dimensions"].values(), *group["items"].values()]:
                if figure["status"] == "suppressed":
                    assert set(figure) == {"status", "reason"}


def test_the_fast_csv_text_holds_exactly_the_rows_of_the_spreadsheet_export(database, imported):
    """write_csv formats figure rows in blocks; the cells must be those of csv_rows, whatever
    the names hold (commas, quotes, line breaks are quoted once for the whole block)."""
    with database.transaction() as session:
        leader = session.merge(imported).leaders[1]
        leader.name = 'Ben "the, boss"\nHughes'
    with database.session() as session:
        results = cohort_results(session, session.merge(imported))
        reference = io.StringIO()
        csv.writer(reference, lineterminator="\n").writerows([CSV_COLUMNS, *csv_rows(results)])
        fast = io.StringIO()
        write_csv(results, fast)
    expected = list(csv.reader(io.StringIO(reference.getvalue())))
    written = list(csv.reader(io.StringIO(fast.getvalue())))
    assert len(written) == len(expected) > 50
    for got, want in zip(written, expected, strict=True):
        # Numbers may be spelt differently (1e-05 or 0.00001) but are the same number.
        assert [_number_or_text(cell) for cell in got] == [_number_or_text(c) for c in want]
    assert any('Ben "the, boss"\nHughes' in row for row in written)


def _number_or_text(cell: str) -> float | str:
    try:
        return float(cell)
    except ValueError:
        return cell


def test_spreadsheet_formulas_in_names_are_neutralised(database, imported):
    text = export(database, imported, "csv")
    assert ",'=HYPERLINK(1)," in text and ",=HYPERLINK" not in text


def test_command_line_export(runner, database, imported, tmp_path):
    out = tmp_path / "scores.csv"
    still_open = runner.invoke(
        cli, ["scores", "export", "--cohort", imported.slug, "--out", str(out)]
    )
    assert still_open.exit_code == 1 and "is still open" in still_open.output
    assert not out.exists()  # never an empty file
    close(database, imported)
    result = runner.invoke(cli, ["scores", "export", "--cohort", imported.slug, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cohort"]["slug"] == imported.slug
    result = runner.invoke(cli, ["scores", "export", "--cohort", imported.slug, "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(CSV_COLUMNS)
    assert f"wrote the scores of 4 leaders to {out}" in result.output
    result = runner.invoke(cli, ["scores", "export", "--cohort", "nope"])
    assert result.exit_code != 0 and "no cohort with the slug 'nope'" in result.output
