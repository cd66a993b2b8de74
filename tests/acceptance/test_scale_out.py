"""Scaled out: two API processes and two `voicememo worker` processes on PostgreSQL, S3 (moto) and Redis.

A burst of memos goes through both APIs with Idempotency-Keys; one worker and one API process are
SIGKILLed in the middle of it and started again; every request that went unanswered is retried
(through the *other* API: the key's claim is in the database, not in a process). Then every accepted
memo was sent to the provider exactly once (the sandbox outbox records each call and does not
de-duplicate), no delivery work is left queued or running, and the per-recipient rate limit is one
limit across both APIs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TypeVar

import httpx
import linq
import pytest
from serving import client, serving, voicememo_process
from test_cli_and_serve import cli, free_port

import testdb
from api.helpers import new_chat, upload_file
from audiogen import Made
from receiver import webhook_receiver
from s3server import Bucket
from voicememo.senders.sandbox import read_outbox
from voicememo.settings import Settings

pytestmark = pytest.mark.postgresql_only
P = TypeVar("P")

MEMOS = 200
CHATS = 20  # 10 memos per (line, recipient): under the limit below, which the last check then reaches
KILL_AFTER = 60
RATE_LIMIT = "20 per 60 seconds"
#: deliveries only; periodic jobs (health, sweep, retention) and reconciles are always waiting for later
DELIVERY_KINDS = {"deliver", "receipt", "webhook"}


def blob_settings(bucket: Bucket) -> dict[str, str]:
    """Every process keeps blobs in one S3 bucket (moto on loopback), none in its data dir."""
    return {k: str(v) for k, v in bucket.settings().items()}


def shared_settings(bucket: Bucket) -> dict[str, str]:
    return {
        "redis_url": "redis://127.0.0.1:6379/0",
        "rate_limit": RATE_LIMIT,
        "fetch_allow_private_networks": "true",
        "audio_workers": "1",
        "job_lease_seconds": "3",  # a killed worker's jobs are taken over within seconds
        "sandbox_delivered_delay": "0",
        **blob_settings(bucket),
    }


def api_settings(bucket: Bucket) -> dict[str, str]:
    return {**shared_settings(bucket), "workers_in_process": "false"}


def working(data: Path, **settings: str) -> AbstractContextManager[subprocess.Popen[str]]:
    """A `voicememo worker` process, up once its LISTEN is in place (from then on no enqueue goes unheard)."""

    def is_up(lines: Iterator[str]) -> None:
        for line in lines:
            if "listening" in line:
                return

    return voicememo_process(["worker"], data, is_up, **{**settings, "sandbox_read_delay": "-1"})


def started_together(stack: ExitStack, processes: list[AbstractContextManager[P]]) -> list[P]:
    """Enter the contexts at once (each waits for its process to come up), to be left with ``stack``."""
    with ThreadPoolExecutor(len(processes)) as pool:
        entering = [(cm, pool.submit(cm.__enter__)) for cm in processes]
    for cm, entered in entering:
        if entered.exception() is None:
            stack.push(cm)  # left when the stack is, like enter_context
    return [entered.result() for _cm, entered in entering]


def send_until_limited(api: linq.LinqAPIV3, chat_id: str, attachment_id: str) -> list[str]:
    """Memos to one recipient until the API answers 429; the ids it accepted."""
    ids: list[str] = []
    for _ in range(100):
        try:
            ids.append(api.chats.send_voicememo(chat_id, attachment_id=attachment_id).voice_memo.id)
        except linq.RateLimitError:
            return ids
    raise AssertionError("never rate limited")


def kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def test_two_apis_and_two_workers_survive_a_kill_of_one_each_mid_burst(
    tmp_path: Path, corpus: dict[str, Made], s3_bucket: Bucket
) -> None:
    started = time.monotonic()
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550700001", "--json").stdout)
    key, ports = made["api_key"], (free_port(), free_port())
    keys = [f"scale-{i}" for i in range(MEMOS)]
    answered: dict[str, str] = {}
    enough = threading.Event()
    lock = threading.Lock()

    def send(memo_key: str, port: int, chat_id: str) -> None:
        try:
            memo = client(port, key).chats.send_voicememo(
                chat_id, attachment_id=attachment_id, extra_headers={"Idempotency-Key": memo_key}
            )
        except (linq.APIConnectionError, httpx.TransportError):
            return  # its server died under it (or was down): retried below
        with lock:
            answered[memo_key] = memo.voice_memo.id
            if len(answered) >= KILL_AFTER:
                enough.set()

    with webhook_receiver() as receiver, ExitStack() as apis_stack:
        apis = started_together(apis_stack, [serving(data, port, **api_settings(s3_bucket)) for port in ports])
        with ExitStack() as workers_stack:
            workers = started_together(workers_stack, [working(data, **shared_settings(s3_bucket)) for _ in range(2)])
            first = client(ports[0], key)
            first.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
            chats = [new_chat(first, made["line"]) for _ in range(CHATS)]
            attachment_id = upload_file(first, corpus["wav-s16"].path, "audio/wav")
            plan = {k: (ports[i % 2], chats[i % CHATS]) for i, k in enumerate(keys)}

            with ThreadPoolExecutor(8) as pool:
                for memo_key in keys:
                    pool.submit(send, memo_key, *plan[memo_key])
                assert enough.wait(timeout=60)
                kill(workers[0])
                kill(apis[0])
                # started again while the burst goes on (the old contexts only clean up what is gone)
                with ThreadPoolExecutor(1) as restart:
                    worker_back = restart.submit(
                        started_together, workers_stack, [working(data, **shared_settings(s3_bucket))]
                    )
                    started_together(apis_stack, [serving(data, ports[0], **api_settings(s3_bucket))])
                    worker_back.result(timeout=60)
            assert KILL_AFTER <= len(answered) < MEMOS, "the kill must land mid-burst"

            with ThreadPoolExecutor(8) as pool:  # each unanswered key again, through the other API
                for memo_key in [k for k in keys if k not in answered]:
                    port, chat_id = plan[memo_key]
                    pool.submit(send, memo_key, ports[1] if port == ports[0] else ports[0], chat_id)
            assert len(answered) == MEMOS, sorted(set(keys) - set(answered))

            # one limit across both APIs: a recipient limited through API 1 is limited through API 2
            limited_chat = new_chat(first, made["line"], f"+1777{uuid.uuid4().int % 10**7:07d}")
            through = [client(port, key) for port in ports]
            accepted = list(answered.values())
            accepted += send_until_limited(through[0], limited_chat, attachment_id)
            with pytest.raises(linq.RateLimitError):
                through[1].chats.send_voicememo(limited_chat, attachment_id=attachment_id)

            pending = set(accepted)
            while pending:  # each delivery event arrives once or more; wait until every memo has one
                for delivery in receiver.wait_for(lambda e: e["data"]["id"] in pending, timeout=60)[-1:]:
                    pending.discard(delivery.event["data"]["id"])
        # the workers stopped gracefully: whatever they were running is finished or handed back
        waiting = json.loads(cli(data, "jobs", "list", "--status", "queued", "--status", "running", "--json").stdout)

    sends = [
        e["message_id"]
        for e in read_outbox(Settings(data_dir=data, database_url=testdb.database_url(data)).outbox_dir)
        if e.get("file")
    ]
    assert len(set(answered.values())) == MEMOS, "one memo per key"
    assert sorted(sends) == sorted(accepted), "each accepted memo went to the provider exactly once"
    assert [j for j in waiting["jobs"] if j["kind"] in DELIVERY_KINDS] == [], "no delivery work left behind"
    stored = s3_bucket.object_keys()
    assert any(k.startswith("audio/") for k in stored), stored  # the upload, in the shared bucket
    assert any(k.startswith("renditions/") for k in stored), stored  # made by whichever worker delivered
    assert not [p for p in (data / "blobs").rglob("*") if p.is_file()], "no blob in a process's own data dir"
    # bounded by each wait's own timeout, not by wall time: 35 s on 2 idle cores, more on a shared machine
    print(f"scale-out: {MEMOS} memos, 2 APIs + 2 workers, one of each killed: {time.monotonic() - started:.1f} s")
