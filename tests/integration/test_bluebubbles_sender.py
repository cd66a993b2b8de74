"""The BlueBubbles sender against the fake Mac: what goes over the wire, and every way it can go wrong.

The fake follows BlueBubbles' documented behaviour (see tests/fakebb); these tests check our
adapter's side: the multipart fields that make a bubble, chat guids on old and new macOS,
group and 1:1 chat creation, SMS, error mapping (permanent or retryable), redaction of the
password, redirects never followed, and receipts read from webhooks and polls.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from audiogen import Made
from fakebb import FakeMac, Fault, running_mac
from voicememo.audio.caf import read_caf
from voicememo.audio.render import render
from voicememo.domain.models import Service, utcnow
from voicememo.senders.base import (
    ChatRef,
    FilePayload,
    LineBinding,
    Outgoing,
    ReceiptKind,
    SenderConfigError,
    SenderUnavailable,
    SendRejected,
)
from voicememo.senders.bluebubbles import BlueBubblesKind, BlueBubblesSender, BlueBubblesTimeouts

ALICE, BOB, CAROL = "+15558880001", "+15558880002", "+15558880003"
PASSWORD = "s3cret-pass-Ω"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Bound:
    sender: BlueBubblesSender
    mac: FakeMac
    url: str


def bind(url: str, password: str = PASSWORD, *, send_sms: bool = True, send_timeout: float = 10) -> BlueBubblesSender:
    kind = BlueBubblesKind(BlueBubblesTimeouts(call=3, send=send_timeout))
    config = kind.check_config({"url": url, "send_sms": send_sms}, password)
    return kind.bind(LineBinding("line-1", "+15558880000", config, password))


@pytest.fixture
async def bb() -> AsyncIterator[Bound]:
    with running_mac(FakeMac(password=PASSWORD, imessage={ALICE, BOB, CAROL, "friend@example.com"})) as running:
        sender = bind(running.url)
        yield Bound(sender, running.mac, running.url)
        await sender.aclose()


@pytest.fixture
def caf(tmp_path: Path, corpus: dict[str, Made]) -> FilePayload:
    path = tmp_path / "Audio Message.caf"
    made = render(corpus["wav-s16"].path, path, "imessage")
    return FilePayload(path, made.filename, made.mime_type, path.stat().st_size)


def chat(*handles: str, service: Service = Service.IMESSAGE, guid: str | None = None) -> ChatRef:
    return ChatRef(f"c-{uuid.uuid4().hex[:6]}", handles, service, len(handles) > 1, guid)


def item(ref: ChatRef, *, text: str | None = None, file: FilePayload | None = None, audio: bool = False) -> Outgoing:
    return Outgoing(f"m-{uuid.uuid4().hex[:8]}", 0, ref, text=text, file=file, audio_message=audio)


@pytest.mark.anyio
async def test_a_memo_goes_as_a_bubble_with_exactly_the_documented_fields(bb: Bound, caf: FilePayload) -> None:
    bb.mac.add_chat([ALICE])
    sent = item(chat(ALICE), file=caf, audio=True)
    accepted = await bb.sender.send(sent)
    (received,) = bb.mac.received
    assert received.fields == {
        "chatGuid": f"iMessage;-;{ALICE}",
        "name": "Audio Message.caf",
        "tempGuid": sent.send_id,
        "method": "private-api",
        "isAudioMessage": "true",
    }
    assert (accepted.provider_message_id, accepted.provider_chat_id, accepted.audio_message) == (
        received.guid,
        f"iMessage;-;{ALICE}",
        True,
    )
    parsed = read_caf(received.data)
    assert (parsed.format_id, parsed.channels, parsed.sample_rate) == (b"opus", 1, 24000.0)
    assert received.data == caf.path.read_bytes()
    # the Mac's info was checked first: a memo never goes where it could not be a bubble
    assert bb.mac.requests.index("GET /api/v1/server/info") < bb.mac.requests.index("POST /api/v1/message/attachment")


@pytest.mark.anyio
async def test_macos_26_chats_are_found_in_the_any_form(bb: Bound, caf: FilePayload) -> None:
    bb.mac.macos26 = True
    bb.mac.add_chat([ALICE])
    accepted = await bb.sender.send(item(chat(ALICE), file=caf, audio=True))
    assert accepted.provider_chat_id == f"any;-;{ALICE}"
    assert bb.mac.received[0].fields["chatGuid"] == f"any;-;{ALICE}"


@pytest.mark.anyio
async def test_a_chat_in_the_other_form_is_found_after_a_404(bb: Bound) -> None:
    bb.mac.macos26 = True  # the Mac says 26, but this chat predates the upgrade
    bb.mac.chats[f"iMessage;-;{ALICE}"] = {**bb.mac.add_chat([BOB]), "guid": f"iMessage;-;{ALICE}"}
    bb.mac.chats[f"iMessage;-;{ALICE}"]["participants"] = [{"address": ALICE, "service": "iMessage"}]
    accepted = await bb.sender.send(item(chat(ALICE), text="hi"))
    assert accepted.provider_chat_id == f"iMessage;-;{ALICE}"
    assert "GET /api/v1/chat/any;-;+15558880001" in bb.mac.requests  # tried first, 404


@pytest.mark.anyio
async def test_a_group_is_created_by_its_first_text_and_reused(bb: Bound, caf: FilePayload) -> None:
    group = chat(ALICE, BOB, CAROL)
    first = await bb.sender.send(item(group, text="hello all"))
    assert first.provider_chat_id and ";+;chat" in first.provider_chat_id
    created = bb.mac.chats[first.provider_chat_id]
    assert {p["address"] for p in created["participants"]} == {ALICE, BOB, CAROL}
    second = await bb.sender.send(item(replace(group, provider_chat_id=first.provider_chat_id), file=caf, audio=True))
    assert bb.mac.received[0].fields["chatGuid"] == first.provider_chat_id
    assert second.audio_message is True
    assert len(bb.mac.chats) == 1


@pytest.mark.anyio
async def test_a_memo_cannot_be_the_first_message_of_a_chat_the_mac_lacks(bb: Bound, caf: FilePayload) -> None:
    with pytest.raises(SendRejected, match="creates a chat only with a text"):
        await bb.sender.send(item(chat(ALICE, BOB), file=caf, audio=True))
    assert bb.mac.received == []


@pytest.mark.anyio
async def test_sms_gets_a_plain_attachment_on_an_sms_chat(bb: Bound, tmp_path: Path, corpus: dict[str, Made]) -> None:
    mms = tmp_path / "memo.m4a"
    made = render(corpus["wav-s16"].path, mms, "mms")
    sms = chat("+15558880009", service=Service.SMS)
    first = await bb.sender.send(item(sms, text="hi"))
    assert first.provider_chat_id == "SMS;-;+15558880009"
    await bb.sender.send(
        item(
            replace(sms, provider_chat_id=first.provider_chat_id),
            file=FilePayload(mms, made.filename, made.mime_type, 1),
        )
    )
    fields = bb.mac.received[0].fields
    assert fields["chatGuid"] == "SMS;-;+15558880009" and "isAudioMessage" not in fields
    assert fields["method"] == "private-api"


@pytest.mark.anyio
async def test_lookup_uses_availability_and_sms_only_when_the_line_sends_it(bb: Bound) -> None:
    assert await bb.sender.lookup(ALICE) is Service.IMESSAGE
    assert await bb.sender.lookup("friend@example.com") is Service.IMESSAGE
    assert await bb.sender.lookup("+15558880009") is Service.SMS
    assert await bb.sender.lookup("nobody@example.com") is None  # e-mail cannot go as SMS
    no_sms = bind(bb.url, send_sms=False)
    try:
        assert await no_sms.lookup("+15558880009") is None
    finally:
        await no_sms.aclose()


@pytest.mark.anyio
async def test_private_api_off_or_helper_gone_refuses_the_memo_before_sending(bb: Bound, caf: FilePayload) -> None:
    bb.mac.add_chat([ALICE])
    bb.mac.private_api = False
    with pytest.raises(SendRejected, match="Private API is off") as off:
        await bb.sender.send(item(chat(ALICE), file=caf, audio=True))
    assert "Settings → Private API" in off.value.message
    bb.mac.private_api, bb.mac.helper_connected = True, False
    with pytest.raises(SendRejected, match="helper is not connected"):
        await bb.sender.send(item(chat(ALICE), file=caf, audio=True))
    assert bb.mac.received == [] and "POST /api/v1/message/attachment" not in bb.mac.requests
    health = await bb.sender.health()
    assert health.status == "CRITICAL" and "helper is not connected" in (health.problem or "")
    with pytest.raises(SendRejected, match="helper is not connected"):  # lookups need the helper too
        await bb.sender.lookup(ALICE)


@pytest.mark.anyio
async def test_a_wrong_password_is_permanent_and_never_leaks(bb: Bound, caf: FilePayload) -> None:
    wrong = bind(bb.url, password="not-the-password")
    try:
        with pytest.raises(SendRejected) as refused:
            await wrong.send(item(chat(ALICE), file=caf, audio=True))
        assert "refused the password" in refused.value.message
        assert "not-the-password" not in refused.value.message
        health = await wrong.health()
        assert (health.status, health.details["reachable"]) == ("CRITICAL", True)
        assert "not-the-password" not in json.dumps({**health.details, "problem": health.problem})
    finally:
        await wrong.aclose()


@pytest.mark.anyio
async def test_an_unreachable_mac_is_retryable_and_the_error_carries_no_password(caf: FilePayload) -> None:
    with running_mac() as running:
        url = running.url
    down = bind(url)  # the port is closed now
    try:
        with pytest.raises(SenderUnavailable) as unavailable:
            await down.send(item(chat(ALICE), file=caf, audio=True))
        assert unavailable.value.retryable and PASSWORD not in unavailable.value.message
        assert "password=" not in unavailable.value.message
        health = await down.health()
        assert (health.status, health.details["reachable"]) == ("CRITICAL", False)
    finally:
        await down.aclose()


@pytest.mark.anyio
async def test_a_500_is_retryable_and_one_carrying_an_error_code_is_not(bb: Bound, caf: FilePayload) -> None:
    bb.mac.add_chat([ALICE])
    bb.mac.faults.append(Fault("attachment"))
    with pytest.raises(SenderUnavailable, match=r"Attachment Send Error|Failed to send attachment"):
        await bb.sender.send(item(chat(ALICE), file=caf, audio=True))
    await bb.sender.send(item(chat(ALICE), file=caf, audio=True))  # the Mac recovered
    assert len(bb.mac.received) == 1


@pytest.mark.anyio
async def test_a_send_that_outlasts_our_timeout_is_retryable(caf: FilePayload) -> None:
    with running_mac(FakeMac(password=PASSWORD, imessage={ALICE})) as running:
        slow = bind(running.url, send_timeout=0.5)
        running.mac.add_chat([ALICE])
        running.mac.faults.append(Fault("attachment", hang_after=2.0))
        try:
            sent = item(chat(ALICE), file=caf, audio=True)
            with pytest.raises(SenderUnavailable, match="did not answer"):
                await slow.send(sent)
            # the Mac did take it: what the core asks next finds it
            found = await slow.find_earlier(sent, utcnow() - timedelta(minutes=1), frozenset())
            assert found is not None and found.provider_message_id == running.mac.received[0].guid
        finally:
            await slow.aclose()


@pytest.mark.anyio
async def test_redirects_are_not_followed(caf: FilePayload) -> None:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", "http://elsewhere.example/api/v1/ping?password=leak")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = bind(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        health = await sender.health()
        assert health.status == "CRITICAL" and "redirects are not followed" in (health.problem or "")
        assert "leak" not in (health.problem or "") and len(hits) == 1
    finally:
        await sender.aclose()
        server.shutdown()


def test_the_server_url_is_checked() -> None:
    kind = BlueBubblesKind(BlueBubblesTimeouts())
    for bad, why in [
        ("ftp://mac:1234", "http:// or https://"),
        ("http://user:pw@mac:1234", "user name or password"),
        ("http://mac:1234/?password=x", "query"),
        ("", "needs the server's URL"),
    ]:
        with pytest.raises(SenderConfigError, match=why):
            kind.check_config({"url": bad}, PASSWORD)
    assert kind.check_config({"url": "http://10.0.0.5:1234/"}, PASSWORD) == {
        "url": "http://10.0.0.5:1234",
        "send_sms": True,
    }


@pytest.mark.anyio
async def test_receipts_from_webhooks_and_polls(bb: Bound, caf: FilePayload) -> None:
    bb.mac.add_chat([ALICE])
    accepted = await bb.sender.send(item(chat(ALICE), file=caf, audio=True))
    guid = accepted.provider_message_id
    bb.mac.deliver(guid)
    bb.mac.read(guid)
    kinds = [e.kind for e in await bb.sender.poll(guid, chat(ALICE))]
    assert kinds == [ReceiptKind.DELIVERED, ReceiptKind.READ]
    payload = {"type": "updated-message", "data": bb.mac.message_json(bb.mac.messages[guid], notification=True)}
    assert [e.kind for e in bb.sender.parse_event(json.dumps(payload).encode())] == kinds
    bb.mac.fail(guid, 4)
    failed = {"type": "message-send-error", "data": bb.mac.message_json(bb.mac.messages[guid], notification=True)}
    (event, *_rest) = bb.sender.parse_event(json.dumps(failed).encode())
    assert (event.kind, event.reason) == (ReceiptKind.FAILED, "the Mac reported error 4 (the send timed out)")
    assert bb.sender.parse_event(b'{"type": "typing-indicator", "data": {"display": true}}') == []
    for junk in (b"not json", b"[]", b'{"data": {}}'):
        with pytest.raises(ValueError, match=r"JSON|type"):
            bb.sender.parse_event(junk)
    assert await bb.sender.poll("no-such-guid", chat(ALICE)) == []


@pytest.mark.anyio
async def test_subscribe_replaces_our_earlier_webhook_and_keeps_others(bb: Bound) -> None:
    bb.mac.add_webhook("http://someone-else/hook", ["*"])
    prefix = "http://us/hooks/lines/line-1/"
    assert await bb.sender.subscribe(prefix, prefix + "token-one")
    assert await bb.sender.subscribe(prefix, prefix + "token-two")
    assert sorted(h["url"] for h in bb.mac.webhooks) == ["http://someone-else/hook", prefix + "token-two"]
    assert bb.mac.webhooks[-1]["events"] == ["new-message", "updated-message", "message-send-error"]
    await bb.sender.subscribe(prefix, None)
    assert [h["url"] for h in bb.mac.webhooks] == ["http://someone-else/hook"]


@pytest.mark.anyio
async def test_http_logs_never_show_the_password(bb: Bound, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="httpx"):  # quiet below WARNING in production (logs.py)
        await bb.sender.health()
        await bb.sender.lookup(ALICE)
    assert "password=***" in caplog.text  # httpx logs each request's URL, query string and all
    assert "s3cret" not in caplog.text  # (the password, URL-encoded or not)
