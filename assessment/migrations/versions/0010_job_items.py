"""jobs keep their list of items, and the file a job works on

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:00:00

A job's items (id and label) are listed once, when it first starts, and kept in ``items``: a
retry, or workers that take items in parallel, work on the same list. ``upload`` holds the file
a job reads (a large import), so the worker need not see the web server's disk.
Hand-written; runs on SQLite (batch mode) and PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("items", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("upload", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_column("upload")
        batch_op.drop_column("items")
