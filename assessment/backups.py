"""Backing up the whole database to one file, and putting such a file back.

A backup holds everything the product stores: names, addresses, every rater's answers and
comments. It is the one way out that does not pass the disclosure ledger, so it is for the
operator only and belongs on encrypted storage (docs/operations.md, "Backups").

Each database gets the copy its own makers designed for taking while it serves: SQLite's online
backup API, and ``pg_dump``, which reads one snapshot. Both write to a temporary file beside the
target and rename it into place, so an interrupted backup never leaves a truncated file under
the name of a good one, nor replaces the previous good one. Restoring first checks that the file
is a backup for the configured kind of database, then replaces the contents in one transaction,
so a restore that fails part way leaves the database as it was.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy import make_url

from assessment.database import DEFAULT_LOCK_TIMEOUT

SQLITE_HEADER = b"SQLite format 3\x00"
PG_DUMP_HEADER = b"PGDMP"
"""How a file starts: a SQLite database, or a ``pg_dump --format=custom`` archive."""


class BackupError(Exception):
    """A backup or restore that did not happen, with one sentence saying why for the operator."""


def backup(url: str, path: Path) -> str:
    """Copy the database to ``path``, replacing any file there. A copy taken while the app
    serves must still be one state of the database, and a copy that fails must not cost the
    previous one (the module docstring says how). Returns "SQLite" or "PostgreSQL", so the
    command can say which kind of backup the file now holds."""
    kind = _kind(url)
    if not path.parent.is_dir():
        raise BackupError(f"cannot write {path}: the folder {path.parent} does not exist")
    if kind == "SQLite":
        source = _sqlite_file(url)
        if path.exists() and path.resolve() == source.resolve():
            raise BackupError(f"{path} is the database itself; write the backup somewhere else")
        with _replaced_atomically(path) as partial:
            _sqlite_backup(source, partial)
    else:
        with _replaced_atomically(path) as partial:
            _run(
                "pg_dump",
                ["--format=custom", f"--file={partial}"],
                url,
                doing=f"backing up to {path}",
            )
    return kind


def restore(url: str, path: Path) -> str:
    """Make the database the backup's, all of it or none: a half-restored database would be
    worse than either, so a file that is not a backup for this kind of database is refused
    before anything is touched, and the replacement is one transaction. Returns the kind, as
    :func:`backup` does."""
    kind = _kind(url)
    header = _header(path)
    if kind == "SQLite":
        if header.startswith(PG_DUMP_HEADER):
            raise BackupError(
                f"{path} is a PostgreSQL backup (pg_dump), but the database is SQLite"
            )
        if not header.startswith(SQLITE_HEADER):
            raise BackupError(f"{path} is not a SQLite backup")
        target = _sqlite_file(url, must_exist=False)
        if target.exists() and target.resolve() == path.resolve():
            raise BackupError(f"{path} is the database itself")
        _sqlite_restore(path, target)
    else:
        if header.startswith(SQLITE_HEADER):
            raise BackupError(f"{path} is a SQLite backup, but the database is PostgreSQL")
        if not header.startswith(PG_DUMP_HEADER):
            raise BackupError(f"{path} is not a PostgreSQL backup (pg_dump --format=custom)")
        # --single-transaction: a restore that fails part way (a damaged file, a lock) rolls
        # back and leaves the database as it was, instead of half dropped.
        _run(
            "pg_restore",
            ["--clean", "--if-exists", "--no-owner", "--single-transaction", str(path)],
            url,
            doing=f"restoring {path}",
        )
    return kind


def _kind(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return "SQLite"
    if backend == "postgresql":
        return "PostgreSQL"
    raise BackupError(f"backups are made of SQLite and PostgreSQL databases only, not {backend}")


def _header(path: Path) -> bytes:
    """The first bytes, which tell a SQLite file from a ``pg_dump`` archive (and from neither)
    before any tool is let loose on the database."""
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        raise BackupError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise BackupError(f"{path} is a folder, not a backup file") from None
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror}") from None


@contextmanager
def _replaced_atomically(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` (same file system, so the rename is atomic; only its
    owner may read it, as befits personal data) that replaces ``path`` once the block succeeds
    and is removed if it fails."""
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    except OSError as error:
        raise BackupError(f"cannot write in {path.parent}: {error.strerror}") from None
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        with partial.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError as error:
        raise BackupError(f"cannot write {path}: {error.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


# -- SQLite -----------------------------------------------------------------------------------


def _sqlite_file(url: str, *, must_exist: bool = True) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(
            "the database is not a SQLite file (in memory, or a URI), so it has no backup"
        )
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"there is no SQLite database at {path}")
    return path


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    """A connection that never creates a file by accident (a mistyped path would otherwise
    yield an empty "backup")."""
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=DEFAULT_LOCK_TIMEOUT
        )
    except sqlite3.Error as error:
        raise BackupError(f"cannot open the SQLite database {path}: {error}") from None


def _sqlite_backup(source_path: Path, partial: Path) -> None:
    """Copy with the online backup API, which reads one consistent state even while the app
    writes, then tidy the copy: a self-contained file (no write-ahead log beside it), with no
    free pages still holding deleted rows and every table in key order, as docs/anonymity.md
    promises of the live file once a cohort closes."""
    try:
        with (
            closing(_connect(source_path, "rw")) as source,
            closing(_connect(partial, "rw")) as copy,
        ):
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            copy.execute("VACUUM")
    except sqlite3.Error as error:
        raise BackupError(f"the backup of {source_path} failed: {error}") from None


def _sqlite_restore(path: Path, target: Path) -> None:
    """Check the backup whole, then write it into the database with the backup API in reverse.

    The copy is one write transaction of the target database: processes that have it open wait
    for it (or it for them) and then see the restored data, and a crash part way leaves the old
    contents, which SQLite's journal puts back. Replacing the file instead would leave a running
    app writing into the old, unlinked file, and its write-ahead log applied to the new one.
    """
    if not target.parent.is_dir():
        raise BackupError(f"cannot restore to {target}: the folder {target.parent} does not exist")
    try:
        with closing(_connect(path, "ro")) as backup_file:
            problems = [row[0] for row in backup_file.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise BackupError(f"{path} is damaged: {problems[0]}")
            if not backup_file.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone():
                raise BackupError(f"{path} is a SQLite database, but not a backup of this product")
            with closing(_connect(target, "rwc")) as database:
                backup_file.backup(database)
    except sqlite3.Error as error:
        raise BackupError(f"cannot restore {path}: {error}") from None


# -- PostgreSQL -------------------------------------------------------------------------------


def _run(tool: str, arguments: list[str], url: str, *, doing: str) -> None:
    """Run a PostgreSQL client tool on the database at ``url``; the password goes in the
    environment, never on the command line where ``ps`` would show it."""
    program = shutil.which(tool)
    if program is None:
        raise BackupError(
            f"{tool} is not installed (or not on PATH): install the PostgreSQL client tools "
            "of the server's major version, e.g. apt-get install postgresql-client"
        )
    parsed = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    libpq_url = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    finished = subprocess.run(
        [program, *arguments, f"--dbname={libpq_url}"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode != 0:
        said = " ".join(finished.stderr.split()) or f"exit status {finished.returncode}"
        raise BackupError(f"{tool} failed {doing}: {said}")
