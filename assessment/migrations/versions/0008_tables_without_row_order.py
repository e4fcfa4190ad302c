"""submitted responses kept in key order, with no row id that counts submissions (SQLite)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:00:00

On SQLite a table's rows carry a row id that grows with every insert, so the responses of a
cohort could be put back in the order they were submitted. The four tables of submitted
responses become WITHOUT ROWID tables, stored in the order of their random keys; rows already
there are copied in that order. PostgreSQL keeps no row ids (closing a cohort rewrites its rows
in key order there, assessment/responses.py), so nothing changes on it.
"""

from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("response", "answer", "comment", "prediction")


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)


def _rebuild(*, with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}
        ):
            pass
