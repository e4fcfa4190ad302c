"""The individual development report: built from scores, charted, rendered and read back.

A small synthetic instrument is scored with the real scoring layer, turned into report data and
printed with WeasyPrint; the PDF is then read with pypdf to check what a leader would see, what
the anonymity rules keep out of it, and what the metadata and tagging record.
"""

from __future__ import annotations

import io
import logging
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import numpy as np
import pypdf
import pytest

from assessment.core.instruments import Instrument, load_instrument
from assessment.core.profile_fitting import fit_profiles
from assessment.core.profiles import TooFewLeaders, leader_features
from assessment.core.psychometrics import Baseline, CohortFigures, cohort_figures
from assessment.core.scoring import SCORING_VERSION, RaterResponse, Rules, score_leader
from reports import charts
from reports.build import (
    AGREEMENT_LABELS,
    CohortPlacement,
    IndividualReport,
    individual_report,
    number,
    ordinal,
    shuffled_comments,
    signed,
)
from reports.charts import TEMPLATES
from reports.pdf import STATIC, RefusedURL, StaticFilesOnly
from reports.render import render_html, render_pdf
from tests.builders import (
    DEFAULT_INSTRUMENT,
    GENERATED,
    cohort_responses,
    full_responses,
    make_report_instrument,
    pdf_text,
    response,
)

SVG = "{http://www.w3.org/2000/svg}"
LEADER = "Priya Raman-Whitfield"
COHORT = "Autumn leaders 2025"
COMMENTS = [
    "Always explains why the work matters before talking about targets.",
    "Could pause more before replying in tense meetings.",
    'Stood up to head office for us <b>twice</b> & said "no" politely.',
]


#: The fixture leader's predictions of their Others scores: close, too high and too low.
PREDICTED = {"purpose": 3, "self_awareness": 4, "courage": 2}

PREVIOUS = "Spring leaders 2024"
BASELINE = Baseline(
    cohort=PREVIOUS,
    others={"purpose": 3.1, "self_awareness": 2.9, "courage": 4.6},
    sd={"purpose": 0.4, "self_awareness": 0.5, "courage": 0.45},
    alpha={"purpose": 0.8, "self_awareness": 0.75, "courage": 0.7},
)


def placement_for(
    instrument: Instrument, figures: CohortFigures[str], key: str = "fixture"
) -> CohortPlacement:
    """What assessment.reporting hands the builder, with a small real profile model."""
    rng = random.Random(6)
    dimension_ids = [d.id for d in instrument.dimensions]
    reference = [
        [rng.gauss(3.7, 0.5) for _ in dimension_ids] + [rng.gauss(0.2, 0.6) for _ in dimension_ids]
        for _ in range(40)
    ]
    model = fit_profiles(
        np.asarray(reference),
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        dimension_ids=dimension_ids,
        dimension_names=[d.name for d in instrument.dimensions],
        n_bootstrap=3,
    )
    assert not isinstance(model, TooFewLeaders)
    features = leader_features(figures.leaders[key], dimension_ids)
    assert features is not None
    return CohortPlacement(
        figures=figures.leaders[key],
        cohort_leaders={d: dist.n for d, dist in figures.distributions.items()},
        reference_leaders=dict(figures.reference_size),
        profile=model.assign(features),
        profile_model=model,
    )


@pytest.fixture(scope="module")
def figures(report_instrument: Instrument) -> CohortFigures[str]:
    return cohort_figures(
        report_instrument,
        cohort_responses(report_instrument, full_responses(report_instrument)),
        baselines={"fixture": BASELINE},
        predictions={"fixture": PREDICTED},
    )


@pytest.fixture(scope="module")
def placement(report_instrument: Instrument, figures: CohortFigures[str]) -> CohortPlacement:
    return placement_for(report_instrument, figures)


@pytest.fixture(scope="module")
def full_report(report_instrument: Instrument, placement: CohortPlacement) -> IndividualReport:
    scores = score_leader(report_instrument, full_responses(report_instrument))
    return individual_report(
        instrument=report_instrument,
        scores=scores,
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=COMMENTS,
        generated_on=GENERATED,
        placement=placement,
    )


@pytest.fixture(scope="module")
def few_report(report_instrument: Instrument) -> IndividualReport:
    responses = full_responses(report_instrument)[:3]  # self, manager and one peer: 2 observers
    scores = score_leader(report_instrument, responses)
    return individual_report(
        instrument=report_instrument,
        scores=scores,
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=COMMENTS,
        generated_on=GENERATED,
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _render(report: IndividualReport) -> tuple[bytes, list[str]]:
    """Render once per module, keeping what WeasyPrint logged (missing fonts, refused URLs...)."""
    collect = _Collect()
    weasyprint_logger = logging.getLogger("weasyprint")
    weasyprint_logger.addHandler(collect)
    try:
        return render_pdf(report), collect.messages
    finally:
        weasyprint_logger.removeHandler(collect)


@pytest.fixture(scope="module")
def full_rendering(full_report: IndividualReport) -> tuple[bytes, list[str]]:
    return _render(full_report)


@pytest.fixture(scope="module")
def few_rendering(few_report: IndividualReport) -> tuple[bytes, list[str]]:
    return _render(few_report)


@pytest.fixture(scope="module")
def full_pdf(full_rendering: tuple[bytes, list[str]]) -> bytes:
    return full_rendering[0]


@pytest.fixture(scope="module")
def few_pdf(few_rendering: tuple[bytes, list[str]]) -> bytes:
    return few_rendering[0]


@pytest.fixture(scope="module")
def full_text(full_pdf: bytes) -> str:
    return pdf_text(full_pdf)


@pytest.fixture(scope="module")
def few_text(few_pdf: bytes) -> str:
    return pdf_text(few_pdf)


# -- the data the report is built from -------------------------------------------------------


def test_scores_fixture_is_what_the_tests_assume(report_instrument: Instrument) -> None:
    scores = score_leader(report_instrument, full_responses(report_instrument))
    assert [g.key for g in scores.groups] == ["peer"]
    assert {w.group for w in scores.withheld} == {"manager", "direct_report"}
    assert scores.comments_allowed


def test_report_shows_only_the_groups_scoring_let_out(
    report_instrument: Instrument, full_report: IndividualReport
) -> None:
    assert [s.key for s in full_report.series] == ["self", "others", "peer"]
    withheld = {w.label: w for w in full_report.withheld_groups}
    assert set(withheld) == {"Manager", "Direct reports"}
    assert withheld["Direct reports"].n == 2
    assert withheld["Direct reports"].minimum == 3
    scores = score_leader(report_instrument, full_responses(report_instrument))
    reason = next(w.reason for w in scores.withheld if w.group == "direct_report")
    assert withheld["Direct reports"].reason.rstrip(".") == reason.rstrip(".")  # scoring's words


def test_figures_are_rounded_for_display_only(
    report_instrument: Instrument, full_report: IndividualReport
) -> None:
    scores = score_leader(report_instrument, full_responses(report_instrument))
    purpose = full_report.dimensions[0]
    others = purpose.figure("others")
    assert others is not None
    assert others.value == scores.others.dimensions["purpose"].mean  # full precision kept
    assert others.mean == f"{scores.others.dimensions['purpose'].mean:.2f}"
    assert others.n == 6
    assert purpose.gap == signed(scores.dimension_gaps["purpose"])


def test_number_formats() -> None:
    assert number(3.14159) == "3.14"
    assert number(-0.001) == "0.00"
    assert signed(0.5) == "+0.50"
    assert signed(-1.256) == "\u22121.26"
    assert signed(-0.004) == "0.00"


def test_items_use_observer_wording_with_the_leaders_name(full_report: IndividualReport) -> None:
    row = full_report.dimensions[0].items[0]
    assert row.text == f"{LEADER} shows purpose behaviour 1"
    assert row.self_figure.mean == "4.00"
    assert row.others.n == 6
    assert row.others.rwg is not None
    assert [r.reverse for r in full_report.dimensions[0].items] == [False, False, True]
    assert full_report.has_reversed_items
    # Reversed items are printed as scored, so higher is better on every row, and worded as
    # what a high score means, with the statement as asked beneath.
    restated = full_report.dimensions[0].items[2]
    assert restated.self_figure.mean == "4.00"
    assert restated.text == f"{LEADER} rarely fails at purpose 3"
    assert restated.asked == f"{LEADER} shows purpose behaviour 3"
    unrestated = full_report.dimensions[2].items[2]
    assert unrestated.reverse and unrestated.asked is None
    assert unrestated.text == f"{LEADER} shows courage behaviour 3"
    ranked = [*full_report.strengths, *full_report.development_areas]
    assert all(r.asked is None or "rarely fails at" in r.text for r in ranked)


def test_pdf_prints_a_restated_statement_marked_as_reworded(full_text: str) -> None:
    text = " ".join(full_text.split())
    assert f"{LEADER} rarely fails at purpose 3 reworded" in text
    assert "A statement raters were asked in the negative" in text
    assert "reverse-scored" in full_text  # courage's, which has no restatement


def test_blind_spots_and_hidden_strengths_are_on_their_dimension(
    full_report: IndividualReport,
) -> None:
    awareness = full_report.dimensions[1]
    assert [f.number for f in awareness.blind_spots] == [1, 2, 3]  # self 5 against Others 2.83
    assert all(row.flag == "Blind spot" for row in awareness.items)
    assert full_report.dimensions[0].blind_spots == []


def test_rankings_put_strengths_first_and_never_overlap(full_report: IndividualReport) -> None:
    highest = [r.value for r in full_report.strengths]
    lowest = [r.value for r in full_report.development_areas]
    assert highest == sorted(highest, reverse=True)
    assert lowest == sorted(lowest)
    assert len(highest) == len(lowest) == 4  # nine items: at most half each
    assert min(highest) >= max(lowest)
    assert not {r.text for r in full_report.strengths} & {
        r.text for r in full_report.development_areas
    }


def test_comments_are_shuffled_stably_and_independently_of_arrival_order() -> None:
    first = shuffled_comments(COMMENTS, LEADER, COHORT)
    assert sorted(first) == sorted(c.strip() for c in COMMENTS)
    assert shuffled_comments(list(reversed(COMMENTS)), LEADER, COHORT) == first
    assert shuffled_comments([" ", "", *COMMENTS], LEADER, COHORT) == first


def test_comments_only_when_allowed(
    full_report: IndividualReport, few_report: IndividualReport
) -> None:
    assert len(full_report.comments) == 3
    assert full_report.comments_note is None
    assert few_report.comments == []
    assert few_report.comments_note is not None
    assert "2 observers responded" in few_report.comments_note


def test_too_few_observers_leaves_only_the_self_assessment(few_report: IndividualReport) -> None:
    assert [s.key for s in few_report.series] == ["self"]
    assert not few_report.observer_scores_shown
    assert few_report.observers_note is not None
    assert few_report.observers_note.endswith(": 2 responded and at least 3 are needed.")
    assert few_report.strengths == few_report.development_areas == []
    for dimension in few_report.dimensions:
        assert dimension.blind_spots == dimension.hidden_strengths == []
        assert all(not row.others.shown for row in dimension.items)


def test_manager_minimum_of_one_is_called_out() -> None:
    instrument = make_report_instrument(manager_minimum=1)
    responses = [
        response(instrument, "self", purpose=4, self_awareness=4, courage=4),
        response(instrument, "manager", purpose=3, self_awareness=3, courage=3),
        *[response(instrument, "peer", purpose=4, self_awareness=4, courage=4)] * 3,
        *[response(instrument, "direct_report", purpose=5, self_awareness=4, courage=3)] * 3,
    ]
    rules = Rules.from_instrument(instrument)
    report = individual_report(
        instrument=instrument,
        scores=score_leader(instrument, responses, rules),
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=[],
        generated_on=GENERATED,
        rules=rules,
    )
    assert "manager" in [s.key for s in report.series]
    assert report.manager_identifiable
    assert report.manager_note is not None
    assert "not anonymous" in report.manager_note
    assert report.comments_note == "No one wrote a comment."
    html = render_html(report)
    assert html.count("not anonymous") == 2  # anonymity rules and the summary


def test_an_absent_figure_says_why(report_instrument: Instrument) -> None:
    """Two of three peers skip most Courage items: the Others Courage score is withheld."""
    skipped = {"courage_1": None, "courage_2": None}
    peers = [
        response(report_instrument, "peer", purpose=4, self_awareness=4, courage=4) for _ in "abc"
    ]
    peers[1] = RaterResponse("peer", {**peers[1].answers, **skipped})
    peers[2] = RaterResponse("peer", {**peers[2].answers, **skipped})
    myself = response(report_instrument, "self", purpose=4, self_awareness=4, courage=4)
    myself = RaterResponse("self", {**myself.answers, **skipped})
    scores = score_leader(report_instrument, [myself, *peers])
    report = individual_report(
        instrument=report_instrument,
        scores=scores,
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=[],
        generated_on=GENERATED,
    )
    # The report gives the scoring layer's own reason, as a clause ending in a full stop.
    reason = scores.others.withheld_figures["dimension:courage"].reason.rstrip(".") + "."
    item_reason = scores.others.withheld_figures["item:courage_1"].reason.rstrip(".") + "."
    courage = report.dimensions[2]
    others = courage.figure("others")
    assert others is not None
    assert not others.shown
    assert others.note == reason
    assert courage.gap is None
    assert f"Others, Courage: {reason}" in report.summary_notes
    assert "Self, Courage: you rated fewer than half of this capability's items." in (
        report.summary_notes
    )
    assert f"Others score: {reason}" in courage.notes
    assert f"Item 1, Others: {item_reason}" in courage.notes
    assert "Item 1, Self: you did not rate this item." in courage.notes
    assert any(
        note.startswith("Others (Courage score, Courage item 1, Courage item 2): ")
        for note in report.withheld_figures
    )


def test_no_manager_note_with_the_default_minimum(full_report: IndividualReport) -> None:
    assert full_report.manager_note is None
    assert not full_report.manager_identifiable


def test_report_without_a_self_assessment(report_instrument: Instrument) -> None:
    responses = full_responses(report_instrument)[1:]
    report = individual_report(
        instrument=report_instrument,
        scores=score_leader(report_instrument, responses),
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=[],
        generated_on=GENERATED,
    )
    assert [s.key for s in report.series] == ["others", "peer"]
    assert report.self_note == "You did not complete a self-assessment."
    assert not report.gaps_shown
    html = render_html(report)
    assert "You did not complete a self-assessment." in html
    assert "Blind spots" not in html


# -- charts ---------------------------------------------------------------------------------


def _svg(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text
    assert root.get("aria-labelledby")
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def _ticks(root: ET.Element) -> dict[int, float]:
    return {
        int(line.get("data-point")): float(line.get("x1"))
        for line in root.iter(f"{SVG}line")
        if line.get("data-point")
    }


def _of_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [element for element in root.iter() if element.get("class") == name]


def _markers(root: ET.Element) -> list[tuple[str, float, float]]:
    found = []
    for marker in _of_class(root, "marker"):
        x = float(re.match(r"translate\(([-\d.]+) ", marker.get("transform")).group(1))
        found.append((marker.get("data-series"), float(marker.get("data-value")), x))
    return found


def test_summary_chart_places_markers_in_proportion(full_report: IndividualReport) -> None:
    root = _svg(charts.summary_chart(full_report))
    texts = _texts(root)
    for name in ("Purpose", "Self-awareness", "Courage", "Self", "Others", "Peers"):
        assert name in texts
    assert "Direct reports" not in texts
    ticks = _ticks(root)
    assert sorted(ticks) == [1, 2, 3, 4, 5]
    left, right = ticks[1], ticks[5]
    markers = _markers(root)
    assert len(markers) == 3 * 3  # three dimensions, three series
    for _series, value, x in markers:
        assert x == pytest.approx(left + (value - 1) / 4 * (right - left), abs=0.01)
    # Each series keeps one marker shape and colour, and no two series share one.
    paths = {}
    for marker in _of_class(root, "marker"):
        paths.setdefault(marker.get("data-series"), set()).add(
            (marker.get("d"), marker.get("fill"))
        )
    assert all(len(p) == 1 for p in paths.values())
    assert len({next(iter(p)) for p in paths.values()}) == len(paths)


def test_item_chart_draws_interval_whiskers(full_report: IndividualReport) -> None:
    dimension = full_report.dimensions[0]
    root = _svg(charts.item_chart(dimension, full_report.series, full_report.scale_points))
    assert [t for t in _texts(root) if t.startswith("Item ")] == ["Item 1", "Item 2", "Item 3"]
    ticks = _ticks(root)
    axis = charts.Axis(5, ticks[1], ticks[5])
    intervals = _of_class(root, "interval")
    assert len(intervals) == 3
    for whisker, row in zip(intervals, dimension.items, strict=True):
        assert float(whisker.get("data-from")) == axis.x(row.others.ci_low)
        assert float(whisker.get("data-to")) == axis.x(row.others.ci_high)
        assert whisker.get("d").startswith(f"M{whisker.get('data-from')},")
    for _series, value, x in _markers(root):
        assert x == axis.x(value)


def test_axis_clamps_to_the_scale() -> None:
    axis = charts.Axis(5, 100.0, 500.0)
    assert axis.x(1) == 100.0
    assert axis.x(3) == 300.0
    assert axis.x(5.6) == 500.0  # an interval may run past the scale; the chart stops at its end
    assert axis.x(0.2) == 100.0


def test_chart_text_from_instrument_is_escaped(full_report: IndividualReport) -> None:
    odd = replace(full_report.dimensions[0], name='<Purpose & "co">')
    report = replace(full_report, dimensions=[odd, *full_report.dimensions[1:]])
    root = _svg(charts.summary_chart(report))
    assert '<Purpose & "co">' in _texts(root)


def test_every_marker_shape_is_a_closed_path() -> None:
    for style in (charts.SELF_STYLE, charts.OTHERS_STYLE, *charts.GROUP_STYLES):
        path = charts.marker_path(style.shape, 5)
        assert path.startswith("M")
        assert path.endswith("Z")


# -- HTML -----------------------------------------------------------------------------------


def test_html_escapes_user_content(full_report: IndividualReport) -> None:
    html = render_html(full_report)
    assert "<b>twice</b>" not in html
    assert "&lt;b&gt;twice&lt;/b&gt;" in html
    assert '<html lang="en-GB">' in html


def test_withheld_group_has_no_column_anywhere(full_report: IndividualReport) -> None:
    html = render_html(full_report)
    summary_table = html[html.index('<table class="data summary-table">') :]
    summary_table = summary_table[: summary_table.index("</table>")]
    assert "Peers" in summary_table
    assert "Direct reports" not in summary_table
    for chart in re.findall(r"<svg[^>]*class=\"chart.*?</svg>", html, flags=re.S):
        assert "Direct reports" not in chart


def test_every_chart_comes_with_a_table(full_report: IndividualReport) -> None:
    html = render_html(full_report)
    assert html.count('class="chart chart-summary"') == 1
    assert html.count('class="data summary-table"') == 1
    assert html.count('class="chart chart-items"') == 3
    assert html.count('class="data items-table"') == 3


# -- the PDF --------------------------------------------------------------------------------


def test_pdf_shows_the_leader_and_the_others_means(
    full_text: str, full_report: IndividualReport
) -> None:
    text = full_text
    assert LEADER in text
    assert COHORT in text
    assert "3 October 2025" in text
    assert "Compassionate Leadership test instrument, version 4" in text
    for dimension in full_report.dimensions:
        others = dimension.figure("others")
        assert others is not None
        assert others.mean in text


def test_pdf_never_prints_the_withheld_groups_figures(
    full_text: str, report_instrument: Instrument
) -> None:
    text = " ".join(full_text.split())
    scores = score_leader(report_instrument, full_responses(report_instrument))
    shown = {
        number(value)
        for group in [scores.self_scores, *scores.shown]
        for stat in [*group.dimensions.values(), *group.items.values()]
        for value in (stat.mean, stat.ci_low, stat.ci_high, stat.rwg)
        if value is not None
    }
    direct_reports_mean = number((2 + 1) / 2)
    assert direct_reports_mean not in shown  # the fixture keeps it distinguishable
    assert direct_reports_mean not in text
    # The label appears, but only where the report explains what was withheld and why.
    reason = next(w.reason for w in scores.withheld if w.group == "direct_report")
    assert f"Direct reports (2 responded, minimum 3): {reason.rstrip('.')}" in text
    assert "Direct reports 2 Counted in Others only" in text  # the appendix


def test_pdf_comments_only_when_allowed(full_text: str, few_text: str) -> None:
    full, few = full_text, few_text
    assert "Always explains why the work matters" in full
    assert "<b>twice</b>" in full  # printed as the rater typed it, not interpreted
    for comment in ("Always explains why the work matters", "Could pause more", "twice"):
        assert comment not in few
    assert "the comments are not shown" in " ".join(few.split())


def test_pdf_without_enough_observers_shows_no_observer_scores(
    few_text: str, few_report: IndividualReport
) -> None:
    text = " ".join(few_text.split())
    assert few_report.observers_note is not None
    assert few_report.observers_note in text
    assert "Items cannot be ranked" in text
    # The two observers' Self-awareness average, (4 + 3) / 2, is nowhere in the report.
    assert number((4 + 3) / 2) not in text
    assert [s.key for s in few_report.series] == ["self"]


@pytest.mark.parametrize("which", ["full_pdf", "few_pdf"])
def test_pdf_page_count_is_sane(which: str, request: pytest.FixtureRequest) -> None:
    reader = pypdf.PdfReader(io.BytesIO(request.getfixturevalue(which)))
    assert 8 <= len(reader.pages) <= 12
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=0.5)  # A4
    assert reader.pages[0].mediabox.height == pytest.approx(841.89, abs=0.5)


def test_pdf_metadata_records_instrument_scoring_and_date(full_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(full_pdf))
    meta = reader.metadata
    assert meta.title == f"Individual development report: {LEADER}"
    assert meta.author == "Compassionate Leadership 360"
    assert "instrument cl-test" in meta["/Keywords"]
    assert "instrument version 4" in meta["/Keywords"]
    assert f"scoring version {SCORING_VERSION}" in meta["/Keywords"]
    assert meta["/instrumentid"] == "cl-test"
    assert meta["/instrumentversion"] == "4"
    assert meta["/scoringversion"] == SCORING_VERSION
    assert meta["/reportdate"] == "2025-10-03"
    assert meta["/CreationDate"].startswith("D:20251003")


def test_pdf_is_tagged_with_its_language(full_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(full_pdf))
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "en-GB"
    assert "pdfuaid" in reader.xmp_metadata.stream.get_data().decode()


def test_pdf_fonts_are_embedded(full_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(full_pdf))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            descriptor = (
                descendants[0].get_object()["/FontDescriptor"]
                if descendants
                else font["/FontDescriptor"]
            )
            fonts[str(font["/BaseFont"])] = any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    assert fonts
    assert all(fonts.values()), fonts
    assert any("Inter" in name for name in fonts)


@pytest.mark.parametrize("which", ["full_rendering", "few_rendering"])
def test_rendering_logs_no_problems(which: str, request: pytest.FixtureRequest) -> None:
    _pdf, logged = request.getfixturevalue(which)
    assert logged == []


# -- fetching nothing it was not given --------------------------------------------------------


def test_fetcher_serves_the_stylesheet() -> None:
    response = StaticFilesOnly().fetch((STATIC / "report.css").as_uri())
    assert response.content_type == "text/css"
    assert b"@page" in response.read()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        (STATIC / ".." / "build.py").as_uri(),
        (STATIC / "missing.css").as_uri(),
        STATIC.as_uri(),
        "file://evil.example/" + str(STATIC / "report.css"),
        "http://example.com/report.css",
        "https://example.com/tracker.png",
        "data:text/css,body{}",
        "ftp://example.com/x",
    ],
)
def test_fetcher_refuses_everything_else(url: str) -> None:
    with pytest.raises(RefusedURL):
        StaticFilesOnly().fetch(url)


def test_fetcher_root_is_the_static_folder() -> None:
    assert StaticFilesOnly().root == Path(STATIC).resolve()


def test_templates_are_flat_so_package_data_ships_them() -> None:
    """pyproject ships ``templates/*`` and ``static/*``: a subfolder would be left out."""
    for folder in (TEMPLATES, STATIC):
        assert [p.name for p in folder.iterdir() if p.is_dir()] == []


# -- blind spots and hidden strengths name their items ----------------------------------------


def test_flagged_items_are_printed_with_their_text(
    full_text: str, full_report: IndividualReport
) -> None:
    text = " ".join(full_text.split())
    awareness = full_report.dimensions[1]
    assert awareness.blind_spots
    for flagged in awareness.blind_spots:
        assert f"{flagged.number} {flagged.text}" in text
        assert (
            f"Self {flagged.self_score} · Others {flagged.others_mean} · gap {flagged.gap}" in text
        )


# -- agreement type, percentiles, change, profile ------------------------------------------------


def test_pattern_figures_are_the_psychometrics_modules(
    full_report: IndividualReport, figures: CohortFigures[str], placement: CohortPlacement
) -> None:
    mine = figures.leaders["fixture"]
    standing = full_report.standing
    assert standing.available
    for dimension, row in zip(full_report.dimensions, standing.rows, strict=True):
        kind = mine.agreement[dimension.id]
        assert row.agreement == AGREEMENT_LABELS[kind.value]
        assert row.meaning == kind.meaning
        assert row.percentile == ordinal(mine.percentile_cohort[dimension.id])
        assert row.cohort_n == figures.distributions[dimension.id].n == 6
    assert standing.previous_cohort == PREVIOUS
    assert [c.dimension for c in standing.changes] == [d.name for d in full_report.dimensions]
    for change, dimension in zip(standing.changes, full_report.dimensions, strict=True):
        computed = mine.change[dimension.id]
        assert change.rci == signed(computed.rci)
        assert change.before == number(computed.before)
        assert change.reliable == computed.reliable
    assert standing.profile.name == placement.profile.name
    assert standing.profile.names == placement.profile_model.names


def test_pdf_prints_the_pattern(full_text: str, full_report: IndividualReport) -> None:
    text = " ".join(full_text.split())
    standing = full_report.standing
    for row in standing.rows:
        assert f"{row.dimension} {row.self_score} {row.others} {row.agreement}" in text
        assert f"{row.percentile} of {row.cohort_n} leaders" in text
    for change in standing.changes:
        assert (
            f"{change.dimension} {change.before} {change.now} {change.difference} {change.rci} "
            f"{change.verdict}"
        ) in text
    assert any(c.reliable for c in standing.changes)  # the fixture shows both readings
    assert any(not c.reliable for c in standing.changes)
    assert standing.profile.name in text
    assert f"since {PREVIOUS}" in text


def test_without_cohort_figures_the_report_says_so(
    few_text: str, few_report: IndividualReport
) -> None:
    assert not few_report.standing.available
    text = " ".join(few_text.split())
    assert "those figures were not available for this report" in text
    assert "Profiles were not available for this report." in text


def test_first_round_and_too_few_leaders_are_said_in_plain_words(
    report_instrument: Instrument, figures: CohortFigures[str]
) -> None:
    colleague = figures.leaders["colleague-1"]  # no earlier round
    report = individual_report(
        instrument=report_instrument,
        scores=colleague.scores,
        leader_name="A colleague",
        cohort_name=COHORT,
        comments=[],
        generated_on=GENERATED,
        placement=CohortPlacement(figures=colleague, profile_unavailable=TooFewLeaders(6).message),
    )
    standing = report.standing
    assert standing.changes == []
    assert standing.change_notes[0].startswith("This is your first assessment")
    assert standing.profile.name is None
    assert standing.profile.note == TooFewLeaders(6).message
    assert "there are 6" in standing.profile.note
    html = render_html(report)
    assert "This is your first assessment" in html
    assert "there are 6" in html


def test_a_leader_without_observer_scores_has_no_type_and_says_why(
    report_instrument: Instrument, few_report: IndividualReport
) -> None:
    responses = full_responses(report_instrument)[:3]  # two observers: no Others score
    figures = cohort_figures(report_instrument, cohort_responses(report_instrument, responses))
    report = individual_report(
        instrument=report_instrument,
        scores=figures.leaders["fixture"].scores,
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=[],
        generated_on=GENERATED,
        placement=CohortPlacement(figures=figures.leaders["fixture"]),
    )
    for row in report.standing.rows:
        assert row.agreement is None and row.percentile is None
        assert (
            row.note
            == "No Others score can be shown for this capability, so it cannot be compared."
        )


def test_ordinals() -> None:
    assert [ordinal(v) for v in (1, 2, 3, 4, 11, 12, 13, 21, 22, 62.5, 99.6, 100)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "63rd", "100th",
        "100th",
    ]  # fmt: skip


# -- the default instrument fits the page budget -----------------------------------------------


@pytest.fixture(scope="module")
def default_instrument() -> Instrument:
    """The product's questionnaire, as the ``instrument`` fixture loads it, but module-scoped
    like the PDF rendered from it."""
    return load_instrument(DEFAULT_INSTRUMENT)


@pytest.fixture(scope="module")
def default_pdf(default_instrument: Instrument) -> bytes:
    """26 items, every group shown, many comments and flags: the longest usual report."""
    instrument = default_instrument
    rng = random.Random(4)

    def rater(relationship: str, level: float) -> RaterResponse:
        answers = {}
        for item in instrument.items:
            value = min(5, max(1, round(level + rng.gauss(0, 0.8))))
            answers[item.id] = 6 - value if item.reverse else value
        return RaterResponse(relationship, answers)

    mine = [rater("self", 4.6)]
    observers = [rater(g, 3.4) for g in ["manager"] + ["peer"] * 4 + ["direct_report"] * 5]
    cohort = {"fixture": mine + observers}
    for index in range(6):
        cohort[f"other-{index}"] = [rater("self", 3.5)] + [rater("peer", 3 + index / 4)] * 4
    predicted = dict(zip([d.id for d in instrument.dimensions], (4, 5, 3), strict=True))
    figures = cohort_figures(
        instrument, cohort, baselines={"fixture": BASELINE}, predictions={"fixture": predicted}
    )
    report = individual_report(
        instrument=instrument,
        scores=figures.leaders["fixture"].scores,
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=[f"{c} ({n})" for n in range(4) for c in COMMENTS],
        generated_on=GENERATED,
        placement=placement_for(instrument, figures),
    )
    assert sum(len(d.blind_spots) + len(d.hidden_strengths) for d in report.dimensions) >= 8
    assert report.standing.predictions.error is not None  # predicted views fit the budget too
    return render_pdf(report)


def test_default_instrument_report_is_eight_to_twelve_pages(
    default_pdf: bytes, default_instrument: Instrument
) -> None:
    reader = pypdf.PdfReader(io.BytesIO(default_pdf))
    assert 8 <= len(reader.pages) <= 12
    # One page per capability, even with most items flagged: its heading, its flags, its
    # chart and its whole table.
    dimensions = default_instrument.dimensions
    pages = list(reader.pages)[4:7]
    for number_, (dimension, page) in enumerate(zip(dimensions, pages, strict=True), start=1):
        page_text = " ".join(page.extract_text().split())
        assert f"CAPABILITY {number_} OF {len(dimensions)}" in page_text  # text-transform
        assert f"{dimension.name}: item scores" in page_text
        last = default_instrument.items_of(dimension.id)[-1].result_text(LEADER)
        assert " ".join(last.split()) in page_text
    text = " ".join(pdf_text(default_pdf).split())
    assert "How your view compares" in text
    assert "Mean absolute prediction error" in text
    # Predicted views follow the ranked items on their page rather than taking one of their own.
    ranked = next(p.extract_text() for p in reader.pages if "Strengths: where" in p.extract_text())
    assert "Mean absolute prediction error" in ranked


# -- predicted views (docs/scoring.md) -----------------------------------------------------------------


def _report_for(
    instrument: Instrument, figures: CohortFigures[str], key: str = "fixture"
) -> IndividualReport:
    return individual_report(
        instrument=instrument,
        scores=figures.leaders[key].scores,
        leader_name=LEADER,
        cohort_name=COHORT,
        comments=[],
        generated_on=GENERATED,
        placement=CohortPlacement(figures=figures.leaders[key]),
    )


def _predicted_section(text: str) -> str:
    """The predicted-views section of a report's text (its title is also in the contents)."""
    text = " ".join(text.split())
    start = text.rindex("How well you predicted others' view")
    return text[start : text.index("How your view compares", start)]


def test_predicted_views_are_the_psychometrics_modules(
    report_instrument: Instrument, full_report: IndividualReport, figures: CohortFigures[str]
) -> None:
    mine = figures.leaders["fixture"]
    scores = score_leader(report_instrument, full_responses(report_instrument))
    views = full_report.standing.predictions
    assert views.note is None and views.notes == []
    for dimension, row in zip(report_instrument.dimensions, views.rows, strict=True):
        prediction = mine.predictions[dimension.id]
        assert prediction.others == scores.others.dimensions[dimension.id].mean
        assert row.predicted == str(PREDICTED[dimension.id])  # a point of the scale, as chosen
        assert row.others == f"{prediction.others:.2f}"
        assert row.difference == signed(prediction.error)
    assert [row.reading for row in views.rows] == [
        "Close to how others rated you",
        "You expected higher than others rated you",
        "You expected lower than others rated you",
    ]
    assert mine.prediction_error is not None
    assert views.error == f"{mine.prediction_error:.2f}" == "0.94"
    assert views.compared == 3
    assert views.error_reading == "Not close: 0.50 or more"


def test_pdf_prints_the_predictions_beside_the_others_scores(
    full_text: str, full_report: IndividualReport, figures: CohortFigures[str]
) -> None:
    section = _predicted_section(full_text)
    mine = figures.leaders["fixture"]
    rows = full_report.standing.predictions.rows
    for dimension, row in zip(full_report.dimensions, rows, strict=True):
        prediction = mine.predictions[dimension.id]
        others, error = f"{prediction.others:.2f}", signed(prediction.error)
        assert f"{dimension.name} {PREDICTED[dimension.id]} {others} {error} {row.reading}" in (
            section
        )
    error = f"{mine.prediction_error:.2f}"
    assert f"Mean absolute prediction error {error} Not close: 0.50 or more" in section
    assert "behavioural measure of self-awareness" in section
    assert "under 0.50 of a scale point is close" in section


def test_a_leader_without_predictions_is_told_they_chose_not_to(
    report_instrument: Instrument, figures: CohortFigures[str]
) -> None:
    assert figures.leaders["colleague-1"].predictions == {}
    report = _report_for(report_instrument, figures, "colleague-1")
    views = report.standing.predictions
    assert views.rows == [] and views.error is None
    section = _predicted_section(pdf_text(render_pdf(report)))
    assert "You chose not to predict how others would rate you" in section
    assert "Next time you can" in section
    assert "Mean absolute prediction error" not in section
    assert re.findall(r"\d\.\d\d", section) == []


def test_predictions_without_others_scores_are_shown_but_not_compared(
    report_instrument: Instrument,
) -> None:
    responses = full_responses(report_instrument)[:3]  # two observers: no Others score at all
    figures = cohort_figures(
        report_instrument,
        cohort_responses(report_instrument, responses),
        predictions={"fixture": PREDICTED},
    )
    assert figures.leaders["fixture"].prediction_error is None
    report = _report_for(report_instrument, figures)
    views = report.standing.predictions
    for row in views.rows:
        assert (row.others, row.difference) == (None, None)
        assert row.reading == "Comparison withheld: no Others score can be shown"
    assert views.error is None
    assert views.note is not None and report.observers_note is not None
    assert views.note.endswith(report.observers_note)
    section = _predicted_section(pdf_text(render_pdf(report)))
    for dimension in report_instrument.dimensions:
        assert (
            f"{dimension.name} {PREDICTED[dimension.id]} – – Comparison withheld: no Others score "
            "can be shown"
        ) in section
    assert "none of your predictions can be compared" in section.lower()
    assert "Mean absolute prediction error" not in section
    assert re.findall(r"\d\.\d\d", section) == []  # no Others score, no difference, no error


def test_a_withheld_others_score_leaves_its_prediction_out_of_the_error(
    report_instrument: Instrument,
) -> None:
    """As in test_an_absent_figure_says_why, the Others Courage score is withheld."""
    skipped = {"courage_1": None, "courage_2": None}
    peers = [
        response(report_instrument, "peer", purpose=4, self_awareness=4, courage=4) for _ in "abc"
    ]
    peers[1] = RaterResponse("peer", {**peers[1].answers, **skipped})
    peers[2] = RaterResponse("peer", {**peers[2].answers, **skipped})
    myself = response(report_instrument, "self", purpose=4, self_awareness=4, courage=4)
    figures = cohort_figures(
        report_instrument,
        cohort_responses(report_instrument, [myself, *peers]),
        predictions={"fixture": {"purpose": 5, "courage": 2}},
    )
    mine = figures.leaders["fixture"]
    report = _report_for(report_instrument, figures)
    views = report.standing.predictions
    purpose, awareness, courage = views.rows
    assert (purpose.predicted, purpose.others, purpose.difference) == ("5", "4.00", "+1.00")
    assert awareness.predicted is None and awareness.others == "4.00"
    assert awareness.reading == "You did not predict this capability"
    assert (courage.predicted, courage.others, courage.difference) == ("2", None, None)
    assert views.error == f"{mine.prediction_error:.2f}" == "1.00"  # Purpose alone
    assert views.compared == 1 and views.note is None
    reason = mine.scores.others.withheld_figures["dimension:courage"].reason.rstrip(".")
    assert views.notes == [
        "Courage: your prediction is not compared, because no Others score can be shown for "
        f"this capability: {reason}."
    ]
    html = render_html(report)
    assert "Comparison withheld: no Others score can be shown" in html
    assert "over the 1 capability compared" in html


def test_without_a_self_assessment_there_is_nothing_to_predict_with(
    report_instrument: Instrument,
) -> None:
    figures = cohort_figures(
        report_instrument,
        cohort_responses(report_instrument, full_responses(report_instrument)[1:]),
    )
    views = _report_for(report_instrument, figures).standing.predictions
    assert views.rows == []
    assert views.note is not None
    assert views.note.startswith("Predictions of how others would rate you are made in the ")
    assert "which you did not complete" in views.note
