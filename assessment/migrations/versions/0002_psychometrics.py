"""psychometrics: per-cohort blind-spot threshold, stored profile models

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:10:00

Hand-written; batch mode for the ALTER so it runs on SQLite as well as PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cohort") as batch_op:
        batch_op.add_column(
            sa.Column("gap_threshold", sa.Float(), nullable=False, server_default="1.0")
        )
    op.create_table(
        "profile_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.String(length=80), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("n_leaders", sa.Integer(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_model")),
    )
    with op.batch_alter_table("profile_model") as batch_op:
        batch_op.create_index(
            "ix_profile_model_instrument", ["instrument_id", "instrument_version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("profile_model") as batch_op:
        batch_op.drop_index("ix_profile_model_instrument")
    op.drop_table("profile_model")
    with op.batch_alter_table("cohort") as batch_op:
        batch_op.drop_column("gap_threshold")
