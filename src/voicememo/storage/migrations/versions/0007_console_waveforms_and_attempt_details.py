"""the web console: waveform peaks on attachments; response excerpt and job id on webhook attempts

``attachments.peaks``: base64 of 96 bytes (domain/waveform.py), measured at intake; rows written
before this revision get theirs on first request. ``webhook_attempts.response_excerpt``: the first
512 characters of the receiver's answer. ``webhook_attempts.job_id``: the delivery job (whose payload
holds the event's body, for redelivery). An index lists a subscription's attempts newest first; a
partial index on failed messages serves the operator view's recent failures.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 19:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("peaks", sa.String(length=200), nullable=True))
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response_excerpt", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_webhook_attempts_subscription", ["partner_id", "subscription_id", "created_at"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_failed",
            ["updated_at"],
            unique=False,
            sqlite_where=sa.text("delivery_status = 'failed'"),
            postgresql_where=sa.text("delivery_status = 'failed'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_failed")
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempts_subscription")
        batch_op.drop_column("job_id")
        batch_op.drop_column("response_excerpt")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_column("peaks")
