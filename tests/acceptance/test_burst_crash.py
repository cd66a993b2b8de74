"""SIGKILL in the middle of a burst of memos and half-sent uploads, restart, and retry what went unanswered.

Every memo the clients asked for is sent exactly once (the sandbox outbox records each provider
call and does not de-duplicate), every retry with the same Idempotency-Key answers with the same
id, nothing is lost, and what the killed uploads left on disk is gone after the restart.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import httpx
import linq
from serving import client, serving
from test_cli_and_serve import cli, free_port

import testdb
from api.helpers import new_chat, upload_file
from audiogen import Made
from receiver import webhook_receiver
from voicememo.senders.sandbox import read_outbox
from voicememo.settings import Settings

MEMOS = 40
KILL_AFTER = 12
SETTINGS = {"fetch_allow_private_networks": "true", "rate_limit": "1000 per 60 seconds", "audio_workers": "1"}


def test_sigkill_during_a_burst_loses_nothing_doubles_nothing_and_leaves_nothing(
    tmp_path: Path, corpus: dict[str, Made]
) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550500001", "--json").stdout)
    key, port = made["api_key"], free_port()
    keys = [f"burst-{i}" for i in range(MEMOS)]
    answered: dict[str, str] = {}
    enough, release_uploads = threading.Event(), threading.Event()

    def send(memo_key: str) -> None:
        try:
            memo = client(port, key).chats.send_voicememo(
                chat_id, attachment_id=attachment_id, extra_headers={"Idempotency-Key": memo_key}
            )
        except (linq.APIConnectionError, httpx.TransportError):
            return  # the server died under this request: the client will retry it
        answered[memo_key] = memo.voice_memo.id
        if len(answered) >= KILL_AFTER:
            enough.set()

    def half_upload() -> None:
        slot = client(port, key).attachments.create(filename="a.wav", content_type="audio/wav", size_bytes=100_000)

        def body() -> object:
            yield b"RIFF" + b"\x00" * 50_000
            release_uploads.wait(timeout=60)  # held open until the server is killed under it

        with suppress(httpx.TransportError):
            httpx.put(slot.upload_url, content=body(), headers=slot.required_headers, timeout=60)  # type: ignore[arg-type]

    with webhook_receiver() as receiver:
        with serving(data, port, **SETTINGS) as first:
            api = client(port, key)
            api.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
            chat_id = new_chat(api, made["line"])
            attachment_id = upload_file(api, corpus["wav-s16"].path, "audio/wav")
            uploads = [threading.Thread(target=half_upload) for _ in range(2)]
            for t in uploads:
                t.start()
            with ThreadPoolExecutor(8) as pool:
                for memo_key in keys:
                    pool.submit(send, memo_key)
                assert enough.wait(timeout=60)
                os.killpg(first.pid, signal.SIGKILL)
            release_uploads.set()
            for t in uploads:
                t.join(timeout=60)
            assert first.wait(timeout=60) == -signal.SIGKILL
        assert KILL_AFTER <= len(answered) < MEMOS, "the kill must land mid-burst"

        with serving(data, port, **SETTINGS):
            api = client(port, key)
            ids = {
                k: api.chats.send_voicememo(
                    chat_id, attachment_id=attachment_id, extra_headers={"Idempotency-Key": k}
                ).voice_memo.id
                for k in keys
            }
            pending = set(ids.values())
            while pending:  # each delivery event arrives once or more; wait until every memo has one
                for delivery in receiver.wait_for(lambda e: e["data"]["id"] in pending, timeout=60)[-1:]:
                    pending.discard(delivery.event["data"]["id"])
            memos = [
                m.id for m in api.chats.messages.list(chat_id, limit=100) if m.parts and m.parts[0].type == "media"
            ]
            leftovers = json.loads(cli(data, "doctor", "--json", check=False).stdout)

    assert {k: ids[k] for k in answered} == answered, "a retry answers with the id the first answer gave"
    assert len(set(ids.values())) == MEMOS and sorted(memos) == sorted(ids.values()), "none lost, none doubled"
    sends = [
        e["message_id"]
        for e in read_outbox(Settings(data_dir=data, database_url=testdb.database_url(data)).outbox_dir)
        if e.get("file")
    ]
    assert sorted(sends) == sorted(ids.values()), "each memo went to the provider exactly once"
    assert leftovers["total"] == 0, leftovers
