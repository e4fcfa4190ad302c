"""Spreadsheet-safe exports: cells no spreadsheet will run, and the XLSX writer.

The cohort's aggregated scores are built once, by :func:`assessment.transfer.csv_rows` (the
rows of ``cl360 scores export``, made only from what the scoring layer lets out: groups and
figures below their minimum carry no numbers, and no row holds a rater's name, email, response
id, answer or comment). The coach's CSV and XLSX downloads are those same rows; this module
only writes them safely.

Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a
carriage return) are prefixed with an apostrophe, the OWASP advice against CSV injection;
control characters are dropped (XLSX cannot hold them); numbers stay numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """A text cell no spreadsheet will evaluate (CSV/formula injection)."""
    value = "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 32)
    return "'" + value if value.startswith(FORMULA_START) else value


def safe_cells(row: Iterable[Any]) -> list[Any]:
    return [safe_text(v) if isinstance(v, str) else v for v in row]


def to_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "scores") -> bytes:
    """An XLSX workbook (openpyxl, streaming) of one sheet: a header row, then ``rows``."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    for row in rows:
        sheet.append(safe_cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
