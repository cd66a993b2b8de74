"""`voicememo serve --workers 2` on PostgreSQL and Redis: two API processes on one port, one service.

Each process builds its settings from the environment (nothing of the parent's memory reaches it);
/healthz names the pid that answered. Runs on the PostgreSQL pass only (several processes on one
SQLite file work, but the point here is the shared deployment).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serving import client, serving
from test_cli_and_serve import cli, free_port

from api.helpers import new_chat, upload_file
from audiogen import Made
from receiver import webhook_receiver

pytestmark = pytest.mark.postgresql_only
REDIS_URL = "redis://127.0.0.1:6379/0"


def pids_answering(port: int, tries: int = 400) -> set[int]:
    """The pids behind the port, from /healthz on a fresh connection each time, until two have answered."""
    seen: set[int] = set()

    def ask(_: int) -> int:
        with httpx.Client(timeout=30) as http:  # a new connection: the kernel hands it to either process
            return int(http.get(f"http://127.0.0.1:{port}/healthz").json()["pid"])

    with ThreadPoolExecutor(8) as pool:
        for start in range(0, tries, 16):
            seen |= set(pool.map(ask, range(start, start + 16)))
            if len(seen) >= 2:
                break
    return seen


def test_two_api_processes_answer_on_one_port_and_deliver(tmp_path: Path, corpus: dict[str, Made]) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550600001", "--json").stdout)
    key, port = made["api_key"], free_port()
    with (
        webhook_receiver() as receiver,
        serving(data, port, processes=2, redis_url=REDIS_URL, fetch_allow_private_networks="true") as proc,
    ):
        pids = pids_answering(port)
        assert len(pids) == 2 and proc.pid not in pids, pids  # two children of the supervisor
        api = client(port, key)
        api.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
        chat_id = new_chat(api, made["line"])
        attachment_id = upload_file(api, corpus["wav-s16"].path, "audio/wav")
        memo = api.chats.send_voicememo(chat_id, attachment_id=attachment_id).voice_memo
        delivered = receiver.wait_for(lambda e: e["data"]["id"] == memo.id, timeout=60)[-1]
        assert delivered.event["event_type"] == "message.delivered"
