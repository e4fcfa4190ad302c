"""drafts sealed with a key only the rater's browser holds

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:00:00

A draft was stored as plain JSON, so anyone holding a live link (a coach can make one) could
read a named rater's unsubmitted answers. Drafts are now AES-GCM ciphertext under a key kept in
the rater's browser. Drafts saved before this revision cannot be sealed with a key the server
never had: they are discarded, and their invitations count as not started again (the rater
starts afresh; nothing submitted is touched). Downgrading discards sealed drafts likewise.
"""

from alembic import op
import sqlalchemy as sa


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE invitation SET status = 'pending' WHERE status = 'draft'"
    )
    op.execute("DELETE FROM draft_response")
    with op.batch_alter_table("draft_response") as batch_op:
        batch_op.drop_column("answers")
        batch_op.drop_column("comments")
        batch_op.drop_column("predictions")
        batch_op.add_column(sa.Column("key_id", sa.String(length=32), nullable=False))
        batch_op.add_column(sa.Column("sealed", sa.LargeBinary(), nullable=False))


def downgrade() -> None:
    op.execute("UPDATE invitation SET status = 'pending' WHERE status = 'draft'")
    op.execute("DELETE FROM draft_response")
    with op.batch_alter_table("draft_response") as batch_op:
        batch_op.drop_column("sealed")
        batch_op.drop_column("key_id")
        batch_op.add_column(
            sa.Column("answers", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("comments", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("predictions", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
