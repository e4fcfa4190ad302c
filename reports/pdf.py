"""Report HTML to a tagged PDF with WeasyPrint, reading nothing but the report's own assets.

WeasyPrint gets a URL fetcher that serves only the files in ``reports/static``. Anything else
the document might refer to, ``file://`` elsewhere, ``http``, ``data:`` and every other scheme,
is refused, so the PDF contains only what it was given. Imported on first use by
:func:`reports.render.render_pdf`.
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

STATIC = Path(__file__).parent / "static"
PDF_VARIANT = "pdf/ua-1"


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


def write_pdf(html: str) -> bytes:
    """A report's HTML (from :func:`reports.render.render_html`) as a tagged PDF/UA-1 document;
    the provenance in its ``<meta>`` tags becomes the PDF's metadata."""
    document = HTML(
        string=html,
        base_url=str(STATIC),
        url_fetcher=StaticFilesOnly(),
    ).render(stylesheets=[_stylesheet()], font_config=_font_config())
    return document.write_pdf(pdf_variant=PDF_VARIANT, custom_metadata=True)
