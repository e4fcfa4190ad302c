"""Rate limits that slow a guesser without refusing the people the product is for.

Three things are limited, each counted where all web workers see the same counters
(docs/operations.md, "Rate limits"):

- **Sign-in** failures, per account and per address, so thirty addresses guessing one password
  are stopped as surely as one address guessing thirty; a successful sign-in costs nothing.
- **Links**: requests per link (a hash of the token, never the token), generous enough for any
  person filling in a form with autosave; and, per address, requests with a link that is not
  one of ours (:func:`unknown_link_allowed`, counted by the views once they know). Working
  links are never counted per address, so 150 raters behind one NHS trust's address are never
  refused because of each other, and cost no counter beyond their own.

Counters live in Redis when ``RATELIMIT_STORAGE_URI`` names it, and otherwise in the product's
own database (:class:`DatabaseStorage`), which every worker shares: the default is right with
several gunicorn workers and needs no extra service.
"""

from __future__ import annotations

import hashlib
import random
import time
from typing import Any, cast

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import parse
from limits.storage import Storage
from sqlalchemy import Table, case, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from assessment.database import WRITES, make_engine
from assessment.extensions import limiter
from assessment.models import RateLimitCounter

COUNTERS = cast(Table, RateLimitCounter.__table__)
"""The counters' table (the ORM types a mapped table only as a ``FromClause``)."""

SIGN_IN_PER_ACCOUNT = "10 per 15 minutes"
SIGN_IN_PER_ADDRESS = "30 per 15 minutes"
RATER_LINK = "120 per minute"
"""Per link: autosave sends at most one request every 1.5 seconds while someone is answering."""
LEADER_LINK = "60 per minute"
UNKNOWN_LINKS_PER_ADDRESS = parse("30 per minute")
UNKNOWN_LINKS_SCOPE = "unknown-links"
"""One budget for rater and leader links alike: a guesser does not get two."""

DATABASE_SCHEME = "cl360-database"
CLEANUP_CHANCE = 0.01
"""Share of counter updates that also delete expired counters (keeps the table small)."""


def account_key() -> str:
    # Hashed like the link keys: counters are not a list of who tried to sign in.
    email = request.form.get("email", "").strip().lower()
    return "sign-in:" + hashlib.sha256(email.encode()).hexdigest()


def address_key() -> str:
    return "address:" + get_remote_address()


def link_key() -> str:
    # Not the hash the link table keeps: a counter must not name the invitation it counts.
    token = (request.view_args or {}).get("token", "")
    return "link:" + hashlib.sha256(b"rate-limit:" + token.encode()).hexdigest()


def failed_sign_in(response: Any) -> bool:
    return response.status_code == 401


def unknown_link_allowed() -> bool:
    """Count one more request with a link that is not ours (or was revoked) from this address;
    False once the address is over its budget. Never asked for a working link."""
    if not limiter.enabled:
        return True
    try:
        return limiter.limiter.hit(UNKNOWN_LINKS_PER_ADDRESS, UNKNOWN_LINKS_SCOPE, address_key())
    except Exception:  # the counters' store is down: as Flask-Limiter does, let people in
        current_app.logger.warning("rate-limit storage unavailable", exc_info=True)
        return True


class DatabaseStorage(Storage):
    """Fixed-window counters in the product's database, shared by every worker.

    One row per counter; an update is a single ``INSERT … ON CONFLICT DO UPDATE … RETURNING``,
    atomic on SQLite and PostgreSQL, in a short transaction of its own (never the request's).
    """

    STORAGE_SCHEME = [DATABASE_SCHEME]  # noqa: RUF012  (limits registers storages by it)

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        database_url: str = "",
        lock_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        engine = make_engine(database_url, lock_timeout=lock_timeout)
        postgres = engine.dialect.name == "postgresql"
        # Each update is one statement, atomic by itself: on PostgreSQL it needs no transaction
        # around it (one round trip instead of three); SQLite takes its write lock first.
        self.engine = engine.execution_options(
            **({"isolation_level": "AUTOCOMMIT"} if postgres else {WRITES: True})
        )
        self._insert = postgresql.insert if postgres else sqlite.insert

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        renewed = COUNTERS.c.expires_at <= now
        insert = self._insert(COUNTERS).values(key=key, expires_at=now + expiry, hits=amount)
        statement = insert.on_conflict_do_update(
            index_elements=[COUNTERS.c.key],
            set_={
                "hits": case((renewed, amount), else_=COUNTERS.c.hits + amount),
                "expires_at": case((renewed, now + expiry), else_=COUNTERS.c.expires_at),
            },
        ).returning(COUNTERS.c.hits)
        with self.engine.begin() as connection:
            hits = connection.execute(statement).scalar_one()
            if random.random() < CLEANUP_CHANCE:
                connection.execute(delete(COUNTERS).where(COUNTERS.c.expires_at < now))
        return int(hits)

    def get(self, key: str) -> int:
        with self.engine.connect() as connection:
            hits = connection.scalar(
                select(COUNTERS.c.hits).where(
                    COUNTERS.c.key == key, COUNTERS.c.expires_at > time.time()
                )
            )
        return int(hits or 0)

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as connection:
            expires = connection.scalar(select(COUNTERS.c.expires_at).where(COUNTERS.c.key == key))
        return float(expires or time.time())

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(COUNTERS)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(COUNTERS).where(COUNTERS.c.key == key))
