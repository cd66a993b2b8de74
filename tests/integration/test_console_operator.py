"""The operator view on a real database with the clock injected: queue depth and age per kind and
status, dead jobs retried, recent failures newest first; and the admin token's rules."""

from __future__ import annotations

import os
import stat
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from voicememo.container import Container
from voicememo.domain.models import Chat, ChatHandle, DeliveryStatus, HandleStatus, Message, Service
from voicememo.errors import NotFound
from voicememo.services.console.admin_token import check_admin_token, operator_enabled, with_dev_admin_token
from voicememo.services.console.operator import OperatorService
from voicememo.services.job_ops import JobOpsService
from voicememo.settings import Settings
from voicememo.storage.repos.chats import ChatRepo
from voicememo.storage.repos.jobs import DEAD, QUEUED, RUNNING, JobRepo
from voicememo.storage.repos.messages import MessageRepo
from voicememo.storage.tables import JobRow

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
KIND = "console_probe"  # no worker handles it: the rows stay as written


@pytest.fixture
def operator(container: Container) -> OperatorService:
    """The container's operator view, on the fixed clock."""
    ctx = replace(container.ctx, clock=lambda: NOW)
    return OperatorService(ctx, JobOpsService(ctx))


async def add_job(c: Container, status: str, created: datetime, error: str | None = None, kind: str = KIND) -> int:
    async with c.ctx.db.write() as s:
        job_id = await JobRepo(s).enqueue(kind, {}, now=created, max_attempts=3)
        row = await s.get(JobRow, job_id)
        assert row is not None
        row.status, row.updated_at, row.last_error = status, created, error
    return job_id


async def add_failed_message(c: Container, at: datetime, reason: str) -> tuple[str, str]:
    made = await c.admin.create_partner("p", f"+1555{uuid.uuid4().int % 10**7:07d}")
    chat = Chat(
        str(uuid.uuid4()), made.partner.id, made.line.id, made.line.phone_number, None, False, Service.IMESSAGE, at, at,
        (ChatHandle(str(uuid.uuid4()), made.line.phone_number, Service.IMESSAGE, at, True, None, HandleStatus.ACTIVE),),
    )  # fmt: skip
    message = Message(
        str(uuid.uuid4()), made.partner.id, chat.id, made.line.phone_number, Service.IMESSAGE, "voice_memo",
        DeliveryStatus.FAILED, at, at, error_code=4001, error_reason=reason,
    )  # fmt: skip
    async with c.ctx.db.write() as s:
        await ChatRepo(s).add(chat, str(uuid.uuid4()))
        await MessageRepo(s).add(message)
    return made.partner.id, message.id


@pytest.mark.anyio
async def test_queue_depth_and_oldest_age_per_kind_and_status(container: Container, operator: OperatorService) -> None:
    await add_job(container, QUEUED, NOW - 5 * MINUTE)
    await add_job(container, QUEUED, NOW - 2 * MINUTE)
    await add_job(container, RUNNING, NOW - 1 * MINUTE)
    await add_job(container, DEAD, NOW - 60 * MINUTE, "boom")
    await add_job(container, "done", NOW - 90 * MINUTE)  # finished: not the queue
    await add_job(container, QUEUED, NOW - 3 * MINUTE, kind="other_probe")
    stats = {(q.kind, q.status): q for q in await operator.queue()}
    assert set(stats) == {(KIND, QUEUED), (KIND, RUNNING), (KIND, DEAD), ("other_probe", QUEUED)}
    assert (stats[KIND, QUEUED].count, stats[KIND, QUEUED].oldest_age_seconds) == (2, 300.0)
    assert (stats[KIND, RUNNING].count, stats[KIND, DEAD].oldest_age_seconds) == (1, 3600.0)
    assert stats["other_probe", QUEUED].oldest_at == NOW - 3 * MINUTE


@pytest.mark.anyio
async def test_dead_jobs_show_their_error_and_retry_requeues_only_a_dead_one(
    container: Container, operator: OperatorService
) -> None:
    dead = await add_job(container, DEAD, NOW - 10 * MINUTE, "HTTP 500 from the provider")
    queued = await add_job(container, QUEUED, NOW)
    listed = await operator.dead_jobs()
    assert [(j.id, j.last_error) for j in listed] == [(dead, "HTTP 500 from the provider")]
    await operator.retry(dead)
    assert await operator.dead_jobs() == []
    async with container.ctx.db.read() as s:
        row = await s.get(JobRow, dead)
        assert row is not None and (row.status, row.attempts) == (QUEUED, 0)
    with pytest.raises(NotFound):
        await operator.retry(queued)


@pytest.mark.anyio
async def test_recent_failures_are_messages_and_dead_jobs_newest_first_and_bounded(
    container: Container, operator: OperatorService
) -> None:
    _, old_message = await add_failed_message(container, NOW - 30 * MINUTE, "not reachable")
    dead = await add_job(container, DEAD, NOW - 20 * MINUTE, "gave up")
    partner, new_message = await add_failed_message(container, NOW - 10 * MINUTE, "refused by the provider")
    failures = await operator.recent_failures()
    assert [(f.kind, f.id) for f in failures] == [
        ("message", new_message),
        ("job", str(dead)),
        ("message", old_message),
    ]
    assert (failures[0].code, failures[0].reason, failures[0].partner_id) == (4001, "refused by the provider", partner)
    assert (failures[1].reason, failures[1].detail) == ("gave up", KIND)
    assert [f.id for f in await operator.recent_failures(limit=2)] == [new_message, str(dead)]


def test_the_admin_token_is_off_unless_set_and_compared_exactly(tmp_path: Path) -> None:
    off = Settings(data_dir=tmp_path)
    assert not operator_enabled(off) and not check_admin_token(off, "anything") and not check_admin_token(off, "")
    assert not operator_enabled(Settings(data_dir=tmp_path, admin_token=SecretStr("")))
    on = Settings(data_dir=tmp_path, admin_token=SecretStr("s3cret-token"))
    assert operator_enabled(on) and check_admin_token(on, "s3cret-token")
    assert not check_admin_token(on, "s3cret-toke") and not check_admin_token(on, None)
    assert "s3cret" not in repr(on) and "s3cret" not in str(on.model_dump())


def test_dev_mode_makes_one_private_token_and_reuses_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    made, token = with_dev_admin_token(settings)
    assert len(token) >= 32 and check_admin_token(made, token) and not operator_enabled(settings)
    path = tmp_path / "data" / "admin_token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert with_dev_admin_token(settings)[1] == token  # the next `make run` prints the same one
    path.write_text("")  # an empty file (a crash mid-write) is replaced, never an empty token
    remade = with_dev_admin_token(settings)[1]
    assert len(remade) >= 32 and remade != token and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    configured = Settings(data_dir=tmp_path / "data", admin_token=SecretStr("mine"))
    assert with_dev_admin_token(configured) == (configured, "mine")
    assert made.to_environ()["VOICEMEMO_ADMIN_TOKEN"] == token  # reaches the server's worker processes
