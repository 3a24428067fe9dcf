"""End-to-end delivery: dead letters, 64-bit sequence numbers, evidence keyed by its node.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 (delivery)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("node_id", sa.String(length=128), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])
    op.create_index("ix_dead_letters_node_id", "dead_letters", ["node_id"])
    op.create_index("ix_dead_letters_reason", "dead_letters", ["reason"])
    with op.batch_alter_table("ingested_messages") as batch:
        batch.alter_column("seq", type_=sa.BigInteger(), existing_type=sa.Integer())
    with op.batch_alter_table("episodes") as batch:
        batch.alter_column(
            "last_seq", type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False
        )
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(
            sa.Column("node_id", sa.String(length=128), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_evidence_episode_name", type_="unique")
        batch.create_unique_constraint(
            "uq_evidence_node_episode_name", ["node_id", "episode_id", "name"]
        )
    # Evidence that came before this revision belongs to the node of its episode.
    op.execute(
        "UPDATE evidence SET node_id = (SELECT episodes.node_id FROM episodes "
        "WHERE episodes.id = evidence.episode_id) "
        "WHERE EXISTS (SELECT 1 FROM episodes WHERE episodes.id = evidence.episode_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_constraint("uq_evidence_node_episode_name", type_="unique")
        batch.create_unique_constraint("uq_evidence_episode_name", ["episode_id", "name"])
        batch.drop_column("node_id")
    with op.batch_alter_table("episodes") as batch:
        batch.alter_column("last_seq", type_=sa.Integer(), existing_type=sa.BigInteger())
    with op.batch_alter_table("ingested_messages") as batch:
        batch.alter_column("seq", type_=sa.Integer(), existing_type=sa.BigInteger())
    op.drop_table("dead_letters")
