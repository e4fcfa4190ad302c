"""Print report data to HTML and to a tagged PDF with WeasyPrint.

The renderer needs no Flask app and no database: it takes the plain data built by
:mod:`reports.build` (a leader's report) or :mod:`reports.cohort` (a cohort's), fills a Jinja template with autoescaping on (names and comments are user
content) and hands the HTML to WeasyPrint with a URL fetcher that serves only the files in
``reports/static``. Anything else the document might refer to, ``file://`` elsewhere, ``http``,
``data:`` and every other scheme, is refused, so the PDF contains only what it was given.
"""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from reports import charts
from reports.build import IndividualReport
from reports.cohort import CohortReport

PACKAGE = Path(__file__).parent
STATIC = PACKAGE / "static"
PDF_VARIANT = "pdf/ua-1"
AUTHOR = "Compassionate Leadership 360"


class RefusedURL(ValueError):
    """The document asked for something outside ``reports/static``."""


class StaticFilesOnly(URLFetcher):
    """A WeasyPrint URL fetcher that serves regular files inside one folder and nothing else.

    WeasyPrint catches the :class:`RefusedURL` it raises, logs it and renders without the
    resource; nothing is ever read from the network or from elsewhere on the disk.
    """

    def __init__(self, root: Path = STATIC) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.root = root.resolve()

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        path = self.resolve(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            url=path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type}
        )

    def resolve(self, url: str) -> Path:
        """The file ``url`` names, if it is a regular file inside the root; else refuse."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedURL(f"refused to fetch {url!r}: only report assets may be used")
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise RefusedURL(f"refused to fetch {url!r}: not a file in {self.root}")
        return path


@cache
def _font_config() -> FontConfiguration:
    """One font configuration per process: Pango keeps its font lookups between reports."""
    return FontConfiguration()


@cache
def _stylesheet() -> CSS:
    """``report.css``, parsed once per process and handed to every rendering.

    The PDF path passes it to WeasyPrint directly instead of through the document's ``<link>``
    (which :func:`render_html` keeps by default, for looking at the HTML in a browser).
    """
    return CSS(
        string=(STATIC / "report.css").read_text(encoding="utf-8"),
        base_url=STATIC.as_uri() + "/",
        url_fetcher=StaticFilesOnly(),
        font_config=_font_config(),
    )


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
    """The report as a tagged PDF/UA-1 document with its provenance in the metadata."""
    document = HTML(
        string=render_html(report, link_stylesheet=False),
        base_url=str(STATIC),
        url_fetcher=StaticFilesOnly(),
    ).render(stylesheets=[_stylesheet()], font_config=_font_config())
    return document.write_pdf(pdf_variant=PDF_VARIANT, custom_metadata=True)
