"""Alembic environment: the URL comes from the caller (``cl360 db``), never from alembic.ini."""

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection

from assessment import models  # noqa: F401  (registers every table on the metadata)
from assessment.database import Base, make_engine

config = context.config


def _database_url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: run migrations with `cl360 db upgrade`")
    return str(url)


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode recreates tables so one migration serves both.
        render_as_batch=sqlite,
        compare_type=True,
    )
    if sqlite:
        # Recreating a table drops the old one, and with foreign keys enforced that would
        # cascade into every row pointing at it (drafts, answers). Alembic's advice: switch
        # enforcement off around batch migrations (it cannot change inside a transaction),
        # then check that every reference still holds.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
    if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
        raise RuntimeError(f"migrations left rows pointing nowhere: {broken[:5]}")


run_migrations()
