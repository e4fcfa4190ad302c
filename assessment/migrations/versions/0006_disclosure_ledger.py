"""the disclosure ledger: the response sets, artefacts and disclosures of every figure shown

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00

Releases made before this revision are the ledger's first entries: each released report's
response set is recorded, so a later export or PDF for that leader follows the same
differencing rule a later release did. Hand-written; runs on SQLite and PostgreSQL.
"""

import hashlib
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    response_set = op.create_table(
        "response_set",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("response_ids", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["leader_id"], ["leader.id"], name="fk_response_set_leader_id_leader", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_response_set"),
        sa.UniqueConstraint("leader_id", "digest", name="uq_response_set_leader_id"),
    )
    op.create_index("ix_response_set_leader_id", "response_set", ["leader_id"])
    op.create_table(
        "artefact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("compressed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cohort_id"], ["cohort.id"], name="fk_artefact_cohort_id_cohort", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_artefact"),
        sa.UniqueConstraint("key", name="uq_artefact_key"),
    )
    op.create_index("ix_artefact_cohort_id", "artefact", ["cohort_id"])
    op.create_table(
        "artefact_set",
        sa.Column("artefact_id", sa.Integer(), nullable=False),
        sa.Column("response_set_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artefact_id"],
            ["artefact.id"],
            name="fk_artefact_set_artefact_id_artefact",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_set_id"],
            ["response_set.id"],
            name="fk_artefact_set_response_set_id_response_set",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("artefact_id", "response_set_id", name="pk_artefact_set"),
    )
    op.create_index("ix_artefact_set_response_set_id", "artefact_set", ["response_set_id"])
    op.create_table(
        "disclosure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("artefact_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["artefact_id"],
            ["artefact.id"],
            name="fk_disclosure_artefact_id_artefact",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_disclosure"),
    )
    op.create_index("ix_disclosure_artefact_id", "disclosure", ["artefact_id"])
    connection = op.get_bind()
    seen = set()
    now = datetime.now(timezone.utc)
    releases = connection.execute(
        sa.text("SELECT leader_id, response_ids, counts FROM report_release ORDER BY id")
    ).all()
    for leader_id, ids, counts in releases:
        ids = json.loads(ids) if isinstance(ids, str) else ids
        counts = json.loads(counts) if isinstance(counts, str) else counts
        response_ids = sorted(ids)
        digest = hashlib.sha256(",".join(response_ids).encode()).hexdigest()
        if (leader_id, digest) in seen:
            continue
        seen.add((leader_id, digest))
        connection.execute(
            response_set.insert().values(
                leader_id=leader_id,
                digest=digest,
                response_ids=response_ids,
                counts=counts,
                created_at=now,
            )
        )


def downgrade() -> None:
    op.drop_table("disclosure")
    op.drop_table("artefact_set")
    op.drop_table("artefact")
    op.drop_table("response_set")
