"""Print report data to HTML and to a tagged PDF with WeasyPrint.

The renderer needs no Flask app and no database: it takes the plain data built by
:mod:`reports.build`, fills a Jinja template with autoescaping on (names and comments are user
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

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from reports import charts
from reports.build import IndividualReport

PACKAGE = Path(__file__).parent
TEMPLATES = PACKAGE / "templates"
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
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: IndividualReport) -> str:
    """The report as one HTML document (stylesheet ``report.css`` relative to ``reports/static``)."""
    series_styles = charts.series_styles(report.series)
    context = {
        "report": report,
        "author": AUTHOR,
        "summary_chart": charts.summary_chart(report) if report.series else None,
        "item_charts": {
            d.id: charts.item_chart(d, report.series, report.scale_points)
            for d in report.dimensions
            if any(row.others.shown or row.self_figure.shown for row in d.items)
        },
        "swatches": {key: charts.swatch(style) for key, style in series_styles.items()},
    }
    return _environment().get_template("individual.html").render(context)


def render_pdf(report: IndividualReport) -> bytes:
    """The report as a tagged PDF/UA-1 document with its provenance in the metadata."""
    document = HTML(
        string=render_html(report),
        base_url=str(STATIC),
        url_fetcher=StaticFilesOnly(),
    ).render()
    return document.write_pdf(pdf_variant=PDF_VARIANT, custom_metadata=True)
