"""Road-warden field reports: reports, API keys for Open311 clients, the audit's
link to a report, and each user's township and squad.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-09 (warden reports)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("service_name", sa.String(length=128), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("address_string", sa.String(length=256), nullable=True),
        sa.Column("location_source", sa.String(length=16), nullable=False),
        sa.Column("media_sha256", sa.String(length=64), nullable=True),
        sa.Column("media_type", sa.String(length=32), nullable=True),
        sa.Column("media_size", sa.Integer(), nullable=True),
        sa.Column("reporter", sa.String(length=64), nullable=False),
        sa.Column("township", sa.String(length=64), nullable=True),
        sa.Column("squad", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ack_deadline", sa.DateTime(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_to", sa.String(length=16), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("status_notes", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_reporter"), ["reporter"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_requested_at"), ["requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_service_code"), ["service_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_squad"), ["squad"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_state"), ["state"], unique=False)
        batch_op.create_index("ix_reports_state_deadline", ["state", "ack_deadline"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_sha256"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_report_id"), ["report_id"], unique=False)
        batch_op.create_foreign_key("fk_audit_report_id", "reports", ["report_id"], ["id"])

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("township", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("squad", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_squad"), ["squad"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_squad"))
        batch_op.drop_column("squad")
        batch_op.drop_column("township")

    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_report_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_audit_report_id"))
        batch_op.drop_column("report_id")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))
    op.drop_table("api_keys")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_state_deadline")
        batch_op.drop_index(batch_op.f("ix_reports_state"))
        batch_op.drop_index(batch_op.f("ix_reports_squad"))
        batch_op.drop_index(batch_op.f("ix_reports_requested_at"))
        batch_op.drop_index(batch_op.f("ix_reports_service_code"))
        batch_op.drop_index(batch_op.f("ix_reports_reporter"))
    op.drop_table("reports")
