"""Engine and session handling shared by the web app, the CLI and report workers.

The web layer opens one session per request and commits it in exactly one place
(:func:`assessment.web.install`); the CLI uses :meth:`Database.transaction`. Domain operations
only ever flush.

Writers never fail because another writer got there first. On PostgreSQL each statement of a
transaction sees what was committed before it started (READ COMMITTED), and the operations that
must happen once decide with a conditional UPDATE whose row count says who won
(:mod:`assessment.responses`). SQLite has one writer at a time, and a transaction that read
before another writer committed cannot write at all (``SQLITE_BUSY_SNAPSHOT``, which no busy
timeout waits out); so a transaction that may write starts with ``BEGIN IMMEDIATE``, taking the
write lock before its first read, and waits its turn instead of failing. Read-only work keeps
SQLite's deferred ``BEGIN`` and runs beside the writer. Waiting for a lock ends after
``lock_timeout`` seconds on both databases, well before a web worker would be killed, so the
request can say "try again" instead of vanishing (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Constraint names must be stable before the first migration so that later migrations
# (and SQLite batch mode, which recreates tables) can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds a statement waits for another transaction's lock before giving up."""

WRITES = "cl360_writes"
"""Execution option of the engine behind write sessions (SQLite: ``BEGIN IMMEDIATE``)."""


def make_engine(url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys, a busy timeout and transactions that
    begin as the module docstring explains, so it behaves like a server."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": lock_timeout})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"options": f"-c lock_timeout={round(lock_timeout * 1000)}"})
    return create_engine(url, **kwargs)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Start a transaction the way its session needs (the module docstring says why).

    A writing transaction turns the driver's own transaction handling off and takes the write
    lock at once (SQLAlchemy's documented recipe for pysqlite); a reading one keeps the
    driver's default, where each read sees the latest commit, as on PostgreSQL.
    """
    dbapi_connection: Any = connection.connection.dbapi_connection
    if connection.get_execution_options().get(WRITES, False):
        dbapi_connection.isolation_level = None
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        dbapi_connection.isolation_level = ""


UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "25006", "55P03")
"""PostgreSQL error classes that mean "not now": connection, resources, shutdown, read-only,
lock not available."""


def is_unavailable(error: BaseException) -> bool:
    """Whether a database error means the database cannot serve us now (down, locked past the
    timeout, read-only) rather than a fault in the product: the request may simply be retried."""
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return True
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
    return isinstance(error, DBAPIError) and sqlstate.startswith(UNAVAILABLE_SQLSTATES)


class Database:
    """One engine and its session factories: one for work that may write, one for reading."""

    def __init__(
        self, url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, **engine_kwargs: Any
    ) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout=lock_timeout, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessionmaker = sessionmaker(
            self.engine.execution_options(**{WRITES: True}), expire_on_commit=False
        )

    def session(self, *, writes: bool = False) -> Session:
        """A session; ``writes`` when it may change anything (see the module docstring)."""
        return (self.write_sessionmaker if writes else self.sessionmaker)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A writing session whose work is committed on success and rolled back on any error."""
        with self.session(writes=True) as session, session.begin():
            yield session

    def compact(self) -> None:
        """SQLite only: rewrite the database file (``VACUUM``), so pages freed by deleted or
        rewritten rows keep nothing and tables lie in key order (docs/anonymity.md). Outside
        any transaction, as SQLite requires; PostgreSQL's autovacuum does this itself."""
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("VACUUM")

    def dispose(self) -> None:
        self.engine.dispose()
