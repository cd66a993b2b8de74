"""jobs: the order-key index becomes (order_key, status, id), so a claim's "earlier unfinished job of this
order key" check reads only unfinished jobs instead of every finished job of the chat

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_order")
        batch_op.create_index("ix_jobs_order_open", ["order_key", "status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_order_open")
        batch_op.create_index("ix_jobs_order", ["order_key", "id"], unique=False)
