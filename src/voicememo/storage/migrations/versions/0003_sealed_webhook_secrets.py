"""room for sealed webhook signing secrets

Secrets written before this revision stay readable as they are (the sealer opens only
values it sealed); new subscriptions store theirs sealed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.alter_column(
            "signing_secret", existing_type=sa.String(length=100), type_=sa.String(length=255), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.alter_column(
            "signing_secret", existing_type=sa.String(length=255), type_=sa.String(length=100), existing_nullable=False
        )
