"""Vector charts for the reports: small SVG documents, no JavaScript.

Python works out the geometry (where each marker, whisker and label goes); Jinja templates
(``templates/chart-*.svg``) write the markup, with autoescaping on because dimension names and
group labels come from instrument files. Each series has a colour and a marker shape, so the
charts still read when printed in greyscale; every chart has a ``<title>`` and ``<desc>``
(WeasyPrint uses the title as the PDF figure's alternate text) and the report prints a table of
the same numbers next to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from reports.build import DimensionSection, Figure, IndividualReport, Series
from reports.cohort import CohortReport

TEMPLATES = Path(__file__).parent / "templates"
FONT_FAMILY = "Inter, DejaVu Sans, sans-serif"
WIDTH = 640.0


@dataclass(frozen=True)
class SeriesStyle:
    colour: str
    shape: str


SELF_STYLE = SeriesStyle("#2b3034", "diamond")
OTHERS_STYLE = SeriesStyle("#1d6b66", "circle")  # the report's accent colour
GROUP_STYLES = (
    SeriesStyle("#a9773d", "square"),
    SeriesStyle("#5a7199", "triangle"),
    SeriesStyle("#8c5f86", "triangle-down"),
    SeriesStyle("#6b7d46", "hexagon"),
)


def series_styles(series: Sequence[Series]) -> dict[str, SeriesStyle]:
    """Colour and shape per series key: Self and Others fixed, groups in order of appearance."""
    styles: dict[str, SeriesStyle] = {}
    groups = 0
    for s in series:
        if s.kind == "self":
            styles[s.key] = SELF_STYLE
        elif s.kind == "others":
            styles[s.key] = OTHERS_STYLE
        else:
            styles[s.key] = GROUP_STYLES[groups % len(GROUP_STYLES)]
            groups += 1
    return styles


def marker_path(shape: str, r: float) -> str:
    """An SVG path for a marker of radius about ``r`` centred on the origin.

    Shapes are scaled so they look about equally heavy, not so they share a bounding box.
    """
    if shape == "circle":
        return f"M{-r:g},0a{r:g},{r:g} 0 1,0 {2 * r:g},0a{r:g},{r:g} 0 1,0 {-2 * r:g},0Z"
    if shape == "diamond":
        d = round(r * 1.3, 2)
        return f"M0,{-d:g}L{d:g},0L0,{d:g}L{-d:g},0Z"
    if shape == "square":
        h = round(r * 0.9, 2)
        return f"M{-h:g},{-h:g}H{h:g}V{h:g}H{-h:g}Z"
    if shape in ("triangle", "triangle-down"):
        k = -1 if shape == "triangle-down" else 1
        top, base, half = round(-1.25 * r * k, 2), round(0.85 * r * k, 2), round(1.2 * r, 2)
        return f"M0,{top:g}L{half:g},{base:g}L{-half:g},{base:g}Z"
    if shape == "hexagon":
        points = [
            (round(1.1 * r * math.cos(a), 2), round(1.1 * r * math.sin(a), 2))
            for a in (math.pi / 6 + i * math.pi / 3 for i in range(6))
        ]
        return "M" + "L".join(f"{x:g},{y:g}" for x, y in points) + "Z"
    raise ValueError(f"unknown marker shape {shape!r}")


@dataclass(frozen=True)
class Axis:
    """Maps a score on the 1..points scale to an x coordinate."""

    points: int
    x0: float
    x1: float

    def x(self, value: float) -> float:
        clamped = min(max(value, 1.0), float(self.points))
        return round(self.x0 + (clamped - 1) / (self.points - 1) * (self.x1 - self.x0), 2)

    @property
    def ticks(self) -> list[tuple[int, float]]:
        return [(p, self.x(p)) for p in range(1, self.points + 1)]


@dataclass(frozen=True)
class Marker:
    series: str
    label: str
    x: float
    y: float
    value: str  # printed value, two decimals
    raw: float
    path: str
    colour: str
    ci_from: float | None
    ci_to: float | None


@dataclass(frozen=True)
class LegendEntry:
    label: str
    x: float
    path: str
    colour: str


@cache
def template_environment() -> Environment:
    """The one Jinja environment for report pages and charts: autoescaped (names and comments
    are user content), strict about missing values, compiled once per process."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **context: object) -> Markup:
    svg = template_environment().get_template(template).render(font_family=FONT_FAMILY, **context)
    return Markup(svg)


def _text_width(text: str, size: float) -> float:
    """A generous estimate of a label's width, enough to space legend entries."""
    return len(text) * size * 0.58


def _legend(series: Sequence[Series], styles: dict[str, SeriesStyle]) -> list[LegendEntry]:
    entries: list[LegendEntry] = []
    x = 6.0
    for s in series:
        style = styles[s.key]
        entries.append(LegendEntry(s.label, x, marker_path(style.shape, 5), style.colour))
        x += 18 + _text_width(s.label, 11) + 22
    return entries


def _marker(figure: Figure, style: SeriesStyle, axis: Axis, y: float, r: float = 5.5) -> Marker:
    assert figure.value is not None
    return Marker(
        series=figure.series,
        label=figure.label,
        x=axis.x(figure.value),
        y=round(y, 2),
        value=figure.mean,
        raw=figure.value,
        path=marker_path(style.shape, r),
        colour=style.colour,
        ci_from=axis.x(figure.ci_low) if figure.ci_low is not None else None,
        ci_to=axis.x(figure.ci_high) if figure.ci_high is not None else None,
    )


def summary_chart(report: IndividualReport) -> Markup:
    """Self and each shown group per dimension, as dots with 95% interval whiskers."""
    styles = series_styles(report.series)
    axis = Axis(report.scale_points, 168.0, WIDTH - 56)
    # Keep the summary on one page however many groups are shown.
    row_height = 19.0 if len(report.series) <= 4 else 16.0
    block_gap, top = 16.0, 58.0
    blocks = []
    y = top
    for dimension in report.dimensions:
        heading_y = y
        y += 14
        rows = []
        for figure in dimension.figures:
            row_y = y + row_height / 2
            rows.append(
                {
                    "label": figure.label,
                    "y": round(row_y, 2),
                    "marker": _marker(figure, styles[figure.series], axis, row_y)
                    if figure.shown
                    else None,
                    "absent": "not shown" if not figure.shown else None,
                }
            )
            y += row_height
        blocks.append({"name": dimension.name, "y": round(heading_y + 9, 2), "rows": rows})
        y += block_gap
    plot_bottom = y - block_gap + 4
    height = plot_bottom + 40
    return _render(
        "chart-summary.svg",
        width=WIDTH,
        height=round(height, 2),
        axis=axis,
        plot_top=top - 4,
        plot_bottom=round(plot_bottom, 2),
        legend=_legend(report.series, styles),
        blocks=blocks,
        first_anchor=report.scale[0].label,
        last_anchor=report.scale[-1].label,
        title=(
            f"Summary chart: your self-rating and each shown rater group's average per "
            f"capability, on the 1 to {report.scale_points} scale."
        ),
        description=_summary_description(report),
    )


def _summary_description(report: IndividualReport) -> str:
    parts = []
    for dimension in report.dimensions:
        shown = [f"{f.label} {f.mean}" for f in dimension.figures if f.shown]
        parts.append(f"{dimension.name}: {', '.join(shown) if shown else 'no scores shown'}.")
    return " ".join(parts) + " The table below gives the same figures."


ITEM_CHART_WIDTH = 760.0
"""Wider than the summary chart, so that a capability's chart and table share one page."""


def item_chart(dimension: DimensionSection, series: Sequence[Series], points: int) -> Markup:
    """Each item of one dimension: Others with its 95% interval, and the self-rating.

    The values themselves are in the table under the chart, so the chart prints none: fewer
    text runs also make it cheaper to render.
    """
    styles = series_styles(series)
    observers_shown = any(s.kind == "others" for s in series)
    width = ITEM_CHART_WIDTH
    axis = Axis(points, 150.0, width - 16)
    top, row_height = 24.0, 16.0
    rows = []
    y = top
    for row in dimension.items:
        others_y, self_y = y + 5, y + 11.5
        markers = []
        if row.others.shown:
            style = styles.get(row.others.series, OTHERS_STYLE)
            markers.append(_marker(row.others, style, axis, others_y, r=4.6))
        if row.self_figure.shown:
            markers.append(_marker(row.self_figure, SELF_STYLE, axis, self_y, r=4.2))
        rows.append(
            {
                "label": f"Item {row.number}",
                "flag": row.flag,
                "absent_y": round(others_y + 3.5, 2)
                if observers_shown and not row.others.shown
                else None,
                "y": round(y, 2),
                "label_y": round(y + 11.5, 2),
                "markers": markers,
            }
        )
        y += row_height
    plot_bottom = y
    legend_series = [s for s in series if s.kind in ("self", "others")]
    legend_series.sort(key=lambda s: s.kind != "others")
    return _render(
        "chart-items.svg",
        chart_id=f"items-{dimension.id}",
        width=width,
        height=round(plot_bottom + 4, 2),
        axis=axis,
        plot_top=top - 4,
        plot_bottom=round(plot_bottom, 2),
        legend=_legend(legend_series, styles),
        rows=rows,
        first_anchor=None,
        last_anchor=None,
        bottom_labels=False,
        title=(
            f"{dimension.name}: the Others average for each item with its 95% interval, and "
            f"your self-rating, on the 1 to {points} scale."
        ),
        description=" ".join(
            f"Item {row.number}: Others {row.others.mean or 'not shown'}, "
            f"self {row.self_figure.mean or 'not rated'}."
            for row in dimension.items
        )
        + " The table below gives the same figures.",
    )


#: The marker shapes as characters (Inter has all but the hexagon, which DejaVu Sans supplies).
SHAPE_GLYPHS = {
    "circle": "\u25cf",
    "diamond": "\u25c6",
    "square": "\u25a0",
    "triangle": "\u25b2",
    "triangle-down": "\u25bc",
    "hexagon": "\u2b22",
}


def swatch(style: SeriesStyle) -> Markup:
    """A small marker that ties a table column or a card to its series in the charts.

    A coloured character rather than a tiny SVG: WeasyPrint draws each inline SVG as a
    separate image, and a report has a dozen swatches. It is decorative (the series' name
    follows it), so it is hidden from assistive technology.
    """
    return Markup('<span class="swatch" aria-hidden="true" style="color: {}">{}</span>').format(
        style.colour, SHAPE_GLYPHS[style.shape]
    )


# -- cohort report ------------------------------------------------------------------------------

DOT_STYLE = SeriesStyle("#1d6b66", "circle")


def distribution_chart(report: CohortReport) -> Markup:
    """Leaders' Others scores per capability: one dot per leader, the median and mean ± SD.

    Only capabilities the builder lets show (enough leaders) get dots; the others get a note.
    Dots that would overlap are spread over up to three lanes, deterministically, so the chart
    is the same on every run and never says which dot is which leader.
    """
    axis = Axis(report.scale_points, 130.0, WIDTH - 20)
    top, row_height = 34.0, 50.0
    rows = []
    y = top
    for dimension in report.dimensions:
        centre = y + row_height / 2
        dots = []
        if dimension.shown:
            lanes: list[float] = [-1e9, -1e9, -1e9]
            for value in dimension.values:
                x = axis.x(value)
                lane = next((i for i, last in enumerate(lanes) if x - last >= 8), None)
                if lane is None:
                    lane = min(range(3), key=lambda i: lanes[i])
                lanes[lane] = x
                dots.append({"x": x, "y": round(centre + (lane - 1) * 8, 2)})
        mean, sd, median = dimension.mean_value, dimension.sd_value, dimension.median_value
        rows.append(
            {
                "name": dimension.name,
                "n": dimension.n,
                "y": round(y, 2),
                "centre": round(centre, 2),
                "dots": dots,
                "median": axis.x(median) if median is not None else None,
                "mean": axis.x(mean) if mean is not None else None,
                "sd_from": axis.x(mean - sd) if mean is not None and sd is not None else None,
                "sd_to": axis.x(mean + sd) if mean is not None and sd is not None else None,
                "absent": None if dimension.shown else "too few leaders to show",
            }
        )
        y += row_height
    plot_bottom = y
    return _render(
        "chart-distribution.svg",
        width=WIDTH,
        height=round(plot_bottom + 36, 2),
        axis=axis,
        plot_top=top - 4,
        plot_bottom=round(plot_bottom, 2),
        rows=rows,
        dot=marker_path("circle", 3.6),
        first_anchor=report.first_anchor,
        last_anchor=report.last_anchor,
        title=(
            "Distribution of leaders' Others scores per capability on the 1 to "
            f"{report.scale_points} scale: one dot per leader, with the median and the mean "
            "plus or minus one standard deviation."
        ),
        description=" ".join(
            f"{d.name}: {d.n} leaders, median {d.median}, mean {d.mean}, SD {d.sd}, "
            f"from {d.lowest} to {d.highest}."
            if d.shown
            else f"{d.name}: too few leaders to show."
            for d in report.dimensions
        )
        + " The table below gives the same figures.",
    )


def completion_chart(report: CohortReport) -> Markup:
    """Share of invitations answered per rater group, as horizontal bars."""
    x0, x1 = 170.0, WIDTH - 110
    top, row_height = 8.0, 22.0
    rows = []
    y = top
    for group in report.completion:
        rows.append(
            {
                "label": group.label,
                "y": round(y, 2),
                "width": round((x1 - x0) * group.share, 2),
                "text": f"{group.submitted} of {group.invited} ({group.rate})"
                if group.invited
                else "none invited",
            }
        )
        y += row_height
    return _render(
        "chart-completion.svg",
        width=WIDTH,
        height=round(y + 4, 2),
        x0=x0,
        x1=x1,
        rows=rows,
        title="Completion: the share of invitations answered in each rater group.",
        description=" ".join(f"{r['label']}: {r['text']}." for r in rows)
        + " The table below gives the same figures.",
    )
