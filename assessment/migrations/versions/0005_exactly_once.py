"""exactly once and links that stay live: every link sent, the submitting form's key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00

An invitation and a leader each had one token hash, replaced whenever a new link was made, so
a link mailed a minute earlier stopped working. Links now live in ``access_link``, several per
owner; the hashes already issued move there and keep working. Hand-written; batch mode for the
ALTERs so it runs on SQLite as well as PostgreSQL.
"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PURPOSES = (
    "shown",
    "invitation",
    "reminder",
    "self_assessment",
    "personal_page",
    "report_ready",
)

MAIL_STATUSES = ("queued", "sent", "failed", "outbox")


def upgrade() -> None:
    op.create_table(
        "access_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column(
            "purpose",
            sa.Enum(*PURPOSES, name="link_purpose", native_enum=False),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=320), nullable=True),
        sa.CheckConstraint(
            "(invitation_id IS NULL) <> (leader_id IS NULL)", name="ck_access_link_one_owner"
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitation.id"],
            name="fk_access_link_invitation_id_invitation",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leader.id"], name="fk_access_link_leader_id_leader", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_link"),
        sa.UniqueConstraint("token_hash", name="uq_access_link_token_hash"),
    )
    op.create_index("ix_access_link_invitation_id", "access_link", ["invitation_id"])
    op.create_index("ix_access_link_leader_id", "access_link", ["leader_id"])
    op.execute(
        "INSERT INTO access_link (token_hash, invitation_id, purpose, created_at)"
        " SELECT token_hash, id, CASE WHEN invited_at IS NULL THEN 'shown' ELSE 'invitation' END,"
        " COALESCE(invited_at, created_at) FROM invitation"
    )
    op.execute(
        "INSERT INTO access_link (token_hash, leader_id, purpose, created_at)"
        " SELECT token_hash, id, 'personal_page', COALESCE(link_issued_at, created_at)"
        " FROM leader WHERE token_hash IS NOT NULL"
    )
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.drop_constraint("uq_invitation_token_hash", type_="unique")
        batch_op.drop_column("token_hash")
        batch_op.add_column(sa.Column("submission_key", sa.String(length=64), nullable=True))
    with op.batch_alter_table("leader") as batch_op:
        batch_op.drop_constraint("uq_leader_token_hash", type_="unique")
        batch_op.drop_column("link_issued_at")
        batch_op.drop_column("token_hash")
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(*MAIL_STATUSES, name="mail_status", native_enum=False),
                nullable=False,
                server_default="sent",
            )
        )
        batch_op.add_column(sa.Column("error", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE mail_message SET status = 'outbox' WHERE transport = 'outbox'")
    with op.batch_alter_table("cohort") as batch_op:
        batch_op.drop_constraint("uq_cohort_slug", type_="unique")
        batch_op.create_unique_constraint("uq_cohort_coach_id", ["coach_id", "slug"])
    with op.batch_alter_table("coach") as batch_op:
        batch_op.add_column(sa.Column("session_key", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    for (coach_id,) in connection.execute(sa.text("SELECT id FROM coach")).all():
        connection.execute(
            sa.text("UPDATE coach SET session_key = :key WHERE id = :id"),
            {"key": secrets.token_urlsafe(24), "id": coach_id},
        )
    with op.batch_alter_table("coach") as batch_op:
        batch_op.alter_column("session_key", existing_type=sa.String(length=64), nullable=False)
    op.create_table(
        "rate_limit",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_limit"),
    )


def downgrade() -> None:
    """Back to one link per owner: the newest live one is kept, the others stop working."""
    op.drop_table("rate_limit")
    with op.batch_alter_table("coach") as batch_op:
        batch_op.drop_column("session_key")
    # Slugs unique across coaches again: a second coach's clash gets its cohort id appended.
    op.execute(
        "UPDATE cohort SET slug = slug || '-' || CAST(id AS VARCHAR(20)) WHERE EXISTS ("
        " SELECT 1 FROM cohort AS earlier WHERE earlier.slug = cohort.slug"
        " AND earlier.id < cohort.id)"
    )
    with op.batch_alter_table("cohort") as batch_op:
        batch_op.drop_constraint("uq_cohort_coach_id", type_="unique")
        batch_op.create_unique_constraint("uq_cohort_slug", ["slug"])
    with op.batch_alter_table("mail_message") as batch_op:
        batch_op.drop_column("sent_at")
        batch_op.drop_column("error")
        batch_op.drop_column("status")
    with op.batch_alter_table("leader") as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("link_issued_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint("uq_leader_token_hash", ["token_hash"])
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.drop_column("submission_key")
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
    newest = (
        "SELECT {column} FROM access_link WHERE access_link.{owner} = {table}.id"
        " AND revoked_at IS NULL ORDER BY access_link.id DESC LIMIT 1"
    )
    op.execute(
        "UPDATE leader SET token_hash = ("
        + newest.format(column="token_hash", owner="leader_id", table="leader")
        + "), link_issued_at = ("
        + newest.format(column="created_at", owner="leader_id", table="leader")
        + ")"
    )
    # An invitation must have a hash: one whose links were all revoked gets an unusable one.
    op.execute(
        "UPDATE invitation SET token_hash = COALESCE(("
        + newest.format(column="token_hash", owner="invitation_id", table="invitation")
        + "), 'revoked-' || CAST(id AS VARCHAR(20)))"
    )
    with op.batch_alter_table("invitation") as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_invitation_token_hash", ["token_hash"])
    op.drop_index("ix_access_link_leader_id", table_name="access_link")
    op.drop_index("ix_access_link_invitation_id", table_name="access_link")
    op.drop_table("access_link")
