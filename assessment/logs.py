"""Logs that never hold a link's token.

A token in a URL is the whole secret of a rater's or a leader's link, and an access log with
token paths and times is enough to tie responses to people (docs/anonymity.md). Every log line
the product or its server writes passes :class:`HideTokens`, which replaces the token in
``/r/<token>`` and ``/l/<token>`` with ``[link]``: the development server's and the app's logs
through :func:`install`, gunicorn's access and error logs through :class:`GunicornLogger`
(``gunicorn.conf.py``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

_TOKEN_PATH = re.compile(r"(/[rl]/)[A-Za-z0-9_-]{20,}")


def hide_tokens(text: str) -> str:
    return _TOKEN_PATH.sub(r"\1[link]", text)


def _hidden(value: Any) -> Any:
    return hide_tokens(value) if isinstance(value, str) else value


class HideTokens(logging.Filter):
    """Rewrites a record's message and arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _hidden(record.msg)
        if isinstance(record.args, dict):
            record.args = {key: _hidden(value) for key, value in record.args.items()}
        elif record.args:
            record.args = tuple(_hidden(value) for value in record.args)
        return True


def install(*loggers: logging.Logger) -> None:
    """Hide tokens in these loggers' records (once each, however often the app is created)."""
    for logger in loggers:
        if not any(isinstance(f, HideTokens) for f in logger.filters):
            logger.addFilter(HideTokens())


class GunicornLogger(Logger):
    """gunicorn's logger with tokens hidden from its access and error logs."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        install(self.access_log, self.error_log)
