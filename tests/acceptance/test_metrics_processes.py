"""/metrics with `serve --workers 2` and a `voicememo worker`: one scrape adds up every process.

Each process writes its counts to METRICS_DIR (prometheus-client's multiprocess mode). The /healthz
requests below are spread over both API processes by the kernel (/healthz names the pid that
answered); a scrape through either process counts all of them, and the delivery job the separate
worker ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from serving import client, serving, voicememo_process
from test_cli_and_serve import cli, free_port

from api.helpers import new_chat, upload_file
from audiogen import Made
from receiver import webhook_receiver

TOKEN = "several-processes-token"


def healthz_until_both_answer(port: int) -> tuple[set[int], int]:
    """/healthz on a fresh connection each time, 16 at once, until two pids have answered; (pids, requests)."""
    seen: set[int] = set()
    sent = 0

    def ask(_: int) -> int:
        with httpx.Client(timeout=30) as http:
            return int(http.get(f"http://127.0.0.1:{port}/healthz").json()["pid"])

    with ThreadPoolExecutor(8) as pool:
        while len(seen) < 2 and sent < 400:
            seen |= set(pool.map(ask, range(16)))
            sent += 16
    return seen, sent


def counts(port: int, name: str, **labels: str) -> float:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    return sum(
        sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == name and set(labels.items()) <= set(sample.labels.items())
    )


def test_one_scrape_counts_every_api_process_and_the_worker(tmp_path: Path, corpus: dict[str, Made]) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550800001", "--json").stdout)
    port = free_port()
    metrics = {"metrics_enabled": "true", "metrics_token": TOKEN}
    (data / "metrics").mkdir(parents=True)
    (data / "metrics" / "counter_999999999.db").write_bytes(b"")  # a long-gone process's file: pruned at start
    with (
        webhook_receiver() as receiver,
        serving(data, port, processes=2, workers_in_process="false", fetch_allow_private_networks="true", **metrics),
        working(
            data, **metrics, sandbox_delivered_delay="0", fetch_allow_private_networks="true", job_poll_interval="0.2"
        ),
    ):
        assert not (data / "metrics" / "counter_999999999.db").exists()
        pids, sent = healthz_until_both_answer(port)
        assert len(pids) == 2, pids
        # whichever process answers the scrape, it counts both processes' requests
        assert counts(port, "voicememo_http_request_duration_seconds_count", route="/healthz") == sent
        api = client(port, made["api_key"])
        api.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
        chat_id = new_chat(api, made["line"])
        memo = api.chats.send_voicememo(
            chat_id, attachment_id=upload_file(api, corpus["wav-u8"].path, "audio/wav")
        ).voice_memo
        receiver.wait_for(lambda e: e["data"]["id"] == memo.id, timeout=60)
        assert counts(port, "voicememo_memos_accepted_total", source="attachment") == 1
        # the deliveries ran in the `voicememo worker` process (the API processes run no workers)
        assert counts(port, "voicememo_sends_total", sender="sandbox", outcome="accepted") == 2
        assert counts(port, "voicememo_jobs_total", kind="deliver", outcome="done") == 2
        assert counts(port, "voicememo_job_queue_depth", kind="deliver", status="queued") == 0
    files = {p.name.split("_")[0] for p in (data / "metrics").glob("*.db")}
    assert files == {"counter", "histogram"}


def working(data: Path, **settings: str) -> Iterator[object]:
    def is_up(lines: Iterator[str]) -> None:
        for line in lines:
            if "worker_started" in line:
                return

    return voicememo_process(["worker"], data, is_up, None, **{**settings, "sandbox_read_delay": "-1"})  # type: ignore[return-value]
