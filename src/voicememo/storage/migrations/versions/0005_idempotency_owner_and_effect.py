"""idempotency keys: the claiming process and its deadline, and the effect committed with the request

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resource_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("resource_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("resource_id")
        batch_op.drop_column("resource_kind")
        batch_op.drop_column("deadline")
        batch_op.drop_column("owner")
