"""End to end: a memo travels to the sandbox outbox as a verified Opus-CAF, its status moves, and
signed webhooks reach a real receiver that verifies them with the SDK's own `webhooks.unwrap`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import linq
import pytest
from apiserver import Server, Tenant
from helpers import new_chat, new_handle, upload_file

from audiogen import Made
from receiver import Receiver, webhook_receiver
from voicememo.audio.caf import read_caf
from voicememo.audio.probe import probe_file
from voicememo.senders.sandbox import read_outbox

EVENTS = ["message.sent", "message.delivered", "message.read", "message.failed", "chat.created"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def subscribe(tenant: Tenant, receiver: Receiver) -> str:
    sub = tenant.client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=EVENTS)
    return sub.signing_secret


def verified(tenant: Tenant, secret: str, deliveries: list[object]) -> list[dict[str, object]]:
    """Every delivery checked by the official SDK's verifier; returns the event envelopes."""
    out = []
    for d in deliveries:
        event = tenant.client.webhooks.unwrap(d.body, headers=d.headers, key=secret)  # type: ignore[attr-defined]
        assert event.event_type == d.event["event_type"]  # type: ignore[attr-defined]
        out.append(d.event)  # type: ignore[attr-defined]
    return out


def outbox_entry(server: Server, message_id: str) -> dict[str, object]:
    entries = [e for e in read_outbox(server.settings.outbox_dir) if e["message_id"] == message_id]
    assert len(entries) == 1, f"exactly one send of {message_id}, found {len(entries)}"
    return entries[0]


def test_imessage_memo_is_delivered_as_a_verified_caf_bubble(
    server: Server, tenant: Tenant, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    secret = subscribe(tenant, receiver)
    chat_id = new_chat(tenant.client, tenant.line)
    made = corpus["mp3-xing"]
    memo = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, made.path, "audio/mpeg")
    ).voice_memo

    seen = receiver.wait_for(lambda e: e["event_type"] == "message.read" and e["data"]["id"] == memo.id)
    events = verified(tenant, secret, seen)
    assert "chat.created" in [e["event_type"] for e in events]
    memo_events = [e["event_type"] for e in events if e["data"].get("id") == memo.id]  # type: ignore[union-attr]
    assert memo_events == ["message.sent", "message.delivered", "message.read"]
    sent = next(e for e in events if e["event_type"] == "message.sent" and e["data"]["id"] == memo.id)  # type: ignore[index]
    assert sent["data"]["parts"][0]["id"] == memo.voice_memo.id  # type: ignore[index]
    assert sent["partner_id"] == tenant.partner.partner.id and sent["api_version"] == "v3"

    message = tenant.client.messages.retrieve(memo.id)
    assert (message.delivery_status, message.is_delivered, message.is_read) == ("read", True, True)
    assert message.sent_at and message.delivered_at and message.read_at
    assert message.sent_at <= message.delivered_at <= message.read_at

    entry = outbox_entry(server, memo.id)
    assert (entry["file"], entry["mime_type"], entry["audio_message"], entry["service"]) == (
        "Audio Message.caf",
        "audio/x-caf",
        True,
        "iMessage",
    )
    caf_path = Path(str(entry["path"])) / "Audio Message.caf"
    info = read_caf(caf_path.read_bytes())
    assert (info.sample_rate, info.format_id, info.frames_per_packet, info.channels) == (24000.0, b"opus", 480, 1)
    assert info.valid_frames == 3000 * 24  # the exact source length at 24 kHz
    assert probe_file(caf_path).duration_ms == memo.voice_memo.duration_ms == 3000


def test_legacy_signature_header(tenant: Tenant, receiver: Receiver) -> None:
    secret = subscribe(tenant, receiver)
    new_chat(tenant.client, tenant.line)
    delivery = receiver.wait_for(lambda e: e["event_type"] == "chat.created")[0]
    expected = hmac.new(
        secret.encode(), f"{delivery.headers['x-webhook-timestamp']}.{delivery.body}".encode(), hashlib.sha256
    ).hexdigest()
    assert delivery.headers["x-webhook-signature"] == expected
    assert delivery.headers["x-webhook-event"] == "chat.created"
    assert delivery.headers["webhook-id"] == delivery.event["event_id"]


def test_sms_memo_goes_as_a_plain_carrier_attachment(
    server: Server, tenant: Tenant, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    secret = subscribe(tenant, receiver)
    chat_id = new_chat(tenant.client, tenant.line, new_handle(last_digit=9))
    memo = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, corpus["wav-s16"].path, "audio/wav")
    ).voice_memo
    assert memo.service == "SMS"
    verified(
        tenant,
        secret,
        receiver.wait_for(lambda e: e["event_type"] == "message.delivered" and e["data"]["id"] == memo.id),
    )
    entry = outbox_entry(server, memo.id)
    assert entry["audio_message"] is False  # never passed off as a bubble
    assert entry["mime_type"] in ("audio/mp4", "audio/amr")
    assert int(entry["size_bytes"]) <= 600_000  # type: ignore[call-overload]
    assert tenant.client.messages.retrieve(memo.id).delivery_status == "delivered"


def test_group_memo_is_one_send_with_per_recipient_receipts(
    server: Server, tenant: Tenant, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    secret = subscribe(tenant, receiver)
    a, b = new_handle(), new_handle()
    chat_id = new_chat(tenant.client, tenant.line, a, b)
    memo = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, corpus["amr-nb-dtx"].path, "audio/amr")
    ).voice_memo
    verified(
        tenant, secret, receiver.wait_for(lambda e: e["event_type"] == "message.read" and e["data"]["id"] == memo.id)
    )
    entry = outbox_entry(server, memo.id)
    assert sorted(entry["recipients"]) == sorted([a, b]) and entry["is_group"] is True  # type: ignore[arg-type]


def test_injected_failure_is_reported_with_code_4001(
    tenant: Tenant, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    secret = subscribe(tenant, receiver)
    chat_id = new_chat(tenant.client, tenant.line, "+19990000001")
    memo = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    ).voice_memo
    events = verified(
        tenant,
        secret,
        receiver.wait_for(lambda e: e["event_type"] == "message.failed" and e["data"]["message_id"] == memo.id),
    )
    failed = events[-1]["data"]
    assert failed["code"] == 4001 and "not reachable" in failed["reason"]  # type: ignore[index,operator]
    message = tenant.client.messages.retrieve(memo.id)
    assert message.delivery_status == "failed"
    assert message.model_extra and message.model_extra["error_code"] == 4001


def test_webhooks_retry_until_the_receiver_recovers_in_order(tenant: Tenant, corpus: dict[str, Made]) -> None:
    with webhook_receiver(fail_first=4) as receiver:
        secret = subscribe(tenant, receiver)
        chat_id = new_chat(tenant.client, tenant.line)
        memo = tenant.client.chats.send_voicememo(
            chat_id, attachment_id=upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
        ).voice_memo
        seen = receiver.wait_for(lambda e: e["event_type"] == "message.read" and e["data"]["id"] == memo.id)
        events = verified(tenant, secret, seen)
        failed_ids = {a.headers["webhook-id"] for a in receiver.attempts if a.status == 500}
        accepted = {d.headers["webhook-id"] for d in seen}
        while not failed_ids <= accepted:  # other events' retries may still be on their backoff
            accepted.add(receiver.accepted.get(timeout=20).headers["webhook-id"])
    memo_events = [e["event_type"] for e in events if e["data"].get("id") == memo.id]  # type: ignore[union-attr]
    assert memo_events == ["message.sent", "message.delivered", "message.read"]
    accepted_ids = [a.headers["webhook-id"] for a in receiver.attempts if a.status == 204]
    assert failed_ids, "the receiver's failures really hit some events"
    assert failed_ids <= set(accepted_ids), "a retried event keeps its webhook-id and arrives"
    assert len(accepted_ids) == len(set(accepted_ids)), "each event is accepted once"


def test_rate_limit_per_line_and_recipient(tenant: Tenant) -> None:
    to = new_handle()
    text = {"parts": [{"type": "text", "value": "x"}]}
    for _ in range(30):
        tenant.client.chats.create(from_=tenant.line, to=[to], message=text)
    with pytest.raises(linq.RateLimitError) as info:
        tenant.client.chats.create(from_=tenant.line, to=[to], message=text)
    assert info.value.code == 1007
    # a sliding-window counter (services/ratelimit.py): a full window weighs on into the next one
    assert 1 <= int(info.value.response.headers["retry-after"]) <= 2 * 60
    assert info.value.retry_after == int(info.value.response.headers["retry-after"])
    tenant.client.chats.create(from_=tenant.line, to=[new_handle()], message=text)  # other recipients are fine


def test_deleting_the_last_copy_removes_its_renditions_too(
    server: Server, tenant: Tenant, receiver: Receiver, tmp_path: Path
) -> None:
    from audiogen import encode, voice_signal

    unique = encode(
        tmp_path / "unique.wav", fmt="wav", codec="pcm_s16le", rate=16000, signal=voice_signal(1.5, 16000, seed=4242)
    )
    subscribe(tenant, receiver)
    chat_id = new_chat(tenant.client, tenant.line)
    attachment_id = upload_file(tenant.client, unique.path, "audio/wav")
    memo = tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id).voice_memo
    receiver.wait_for(lambda e: e["event_type"] == "message.sent" and e["data"]["id"] == memo.id)
    renditions = server.settings.blob_dir / "renditions" / hashlib.sha256(unique.path.read_bytes()).hexdigest()
    assert len(list(renditions.iterdir())) == 1
    tenant.client.attachments.delete(attachment_id)
    assert list(renditions.iterdir()) == []
