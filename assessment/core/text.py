"""What the product accepts as text from people: names on one line, free text without control
characters.

Every way in (web forms, CSV imports, the command line, the rater's form) passes through these
two functions, so a line break in a leader's name can never reach a mail header and a NUL can
never reach PostgreSQL, which refuses it (docs/operations.md, "Bad input").
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_NEWLINES = re.compile(r"\r\n?|[\u2028\u2029\x85]")


class TextError(ValueError):
    """Text that cannot be stored as it is; the message says what to change, for a person."""


def _controls(text: str, allowed: str = "") -> list[str]:
    return [c for c in text if unicodedata.category(c) == "Cc" and c not in allowed]


def one_line(text: str, what: str = "this") -> str:
    """A name or title as stored: trimmed, every run of spaces, tabs or line breaks made one
    space. Other control characters (NUL, escape, …) are refused: they are never meant."""
    flat = _WHITESPACE.sub(" ", text).strip()
    if bad := _controls(flat):
        raise TextError(
            f"{what} contains an invisible control character (U+{ord(bad[0]):04X}); "
            "please type it again without it"
        )
    return flat


def free_text(text: str) -> str:
    """A comment or a plan as stored: line breaks made ``\\n``, other control characters
    (NUL and the like, which a person cannot type on purpose) dropped, ends trimmed."""
    lines = _NEWLINES.sub("\n", text)
    return "".join(c for c in lines if c in "\n\t" or unicodedata.category(c) != "Cc").strip()
