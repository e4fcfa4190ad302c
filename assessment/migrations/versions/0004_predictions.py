"""predicted views: the leader's prediction of their Others score per dimension

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:30:00

Hand-written; batch mode for the ALTER so it runs on SQLite as well as PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draft_response") as batch_op:
        batch_op.add_column(
            sa.Column("predictions", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    op.create_table(
        "prediction",
        sa.Column("response_id", sa.String(length=32), nullable=False),
        sa.Column("dimension_id", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["response.id"],
            name="fk_prediction_response_id_response",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", "dimension_id", name="pk_prediction"),
    )


def downgrade() -> None:
    op.drop_table("prediction")
    with op.batch_alter_table("draft_response") as batch_op:
        batch_op.drop_column("predictions")
