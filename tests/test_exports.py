"""Score exports, tested for the ways real tools have leaked rater data.

``cl360 scores export`` never carries a rater's answers or comments, marks what the scoring
layer withheld as suppressed, and gives it no numbers.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import select

from assessment.cli import cli
from assessment.cohorts import add_leader, create_cohort
from assessment.core.instruments import IDENTIFIER
from assessment.core.scoring import Stat
from assessment.exports import CSV_COLUMNS as COLUMNS
from assessment.exports import (
    NO_EXTRAS,
    SHOWN,
    SUPPRESSED,
    FigureBlock,
    FigureRow,
    csv_rows,
    safe_text,
    to_xlsx,
    write_csv,
    write_rows,
)
from assessment.imports import import_responses
from assessment.invitations import create_invitation
from assessment.models import Cohort, Comment, Relationship, Response
from assessment.responses import Answers, submit
from assessment.results import cohort_results
from tests.builders import NOW_CSV, close, export_text, four_leaders

SECRET_COMMENT = "The night shift incident with Jo was handled badly."


@pytest.fixture
def exported(database, coach, instrument, signed_in):
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Export cohort", instrument)
        hostile = add_leader(s, cohort, '=HYPERLINK("http://evil","x")', "h@example.org", "+Ops")
        small = add_leader(s, cohort, "Tiny Group", "t@example.org", "@Ward")
        quiet = add_leader(s, cohort, "Quiet Predictor", "q@example.org", "Ops")
        plan = [
            (hostile, Relationship.SELF, "Self Person", 5),
            (hostile, Relationship.PEER, "Penny Peer", 4),
            (hostile, Relationship.PEER, "Paul Peer", 3),
            (hostile, Relationship.PEER, "Pia Peer", 2),
            (hostile, Relationship.DIRECT_REPORT, "Dora Report", 1),  # 2 reports: below 3
            (hostile, Relationship.DIRECT_REPORT, "Dan Report", 5),
            (small, Relationship.PEER, "Solo Peer", 1),  # Others below minimum: nothing shown
            (small, Relationship.PEER, "Duo Peer", 2),
            (quiet, Relationship.SELF, "Quiet Self", 3),  # predicts, but Others is withheld:
            (quiet, Relationship.PEER, "Uno Peer", 3),  # 2 observers < 3
            (quiet, Relationship.PEER, "Dos Peer", 3),
        ]
        for leader, relationship, name, value in plan:
            invitation = create_invitation(
                s,
                leader,
                relationship,
                actor="t",
                rater_name=name,
                rater_email=name.lower().replace(" ", ".") + "@example.org",
            )
            answers = {i.id: value for i in instrument.items}
            # The leader predicts Others will give 4 on every dimension.
            predicted = {d.id: 4 for d in instrument.dimensions}
            comments = {"most_helps": SECRET_COMMENT}
            if relationship == Relationship.SELF:
                submit(s, instrument, invitation, Answers(answers, comments, predicted))
            else:
                submit(s, instrument, invitation, Answers(answers, comments))
        slug = cohort.slug
    still_open = signed_in.get(f"/cohorts/{slug}/scores.csv")
    assert still_open.status_code == 409 and "still open" in still_open.get_data(as_text=True)
    close(database, cohort)
    csv_bytes = signed_in.get(f"/cohorts/{slug}/scores.csv")
    xlsx_bytes = signed_in.get(f"/cohorts/{slug}/scores.xlsx")
    return csv_bytes, xlsx_bytes


def test_exports_download_with_the_right_types(exported):
    csv_response, xlsx_response = exported
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    assert "attachment" in csv_response.headers["Content-Disposition"]
    assert xlsx_response.mimetype.endswith("spreadsheetml.sheet")
    assert xlsx_response.data.startswith(b"PK")


def rows_of(exported):
    csv_response, xlsx_response = exported
    text = csv_response.data.decode("utf-8-sig")
    csv_rows = list(csv.DictReader(io.StringIO(text)))
    sheet = load_workbook(io.BytesIO(xlsx_response.data), read_only=True)["scores"]
    values = list(sheet.values)
    width = len(values[0])  # a read-only sheet leaves trailing empty cells out
    xlsx_rows = [
        dict(zip(values[0], (*row, *[None] * (width - len(row))), strict=True))
        for row in values[1:]
    ]
    return text, csv_rows, xlsx_rows


NUMBERS = ("n", "mean", "sd", "ci_low", "ci_high", "rwg", "self_minus_others")


def test_no_identifying_columns_answers_or_comments(exported, session):
    text, csv_rows, xlsx_rows = rows_of(exported)
    assert list(csv_rows[0]) == list(COLUMNS) == list(xlsx_rows[0])
    forbidden = ["Penny", "Paul", "Pia", "Dora", "Dan", "Solo", "Duo", "Self Person"]
    forbidden += ["Quiet Self", "Uno", "Dos"]
    forbidden += ["penny", "dora", "solo"]  # their email addresses
    forbidden += list(session.scalars(select(Response.id)))
    for word in forbidden:
        assert word not in text
    assert "night shift" not in text and "most_helps" not in text
    identifying = {"rater", "rater_name", "rater_email", "response_id", "invitation_id"}
    assert not identifying & set(COLUMNS)
    assert not any(w in c for c in COLUMNS for w in ("comment", "answer", "email_rater"))


def shown(rows):
    return [r for r in rows if r["record"] == "figure" and r["status"] == "shown"]


def test_groups_below_their_minimum_carry_no_numbers(exported):
    _, csv_rows, xlsx_rows = rows_of(exported)
    for rows in (csv_rows, xlsx_rows):
        groups = {(r["leader_name"], r["group"]) for r in shown(rows)}
        assert not any(g == "direct_report" for _, g in groups)  # 2 < 3
        assert not any(leader.startswith("Tiny") for leader, _ in groups)  # Others: 2 < 3
        hostile = {g for leader, g in groups if "HYPERLINK" in leader}
        # Peers (3) are withheld too: Others minus Peers would expose the two direct reports.
        assert hostile == {"self", "others"}
        others = [r for r in shown(rows) if r["group"] == "others" and r["kind"] == "dimension"]
        assert {int(r["n"]) for r in others} == {5}  # direct reports still count in Others
        for row in rows:
            if row["record"] == "figure" and row["status"] == "suppressed":
                assert all(row[c] in (None, "") for c in NUMBERS), row
            elif row["record"] == "figure" and row["group"] != "self":
                assert int(row["n"]) >= 3


def test_formula_injection_is_neutralised_in_csv_and_xlsx(exported):
    _, csv_rows, xlsx_rows = rows_of(exported)
    leaders = {r["leader_name"] for r in csv_rows if r["leader_name"]}
    assert '\'=HYPERLINK("http://evil","x")' in leaders
    for row in xlsx_rows:
        for value in row.values():
            assert not (isinstance(value, str) and value.startswith(("=", "+", "-", "@")))
    means = [r["mean"] for r in shown(xlsx_rows) if r["mean"] is not None]
    assert means and all(isinstance(m, float | int) for m in means)
    gaps = [r["self_minus_others"] for r in xlsx_rows if r["self_minus_others"] is not None]
    assert gaps and all(isinstance(g, float | int) for g in gaps)


def test_predictions_and_no_error_against_a_withheld_others_score(exported):
    _, csv_rows, xlsx_rows = rows_of(exported)
    prediction_columns = ("predicted", "prediction_error", "mean_absolute_prediction_error")
    for rows in (csv_rows, xlsx_rows):
        assert all(column in rows[0] for column in prediction_columns)
        hostile = [r for r in rows if "HYPERLINK" in (r["leader_name"] or "")]
        quiet = [r for r in rows if r["leader_name"] == "Quiet Predictor"]
        # Others gives every item (4 + 3 + 2 + 1 + 5) / 5 = 3 against the predicted 4: +1.
        others = [r for r in hostile if r["group"] == "others" and r["kind"] == "dimension"]
        assert others and all(float(r["prediction_error"]) == 1 for r in others)
        (summary,) = [r for r in hostile if r["record"] == "leader"]
        assert float(summary["mean_absolute_prediction_error"]) == 1
        # Quiet's Others is withheld: the prediction (their own answer) is on their self rows,
        # and no error or mean appears anywhere.
        selves = [r for r in quiet if r["group"] == "self" and r["kind"] == "dimension"]
        assert selves and all(float(r["predicted"]) == 4 for r in selves)
        assert {r["group"] for r in shown(quiet)} == {"self"}
        for row in quiet:
            assert row["prediction_error"] in (None, ""), row
            assert row["mean_absolute_prediction_error"] in (None, ""), row


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\r=x", "'\r=x"),
        ("Plain", "Plain"),
        ("a\x00b\x07c", "abc"),
    ],
)
def test_safe_text(value, expected):
    assert safe_text(value) == expected


def test_xlsx_of_no_rows_is_just_the_header():
    sheet = load_workbook(io.BytesIO(to_xlsx(COLUMNS, [])))["scores"]
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    cells = load_workbook(io.BytesIO(to_xlsx(["a", "b"], [("=2+2", -1.5)])))["scores"]
    assert [c.value for c in cells[2]] == ["'=2+2", -1.5]


TEXT = (st.text() | st.text(alphabet=",\"'\n\r\t =+-@aé€😀")).map(safe_text)
"""Any text, and text made of what CSV quoting and spreadsheet escaping are about, escaped as
the export escapes it."""
IDS = st.from_regex(IDENTIFIER, fullmatch=True)
USUAL = st.integers(-(10**6), 10**6).map(lambda k: k / 1000)
NOT_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
ANY_FLOAT = st.sampled_from([1e-05, -9.9e-05, 1e-07, 5e-09, 1e16]) | st.floats()


@st.composite
def export_parts(draw: st.DrawFn) -> list[tuple[Any, ...] | FigureBlock]:
    """Rows and blocks of figure rows as the export builds them, with any text in the cells
    the rows share and, among the usual statistics, NaN and infinities (which orjson writes
    as null) or any float (some of which orjson spells unlike Python)."""
    number = draw(st.sampled_from([USUAL, USUAL | NOT_FINITE, USUAL | ANY_FLOAT]))
    optional = st.none() | number
    stat = st.builds(Stat, st.integers(0, 10**6), number, optional, optional, optional, optional)
    cell = st.none() | number | TEXT
    figure = st.builds(
        FigureRow,
        st.sampled_from(("dimension", "item")),
        IDS,
        st.sampled_from((SHOWN, SUPPRESSED)),
        st.none() | IDS,
        st.none() | stat,
        st.sampled_from((None, "true", "false")),
        st.just(NO_EXTRAS) | st.tuples(*[cell] * len(NO_EXTRAS)),
    )
    block = st.builds(FigureBlock, st.tuples(*[TEXT] * 5), st.lists(figure, max_size=8))
    row = st.lists(cell, min_size=1, max_size=len(COLUMNS)).map(tuple)
    return draw(st.lists(block | row, max_size=4))


def one_row(name: str, stat: Stat) -> list[tuple[Any, ...] | FigureBlock]:
    figure = FigureRow("item", "a1", SHOWN, None, stat, "false", NO_EXTRAS)
    return [FigureBlock(("figure", "ann@example.org", name, "peer", "Peers"), [figure])]


@settings(deadline=None)
@given(export_parts())
@example(one_row("Ann", Stat(3, 1e-05)))  # orjson: 0.00001
@example(one_row("Ann", Stat(3, 4.0, 1e-07)))  # orjson: 1e-7
@example(one_row("Ann", Stat(3, 4.0, 0.5, 3.0, 5.0, math.nan)))  # orjson: null
@example(one_row("Ann\nLee", Stat(3, 4.0)))
def test_the_fast_csv_writer_writes_exactly_what_the_csv_module_writes(parts):
    fast, plain = io.StringIO(), io.StringIO()
    write_rows(fast, parts)
    rows = (
        row for part in parts for row in (part.rows() if isinstance(part, FigureBlock) else [part])
    )
    csv.writer(plain, lineterminator="\n").writerows(rows)
    assert fast.getvalue() == plain.getvalue()


# -- cl360 scores export ---------------------------------------------------------------


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
    assert list(rows[0]) == list(COLUMNS)
    suppressed = [r for r in rows if r["status"] == "suppressed"]
    assert {r["reason"] for r in suppressed} == {
        "figure_below_minimum",
        "complement",
        "partial_answers",
        "group_below_minimum",
        "others_below_minimum",
    }
    for row in suppressed:
        assert all(row[column] == "" for column in COLUMNS[COLUMNS.index("n") :]), row
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
        csv.writer(reference, lineterminator="\n").writerows([COLUMNS, *csv_rows(results)])
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
        assert next(csv.reader(handle)) == list(COLUMNS)
    assert f"wrote the scores of 4 leaders to {out}" in result.output
    result = runner.invoke(cli, ["scores", "export", "--cohort", "nope"])
    assert result.exit_code != 0 and "no cohort with the slug 'nope'" in result.output
