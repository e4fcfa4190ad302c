"""Responses in (``cl360 responses import``) and scores out (``cl360 scores export``).

Import is all or nothing: each kind of bad row is refused with a ``row N, column X: message``
line and leaves the database exactly as it was. Export never carries a rater's answers or
comments, marks what the scoring layer withheld as suppressed, and gives it no numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import func, select

from assessment.accounts import create_coach
from assessment.cli import cli
from assessment.cohorts import create_cohort
from assessment.imports import ImportProblems
from assessment.models import Answer, AuditEvent, Cohort, Comment, Leader, Prediction, Response
from assessment.responses import leader_responses
from assessment.results import cohort_results
from assessment.transfer import (
    CSV_COLUMNS,
    csv_rows,
    import_responses,
    problem_line,
    write_csv,
)
from tests.builders import HEADER, NOW_CSV, close, export_text, hand_instrument

NUMBERS = ("n", "mean", "sd", "ci_low", "ci_high", "rwg")


@pytest.fixture
def cohort(database) -> Cohort:
    with database.transaction() as session:
        coach = create_coach(session, "transfer@example.org", "a long coach password")
        cohort = create_cohort(session, coach, "Transfer", hand_instrument())
        for name in ("Ann", "Ben", "Cat", "Dan"):
            session.add(Leader(cohort=cohort, name=name, email=f"{name.lower()}@example.org"))
    return cohort


def table_counts(session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model))
        for model in (Response, Answer, Comment, Prediction, AuditEvent)
    }


def try_import(database, cohort: Cohort, text: str | bytes) -> list[str]:
    """Import a file expected to fail; returns its problem lines, checking nothing changed."""
    data = text.encode() if isinstance(text, str) else text
    with database.session() as session:
        before = table_counts(session)
    with pytest.raises(ImportProblems) as caught, database.transaction() as session:
        import_responses(session, session.merge(cohort), data, actor="test")
    with database.session() as session:
        assert table_counts(session) == before
    lines = [problem_line(problem) for problem in caught.value.problems]
    assert all(re.fullmatch(r"row \d+, column .+: .+", line) for line in lines), lines
    return lines


GOOD = "ann@example.org,peer,4,4,2,5,4,,,\n"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("zed@example.org,peer,4,4,2,5,4,,,\n", "row 3, column leader: no leader with email"),
        (",peer,4,4,2,5,4,,,\n", "row 3, column leader: missing"),
        ("ann@example.org,,4,4,2,5,4,,,\n", "row 3, column relationship: missing"),
        ("ann@example.org,boss,4,4,2,5,4,,,\n", "row 3, column relationship: 'boss' is not a rater group"),
        ("ann@example.org,peer,6,4,2,5,4,,,\n", "row 3, column a1: 6 is off the scale (1 to 5)"),
        ("ann@example.org,peer,0,4,2,5,4,,,\n", "row 3, column a1: 0 is off the scale"),
        ("ann@example.org,peer,6.0,4,2,5,4,,,\n", "row 3, column a1: 6.0 is off the scale (1 to 5)"),
        ("ann@example.org,peer,4,3.5,2,5,4,,,\n", "row 3, column a2: '3.5' is not a whole number"),
        ("ann@example.org,peer,4,4,x,5,4,,,\n", "row 3, column a3: 'x' is not a whole number"),
        ("ann@example.org,peer,4,4,nan,5,4,,,\n", "row 3, column a3: 'nan' is not a whole number"),
        ("ann@example.org,peer,4,4,2,inf,4,,,\n", "row 3, column b1: 'inf' is not a whole number"),
        ("ann@example.org,peer,4,4,2,5\n", "row 3, column (row): 6 values, but the header has 10"),
        ("ann@example.org,peer,4,4,2,5,4," + "x" * 4001 + ",,\n", "row 3, column note: longer than 4000"),
    ],
)  # fmt: skip
def test_each_bad_row_rejects_the_whole_file(database, cohort, row, expected):
    """The first data row (row 2) is good; the bad one is row 3."""
    lines = try_import(database, cohort, HEADER + GOOD + row)
    assert len(lines) == 1
    assert lines[0].startswith(expected)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("ann@example.org,peer,4,4,2,5,4,,3,\n", "predicted:a: predictions belong on the leader's self-assessment row"),
        ("ann@example.org,manager,4,4,2,5,4,,,4\n", "predicted:b: predictions belong on the leader's self-assessment row"),
        ("ann@example.org,self,4,4,2,5,4,,6,\n", "predicted:a: 6 is off the scale (1 to 5)"),
        ("ann@example.org,self,4,4,2,5,4,,0,\n", "predicted:a: 0 is off the scale (1 to 5)"),
        ("ann@example.org,self,4,4,2,5,4,,,3.5\n", "predicted:b: '3.5' is not a whole number"),
        ("ann@example.org,self,4,4,2,5,4,,na,\n", "predicted:a: 'na' is not a whole number"),
    ],
)  # fmt: skip
def test_bad_predictions_reject_the_whole_file(database, cohort, row, expected):
    """Only the leader predicts, on their self row, a whole point of the scale (row 2 is good)."""
    assert try_import(database, cohort, HEADER + GOOD + row) == [f"row 3, column {expected}"]


def test_predictions_are_optional_and_blank_means_none(database, cohort):
    with_predictions = (
        HEADER
        + "ann@example.org,self,4,4,2,5,4,,,\n"  # blank: no prediction
        + "ben@example.org,self,4,4,2,5,4,, 4 ,\n"
        + "cat@example.org,self,4,4,2,5,4,,2.0,5\n"  # a spreadsheet's 2.0 is the point 2
        + "cat@example.org,peer,4,4,2,5,4,,,\n"  # blank on an observer row: fine
    )
    # Prediction columns may be left out, or given for some dimensions only, in any case.
    without = "leader,relationship,a1,a2,a3,b1,b2,PREDICTED:B\ndan@example.org,self,3,3,3,3,3,1\n"
    with database.transaction() as session:
        for text in (with_predictions, without):
            import_responses(session, session.merge(cohort), text.encode(), actor="test")
    with database.session() as session:
        stored = session.execute(
            select(Leader.name, Prediction.dimension_id, Prediction.value)
            .join(Response, Response.id == Prediction.response_id)
            .join(Leader, Leader.id == Response.leader_id)
        ).all()
    assert sorted(stored) == [("Ben", "a", 4), ("Cat", "a", 2), ("Cat", "b", 5), ("Dan", "b", 1)]


def test_bad_header_columns_are_named(database, cohort):
    lines = try_import(
        database, cohort, "leader,relationship,a1,a2,a4,b1,b2,b1,predicted:zzz\n" + GOOD
    )
    unknown = "unknown column: not an item, open question or predicted:<dimension> id"
    assert f"row 1, column a4: {unknown}" in lines
    assert f"row 1, column predicted:zzz: {unknown}" in lines
    assert "row 1, column b1: this column is given twice" in lines
    assert any(line.startswith("row 1, column a3: missing") for line in lines)


def test_every_problem_is_reported_one_line_each(database, cohort):
    lines = try_import(
        database,
        cohort,
        HEADER
        + GOOD
        + "zed@example.org,peer,9,4,2,5,4,,,\n"  # two problems on row 3
        + "ann@example.org,self,4,4,2,5,4,,,\n"
        + "ann@example.org,self,4,4,2,5,4,,,\n",  # a second self-assessment
    )
    assert lines == [
        "row 3, column leader: no leader with email 'zed@example.org' in this cohort",
        "row 3, column a1: 9 is off the scale (1 to 5)",
        "row 5, column relationship: this leader already has a self-assessment",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"PK\x03\x04binary", "spreadsheet workbook"),
        (HEADER.encode(), "the file has a header but no rows"),
    ],
)
def test_files_that_are_not_response_tables(database, cohort, data, expected):
    (line,) = try_import(database, cohort, data)
    assert expected in line


def test_a_self_assessment_already_stored_cannot_be_imported_again(database, cohort):
    first = HEADER + "ann@example.org,self,4,4,2,5,4,,,\n"
    with database.transaction() as session:
        import_responses(session, session.merge(cohort), first.encode(), actor="test")
    (line,) = try_import(database, cohort, HEADER + "ANN@example.org,self,3,3,3,3,3,,,\n")
    assert line == "row 2, column relationship: this leader already has a self-assessment"


def test_imported_responses_are_stored_like_web_submissions(database, cohort):
    text = (
        "\ufeff" + HEADER.replace(",", ";")  # a byte-order mark and semicolons, as Excel writes
        + "ANN@Example.org;Direct report;4;n/a;2;;4;Steady under pressure;;\n"
        + "ann@example.org;self;5;5;1;5;5;;;\n"
    )  # fmt: skip
    with database.transaction() as session:
        summary = import_responses(session, session.merge(cohort), text.encode(), actor="cli")
    assert str(summary) == "imported 2 responses for 1 leaders (self 1, direct_report 1)"
    with database.session() as session:
        ann = session.scalars(select(Leader).where(Leader.email == "ann@example.org")).one()
        responses = session.scalars(select(Response).where(Response.leader_id == ann.id)).all()
        assert all(re.fullmatch(r"[0-9a-f]{32}", r.id) for r in responses)
        assert {c.text for r in responses for c in r.comments} == {"Steady under pressure"}
        scored = sorted(leader_responses(session, ann), key=lambda r: r.relationship)
        assert scored[0].relationship == "direct_report"
        assert scored[0].answers == {"a1": 4, "a2": None, "a3": 2, "b1": None, "b2": 4}
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "responses.import")
        ).one()
        assert event.actor == "cli" and event.detail["responses"] == 2


def test_command_line_import(runner, database, cohort, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "zed@example.org,peer,4,4,2,5,4,,,\n", encoding="utf-8")
    result = runner.invoke(cli, ["responses", "import", "--cohort", cohort.slug, str(bad)])
    assert result.exit_code == 1
    assert "row 2, column leader: no leader with email 'zed@example.org'" in result.output
    assert "nothing imported (1 problems)" in result.output
    good = tmp_path / "good.csv"
    good.write_text(NOW_CSV, encoding="utf-8")
    result = runner.invoke(cli, ["responses", "import", "--cohort", cohort.slug, str(good)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(
        "imported 16 responses for 4 leaders (self 4, manager 1, peer 5, direct_report 5, "
        "other 1) into cohort transfer"
    )
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(cli, ["responses", "import", "--cohort", "nope", str(good)])
    assert result.exit_code != 0 and "no cohort with the slug 'nope'" in result.output


# -- export -------------------------------------------------------------------------------


@pytest.fixture
def imported(database, cohort) -> Cohort:
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
