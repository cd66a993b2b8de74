"""jobs: ``held`` marks a job waiting behind an earlier open job of its order key; triggers keep it

A claim used to probe every due job for an earlier unfinished job of its order key and sort them
all, so its cost grew with the backlog (850 µs of SQLite time with 1,500 memos queued). Now each
order key has one unheld open job, its head; the claim reads unheld due jobs from an index and stops
at its limit.

The database keeps the invariant, whatever statement changes a job (the worker's settlements, an
operator's requeue, a test's insert): a keyed job is inserted held when another job of its key is
open, and requeued from dead held; after that, or after a keyed job leaves the open states (queued,
running) by ending or by deletion, its key is *normalised*: if no unheld open job of the key
remains, the lowest held one is released.

On PostgreSQL every trigger function that reads the key's other jobs first takes a transaction
advisory lock on the key: without it, a job inserted while its head ends in another transaction
would stay held behind a head that nobody then sees end (each statement of the function reads a
fresh snapshot once it holds the lock). SQLite's writers are already serialised (BEGIN IMMEDIATE).

Any later migration that rebuilds ``jobs`` (a batch "move and copy" on SQLite) drops these
triggers and must create them again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 01:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status IN ('queued', 'running')"


def _normalise(key: str) -> str:
    """Release the lowest held job of ``key`` when no unheld open job of it is left."""
    return (
        "UPDATE jobs SET held = FALSE"  # noqa: S608 (constants and a column reference, no input)
        f" WHERE id = (SELECT min(id) FROM jobs WHERE order_key = {key} AND held AND status = 'queued')"
        f" AND NOT EXISTS (SELECT 1 FROM jobs WHERE order_key = {key} AND NOT held AND {_OPEN});"
    )


_ENDED = "NEW.status IN ('done', 'dead') AND OLD.status IN ('queued', 'running')"
_REQUEUED = "NEW.status IN ('queued', 'running') AND OLD.status IN ('done', 'dead')"

_HOLD = "UPDATE jobs SET held = TRUE WHERE id = NEW.id;"
#: another open job of the new row's key: it is held behind that one
_BEHIND = f"EXISTS (SELECT 1 FROM jobs WHERE order_key = NEW.order_key AND id <> NEW.id AND {_OPEN})"  # noqa: S608

_SQLITE = (
    f"""CREATE TRIGGER jobs_order_inserted AFTER INSERT ON jobs WHEN NEW.order_key IS NOT NULL AND {_BEHIND}
    BEGIN {_HOLD} END""",
    f"""CREATE TRIGGER jobs_order_ended AFTER UPDATE OF status ON jobs
    WHEN NEW.order_key IS NOT NULL AND {_ENDED}
    BEGIN {_normalise("NEW.order_key")} END""",
    f"""CREATE TRIGGER jobs_order_requeued AFTER UPDATE OF status ON jobs
    WHEN NEW.order_key IS NOT NULL AND {_REQUEUED}
    BEGIN {_HOLD} {_normalise("NEW.order_key")} END""",
    f"""CREATE TRIGGER jobs_order_deleted AFTER DELETE ON jobs
    WHEN OLD.order_key IS NOT NULL AND OLD.{_OPEN}
    BEGIN {_normalise("OLD.order_key")} END""",
)

_LOCK = "PERFORM pg_advisory_xact_lock(hashtextextended('jobs-order:' || key, 0));"

_POSTGRESQL = (
    f"""CREATE FUNCTION jobs_keep_order() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        key text := CASE WHEN TG_OP = 'DELETE' THEN OLD.order_key ELSE NEW.order_key END;
    BEGIN
        {_LOCK}
        {_normalise("key")}
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION jobs_hold_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        key text := NEW.order_key;
    BEGIN
        {_LOCK}
        NEW.held := {_BEHIND};
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION jobs_hold_requeued() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.held := TRUE;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER jobs_order_inserted BEFORE INSERT ON jobs
    FOR EACH ROW WHEN (NEW.order_key IS NOT NULL) EXECUTE FUNCTION jobs_hold_inserted()""",
    f"""CREATE TRIGGER jobs_order_requeued BEFORE UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.order_key IS NOT NULL AND {_REQUEUED}) EXECUTE FUNCTION jobs_hold_requeued()""",
    f"""CREATE TRIGGER jobs_order_ended AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.order_key IS NOT NULL AND ({_ENDED} OR {_REQUEUED}))
    EXECUTE FUNCTION jobs_keep_order()""",
    f"""CREATE TRIGGER jobs_order_deleted AFTER DELETE ON jobs
    FOR EACH ROW WHEN (OLD.order_key IS NOT NULL AND OLD.{_OPEN}) EXECUTE FUNCTION jobs_keep_order()""",
)

_TRIGGERS = ("jobs_order_inserted", "jobs_order_requeued", "jobs_order_ended", "jobs_order_deleted")
_FUNCTIONS = ("jobs_keep_order", "jobs_hold_inserted", "jobs_hold_requeued")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.drop_index("ix_jobs_claim")
        batch_op.drop_index("ix_jobs_order_open")
        batch_op.create_index("ix_jobs_claim", ["status", "held", "run_at"], unique=False)
        batch_op.create_index("ix_jobs_order_open", ["order_key", "held", "status", "id"], unique=False)
    # jobs already waiting behind an earlier open job of their key
    op.execute(
        "UPDATE jobs SET held = TRUE WHERE order_key IS NOT NULL AND status = 'queued' AND EXISTS"  # noqa: S608
        f" (SELECT 1 FROM jobs AS earlier WHERE earlier.order_key = jobs.order_key"
        f" AND earlier.id < jobs.id AND earlier.{_OPEN})"
    )
    for statement in _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON jobs" if postgresql else ""))
    for function in _FUNCTIONS if postgresql else ():
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_order_open")
        batch_op.drop_index("ix_jobs_claim")
        batch_op.create_index("ix_jobs_order_open", ["order_key", "status", "id"], unique=False)
        batch_op.create_index("ix_jobs_claim", ["status", "run_at"], unique=False)
        batch_op.drop_column("held")
