"""jobs: long work off the request, and an idempotency key per mail message

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:00:00

The ``job`` table records every piece of long work (its parameters, state, progress, per-item
errors and outputs), whichever runner does it (assessment/jobs.py). ``mail_message`` gains a
unique ``idempotency_key``, so a retried job that asks for the same message again sends it once.
Hand-written; runs on SQLite (batch mode) and PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

JOB_STATES = ("queued", "running", "done", "failed")


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column(
            "state", sa.Enum(*JOB_STATES, name="job_state", native_enum=False), nullable=False
        ),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["coach_id"], ["coach.id"], name="fk_job_coach_id_coach", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
    )
    op.create_index("ix_job_coach_id", "job", ["coach_id"])
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            "uq_mail_message_idempotency_key", ["idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.drop_constraint("uq_mail_message_idempotency_key", type_="unique")
        batch_op.drop_column("idempotency_key")
    op.drop_index("ix_job_coach_id", table_name="job")
    op.drop_table("job")
