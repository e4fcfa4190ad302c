"""running a campaign: nominations, mail and outbox, reminders, releases, plans, languages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:00:00

Hand-written; batch mode for every ALTER so it runs on SQLite as well as PostgreSQL.
"""

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RELATIONSHIP = sa.Enum(
    "self", "manager", "peer", "direct_report", "other", name="relationship_kind", native_enum=False
)
NOMINATION_STATUS = sa.Enum(
    "pending", "approved", "rejected", name="nomination_status", native_enum=False
)


def upgrade() -> None:
    with op.batch_alter_table("cohort") as batch_op:
        batch_op.add_column(sa.Column("deadline", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("reminder_days", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("translations", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("leader") as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("link_issued_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_unique_constraint("uq_leader_token_hash", ["token_hash"])
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("invited_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("comment") as batch_op:
        batch_op.add_column(sa.Column("redacted_text", sa.Text(), nullable=True))

    op.create_table(
        "nomination",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("rater_name", sa.String(length=200), nullable=False),
        sa.Column("rater_email", sa.String(length=320), nullable=False),
        sa.Column("relationship", RELATIONSHIP, nullable=False),
        sa.Column("status", NOMINATION_STATUS, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leader.id"], name="fk_nomination_leader_id_leader", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name="fk_nomination_invitation_id_invitation",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_nomination"),
        sa.UniqueConstraint("leader_id", "rater_email", name="uq_nomination_leader_id"),
    )
    op.create_index("ix_nomination_leader_id", "nomination", ["leader_id"])

    op.create_table(
        "mail_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("transport", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohort.id"], name="fk_mail_message_cohort_id_cohort", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mail_message"),
    )
    op.create_index("ix_mail_message_cohort_id", "mail_message", ["cohort_id"])

    op.create_table(
        "reminder_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("reminder_key", sa.String(length=80), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name="fk_reminder_sent_invitation_id_invitation",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_sent"),
        sa.UniqueConstraint(
            "invitation_id", "reminder_key", name="uq_reminder_sent_invitation_id"
        ),
    )
    op.create_index("ix_reminder_sent_invitation_id", "reminder_sent", ["invitation_id"])

    op.create_table(
        "report_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by", sa.String(length=320), nullable=False),
        sa.Column("response_ids", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_id"],
            ["leader.id"],
            name="fk_report_release_leader_id_leader",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_report_release"),
    )
    op.create_index("ix_report_release_leader_id", "report_release", ["leader_id"])

    op.create_table(
        "development_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("pressure", sa.Text(), nullable=False),
        sa.Column("courage", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_id"],
            ["leader.id"],
            name="fk_development_plan_leader_id_leader",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_development_plan"),
        sa.UniqueConstraint("leader_id", name="uq_development_plan_leader_id"),
    )


def downgrade() -> None:
    op.drop_table("development_plan")
    op.drop_index("ix_report_release_leader_id", table_name="report_release")
    op.drop_table("report_release")
    op.drop_index("ix_reminder_sent_invitation_id", table_name="reminder_sent")
    op.drop_table("reminder_sent")
    op.drop_index("ix_mail_message_cohort_id", table_name="mail_message")
    op.drop_table("mail_message")
    op.drop_index("ix_nomination_leader_id", table_name="nomination")
    op.drop_table("nomination")
    with op.batch_alter_table("comment") as batch_op:
        batch_op.drop_column("redacted_text")
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.drop_column("invited_at")
        batch_op.drop_column("language")
    with op.batch_alter_table("leader") as batch_op:
        batch_op.drop_constraint("uq_leader_token_hash", type_="unique")
        batch_op.drop_column("link_issued_at")
        batch_op.drop_column("token_hash")
    with op.batch_alter_table("cohort") as batch_op:
        batch_op.drop_column("translations")
        batch_op.drop_column("reminder_days")
        batch_op.drop_column("deadline")
