"""Print report data to HTML, and to a tagged PDF through :mod:`reports.pdf`.

The renderer needs no Flask app and no database: it takes the plain data built by
:mod:`reports.build` (a leader's report) or :mod:`reports.cohort` (a cohort's) and fills a
Jinja template with autoescaping on (names and comments are user content).
"""

from __future__ import annotations

from reports import charts
from reports.build import IndividualReport
from reports.cohort import CohortReport

AUTHOR = "Compassionate Leadership 360"


Report = IndividualReport | CohortReport


def render_html(report: Report, *, link_stylesheet: bool = True) -> str:
    """The report as one HTML document (stylesheet ``report.css`` relative to ``reports/static``)."""
    if isinstance(report, CohortReport):
        context = {
            "report": report,
            "author": AUTHOR,
            "link_stylesheet": link_stylesheet,
            "completion_chart": charts.completion_chart(report),
            "distribution_chart": charts.distribution_chart(report),
        }
        return charts.template_environment().get_template("cohort.html").render(context)
    series_styles = charts.series_styles(report.series)
    context = {
        "report": report,
        "author": AUTHOR,
        "link_stylesheet": link_stylesheet,
        "summary_chart": charts.summary_chart(report) if report.series else None,
        "item_charts": {
            d.id: charts.item_chart(d, report.series, report.scale_points)
            for d in report.dimensions
            if any(row.others.shown or row.self_figure.shown for row in d.items)
        },
        "swatches": {key: charts.swatch(style) for key, style in series_styles.items()},
    }
    return charts.template_environment().get_template("individual.html").render(context)


def render_pdf(report: Report) -> bytes:
    """The report as a tagged PDF/UA-1 document with its provenance in the metadata.

    WeasyPrint (:mod:`reports.pdf`) takes most of a second to import, so it is loaded with
    the first PDF: a CLI command or a page that never prints one does not wait for it.
    """
    from reports import pdf

    return pdf.write_pdf(render_html(report, link_stylesheet=False))
