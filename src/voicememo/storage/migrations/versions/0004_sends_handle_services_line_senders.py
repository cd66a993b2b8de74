"""sends (exactly-once records), handle service cache, line sender settings and health, provider chat ids

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 11:45:57.548660
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "handle_services",
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=320), nullable=False),
        sa.Column("service", sa.String(length=16), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_handle_services_line_id_lines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("line_id", "handle", name=op.f("pk_handle_services")),
    )
    op.create_table(
        "sends",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_sends_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", "seq", name=op.f("pk_sends")),
        sa.UniqueConstraint("line_id", "provider_message_id", name=op.f("uq_sends_line_id")),
    )
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.create_index("ix_sends_chat_attempt", ["chat_id", "first_attempt_at"], unique=False)

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_chat_id", sa.String(length=255), nullable=True))

    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_config", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("sender_secret", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("hook_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("health_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("health", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("health_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("health_checked_at")
        batch_op.drop_column("health")
        batch_op.drop_column("health_status")
        batch_op.drop_column("hook_token_hash")
        batch_op.drop_column("sender_secret")
        batch_op.drop_column("sender_config")

    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_column("provider_chat_id")

    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_index("ix_sends_chat_attempt")

    op.drop_table("sends")
    op.drop_table("handle_services")
