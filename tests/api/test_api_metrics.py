"""GET /metrics: off by default, refused without the bearer token, and counts that move with real traffic.

The server is a fresh one per test (its own container, so its own registry): every counter starts
at zero and the amounts below are exact. Counters are read until they reach the expected value or a
deadline passes (a job's outcome is counted just after its effect is visible to the client).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from apiserver import FAST_DELIVERY, Server, running_server
from helpers import new_chat, upload_file
from prometheus_client.parser import text_string_to_metric_families

from audiogen import Made
from origin import Origin
from receiver import Receiver, webhook_receiver

TOKEN = "scrape-me-0123456789"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metered(tmp_path: Path, origin: Origin) -> Iterator[Server]:
    with running_server(
        tmp_path / "data",
        metrics_enabled=True,
        metrics_token=TOKEN,
        fetch_allow_private_networks=True,
        fetch_ca_bundle=origin.ca_file,
        **FAST_DELIVERY,
    ) as s:
        yield s


def scrape(base_url: str, token: str = TOKEN) -> Samples:
    answer = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def scrape_until(base_url: str, ready: Callable[[Samples], bool], timeout: float = 20.0) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(base_url)
        if ready(samples) or time.monotonic() > deadline:
            return samples


def test_metrics_are_off_unless_enabled(server: Server) -> None:
    answer = httpx.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 404
    assert "VOICEMEMO_METRICS_ENABLED" in answer.json()["error"]["message"]


def test_metrics_refuse_a_missing_or_wrong_token(metered: Server) -> None:
    bare = httpx.get(f"{metered.base_url}/metrics")
    wrong = httpx.get(f"{metered.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    partner_key = httpx.get(
        f"{metered.base_url}/metrics", headers={"Authorization": f"Bearer {metered.new_partner().api_key.secret}"}
    )
    for refused in (bare, wrong, partner_key):
        assert refused.status_code == 401
        assert "voicememo_" not in refused.text
    assert value(scrape(metered.base_url), "voicememo_job_queue_depth", kind="deliver") == 0


def test_real_traffic_moves_the_counters_by_the_right_amounts(
    metered: Server, origin: Origin, corpus: dict[str, Made]
) -> None:
    made = metered.new_partner()
    client = metered.client(made.api_key.secret)
    with webhook_receiver() as receiver:
        client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
        chat_id = new_chat(client, made.line.phone_number)
        url = origin.add("metrics-memo.mp3", corpus["mp3-xing"].path.read_bytes(), "audio/mpeg")
        memos = [
            client.chats.send_voicememo(chat_id, attachment_id=upload_file(client, corpus["wav-s16"].path, "audio/wav"))
            for _ in range(2)
        ]
        memos.append(client.chats.send_voicememo(chat_id, voice_memo_url=url))
        ids = {m.voice_memo.id for m in memos}
        delivered = wait_delivered(receiver, ids)
        assert httpx.get(f"{metered.base_url}/v3/no/such/route").status_code == 404

        samples = scrape_until(
            metered.base_url,
            lambda s: (
                value(s, "voicememo_jobs_total", kind="deliver", outcome="done") >= 4
                and value(s, "voicememo_webhook_attempts_total", outcome="delivered") >= 4
            ),
        )
    assert len(delivered) == 4  # the three memos and the text that opened the chat
    assert value(samples, "voicememo_memos_accepted_total", source="attachment", format="wav") == 2
    assert value(samples, "voicememo_memos_accepted_total", source="url", format="mp3") == 1
    assert value(samples, "voicememo_memos_accepted_total") == 3
    send_route = "/v3/chats/{chat_id}/voicememo"
    assert value(samples, "voicememo_http_request_duration_seconds_count", route=send_route, status="202") == 3
    assert value(samples, "voicememo_http_request_duration_seconds_count", route="unmatched", status="404") == 1
    assert not any("/v3/chats/" + chat_id in dict(labels).get("route", "") for _, labels in samples)
    # two uploads checked at PUT, the fetched file once; a failed check would be labelled "unsupported"
    assert value(samples, "voicememo_audio_probe_duration_seconds_count", format="wav") == 2
    assert value(samples, "voicememo_audio_probe_duration_seconds_count", format="mp3") == 1
    # one rendition per distinct audio (the two wav sends share theirs)
    assert value(samples, "voicememo_audio_render_duration_seconds_count", profile="imessage", outcome="ok") == 2
    assert value(samples, "voicememo_jobs_total", kind="deliver", outcome="done") == 4
    assert value(samples, "voicememo_jobs_total", kind="deliver", outcome="dead") == 0
    assert value(samples, "voicememo_sends_total", sender="sandbox", outcome="accepted") == 4
    assert value(samples, "voicememo_webhook_attempts_total", outcome="delivered") == 4
    assert value(samples, "voicememo_webhook_attempt_duration_seconds_count", outcome="delivered") == 4
    assert value(samples, "voicememo_job_queue_depth", kind="deliver", status="queued") == 0
    # the sandbox's read receipts are queued for later (read delay): open jobs the gauge sees
    assert ("voicememo_job_queue_oldest_age_seconds", frozenset({("kind", "webhook")})) in samples


def test_failing_webhooks_and_sends_are_counted_as_such(metered: Server, corpus: dict[str, Made]) -> None:
    made = metered.new_partner()
    client = metered.client(made.api_key.secret)
    with webhook_receiver(fail_first=1) as receiver:
        client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.failed"])
        chat_id = new_chat(client, made.line.phone_number, "+19995550123")  # the sandbox fails this handle
        memo = client.chats.send_voicememo(
            chat_id, attachment_id=upload_file(client, corpus["wav-u8"].path, "audio/wav")
        ).voice_memo
        receiver.wait_for(lambda e: e["data"]["message_id"] == memo.id)
        samples = scrape_until(  # the memo's and the chat's opening text's message.failed, one retried once
            metered.base_url, lambda s: value(s, "voicememo_webhook_attempts_total", outcome="delivered") >= 2
        )
    assert len(receiver.attempts) == 3
    assert value(samples, "voicememo_webhook_attempts_total", outcome="retry") == 1
    assert value(samples, "voicememo_webhook_attempts_total", outcome="delivered") == 2
    assert value(samples, "voicememo_jobs_total", kind="webhook", outcome="retried") == 1
    assert value(samples, "voicememo_webhook_attempt_duration_seconds_count") == 3


def wait_delivered(receiver: Receiver, ids: set[str]) -> set[str]:
    seen: set[str] = set()
    receiver.wait_for(lambda e: bool(seen.add(e["data"]["id"])) or seen >= ids | {e["data"]["id"]}, timeout=60)
    return seen
