"""End to end with the official SDK: a partner whose line is a Mac running BlueBubbles (the fake).

Memos by URL and by attachment to a 1:1 iMessage chat, a group and an SMS handle reach the fake
as the right calls and files; receipts the fake pushes move the status and fire our signed
webhooks; a lost push is recovered by polling; and every failure path ends where a user can
see it: wrong password, Private API off, a Mac that is away and comes back, a 500, a send
that outlasts our timeout, and a send error reported later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx
import linq
import pytest
from apiserver import FAST_DELIVERY, Server, running_server
from helpers import upload_file
from sqlalchemy import select

from audiogen import Made
from fakebb import FakeMac, Fault, RunningMac, running_mac
from origin import Origin
from receiver import Receiver, webhook_receiver
from voicememo.audio.caf import read_caf
from voicememo.container import Container
from voicememo.services.lines import LineReport
from voicememo.storage.tables import JobRow

PASSWORD = "correct horse battery staple"
SECRET_WORD = "battery"  # a part of the password that URL-encoding leaves as it is
EVENTS = ["message.sent", "message.delivered", "message.read", "message.failed", "chat.created"]
_numbers = count(1)


@pytest.fixture(scope="module")
def bb_server(tmp_path_factory: pytest.TempPathFactory, origin: Origin) -> Iterator[Server]:
    """Short BlueBubbles timeouts and a quick reconciliation poll, so the failure paths take seconds."""
    with running_server(
        tmp_path_factory.mktemp("bb-server"),
        fetch_allow_private_networks=True,
        fetch_ca_bundle=origin.ca_file,
        bluebubbles_timeout=2.0,
        bluebubbles_send_timeout=1.5,
        reconcile_after_seconds=0.5,
        line_health_interval_seconds=0.5,
        **FAST_DELIVERY,
    ) as s:
        yield s


@dataclass
class MacLine:
    client: linq.LinqAPIV3
    number: str
    partner_id: str
    mac: FakeMac
    running: RunningMac
    report: LineReport
    server: Server

    def handle(self, *, imessage: bool = True) -> str:
        handle = f"+1777{next(_numbers):07d}"
        if imessage:
            self.mac.imessage.add(handle)
        return handle


def add_line(server: Server, partner_id: str, number: str, url: str, password: str) -> LineReport:
    async def go() -> LineReport:
        container = Container(server.settings)  # as `voicememo lines add` does, from its own process
        try:
            return await container.lines.add(partner_id, number, "bluebubbles", {"url": url}, password)
        finally:
            await container.aclose()

    return asyncio.run(go())


@pytest.fixture
def mac_line(bb_server: Server) -> Iterator[MacLine]:
    mac = FakeMac(password=PASSWORD, auto_deliver=0.1, auto_read=0.2)
    with running_mac(mac) as running:
        made = bb_server.new_partner()
        number = f"+1555{next(_numbers):06d}2"
        report = add_line(bb_server, made.partner.id, number, running.url, PASSWORD)
        client = bb_server.client(made.api_key.secret)
        yield MacLine(client, number, made.partner.id, mac, running, report, bb_server)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def subscribe(line: MacLine, receiver: Receiver) -> str:
    return line.client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=EVENTS).signing_secret


def event_for(kind: str, message_id: str) -> Callable[[dict[str, Any]], bool]:
    def match(e: dict[str, Any]) -> bool:
        data = e["data"]
        return bool(e["event_type"] == kind and (data.get("id") == message_id or data.get("message_id") == message_id))

    return match


def new_chat(line: MacLine, *handles: str) -> str:
    return line.client.chats.create(
        from_=line.number, to=list(handles), message={"parts": [{"type": "text", "value": "hi from voicememo"}]}
    ).chat.id


def send_memo(line: MacLine, chat_id: str, made: Made, content_type: str) -> Any:
    """A memo by pre-upload, as the docs tell a client to send one."""
    return line.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(line.client, made.path, content_type)
    ).voice_memo


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for a condition on state we cannot subscribe to (a job's retry), checking every 50 ms."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def deliver_job_error(server: Server, message_id: str) -> str | None:
    async def go() -> str | None:
        container = Container(server.settings)
        try:
            async with container.ctx.db.read() as s:
                rows = await s.scalars(select(JobRow).where(JobRow.kind == "deliver"))
                return next((r.last_error for r in rows if r.payload.get("message_id") == message_id), None)
        finally:
            await container.aclose()

    return asyncio.run(go())


def test_adding_the_line_checks_the_mac_and_registers_for_receipts(mac_line: MacLine) -> None:
    report = mac_line.report
    assert (report.health.status, report.receipts) == ("HEALTHY", "registered")
    assert report.health.details["os_version"] == "14.6" and report.health.details["private_api"] is True
    (hook,) = mac_line.mac.webhooks
    assert hook["url"].startswith(f"{mac_line.server.base_url}/hooks/lines/{report.line.id}/")
    assert hook["events"] == ["new-message", "updated-message", "message-send-error"]
    numbers = {p.phone_number: p for p in mac_line.client.phone_numbers.list().phone_numbers}
    assert numbers[mac_line.number].reputation.status == "HEALTHY"
    raw = httpx.get(
        f"{mac_line.server.base_url}/v3/phone_numbers", headers={"Authorization": f"Bearer {mac_line.client.api_key}"}
    ).json()
    line = next(p for p in raw["phone_numbers"] if p["phone_number"] == mac_line.number)
    assert line["health_status"]["status"] == "HEALTHY" and line["health_status"]["updated_at"]


def test_memos_by_attachment_and_url_arrive_as_bubbles_and_end_read(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made], origin: Origin
) -> None:
    secret = subscribe(mac_line, receiver)
    alice = mac_line.handle()
    chat_id = new_chat(mac_line, alice)
    by_upload = send_memo(mac_line, chat_id, corpus["mp3-xing"], "audio/mpeg")
    url = origin.add(f"bb-{alice}.m4a", corpus["m4a-moov-first"].path.read_bytes(), "audio/x-m4a")
    by_url = mac_line.client.chats.send_voicememo(chat_id, voice_memo_url=url).voice_memo
    assert by_upload.service == by_url.service == "iMessage"
    for memo in (by_upload, by_url):
        seen = receiver.wait_for(event_for("message.read", memo.id))
        for delivery in seen:
            mac_line.client.webhooks.unwrap(delivery.body, headers=delivery.headers, key=secret)  # signed
        message = mac_line.client.messages.retrieve(memo.id)
        assert (message.delivery_status, message.is_delivered, message.is_read) == ("read", True, True)
        assert message.sent_at and message.delivered_at and message.read_at
        assert message.sent_at <= message.delivered_at <= message.read_at
    # the chat's first text created the chat on the Mac; both memos went to it as bubbles, once each
    assert [t["message"] for t in mac_line.mac.texts] == [] and len(mac_line.mac.chats) == 1
    received = mac_line.mac.received
    assert len(received) == 2
    for got, memo in zip(received, (by_upload, by_url), strict=True):
        assert got.fields["chatGuid"] == f"iMessage;-;{alice}"
        assert (got.fields["method"], got.fields["isAudioMessage"], got.fields["name"]) == (
            "private-api",
            "true",
            "Audio Message.caf",
        )
        assert got.fields["tempGuid"] == memo.id
        info = read_caf(got.data)
        assert (info.format_id, info.sample_rate, info.channels, info.frames_per_packet) == (b"opus", 24000.0, 1, 480)
        assert info.valid_frames == memo.voice_memo.duration_ms * 24  # the exact length, in the pakt chunk
        assert mac_line.mac.messages[got.guid]["isAudioMessage"] is True


def test_a_group_is_created_on_the_mac_and_its_memo_ends_delivered(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    people = [mac_line.handle() for _ in range(3)]
    chat_id = new_chat(mac_line, *people)
    memo = send_memo(mac_line, chat_id, corpus["wav-s16"], "audio/wav")
    receiver.wait_for(event_for("message.delivered", memo.id))
    (group,) = mac_line.mac.chats.values()
    assert group["style"] == 43 and {p["address"] for p in group["participants"]} == set(people)
    assert mac_line.mac.received[0].fields["chatGuid"] == group["guid"]
    # BlueBubbles reports no read receipts for groups: a group memo stays delivered
    assert mac_line.client.messages.retrieve(memo.id).delivery_status == "delivered"


def test_an_sms_handle_gets_the_carrier_rendition_as_a_plain_attachment(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    sms = mac_line.handle(imessage=False)
    chat_id = new_chat(mac_line, sms)
    memo = send_memo(mac_line, chat_id, corpus["wav-s16"], "audio/wav")
    assert memo.service == "SMS"
    receiver.wait_for(event_for("message.delivered", memo.id))
    (got,) = mac_line.mac.received
    assert got.fields["chatGuid"] == f"SMS;-;{sms}" and "isAudioMessage" not in got.fields
    assert got.fields["name"] in ("Voice Memo.m4a", "Voice Memo.amr") or got.fields["name"].endswith((".m4a", ".amr"))
    assert len(got.data) <= 600_000 and mac_line.mac.messages[got.guid]["isAudioMessage"] is False


def test_a_lost_receipt_is_recovered_by_polling(mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.drop_webhooks = True  # BlueBubbles posts each event once; these never arrive
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    receiver.wait_for(event_for("message.read", memo.id))
    assert any(r.startswith("GET /api/v1/message/") for r in mac_line.mac.requests)  # found by the poll


def test_a_changed_password_fails_the_memo_at_once_with_the_reason(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.password = "changed on the Mac"
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    failed = receiver.wait_for(event_for("message.failed", memo.id))[-1].event["data"]
    assert failed["code"] == 4001 and "refused the password" in failed["reason"]
    assert SECRET_WORD not in failed["reason"]
    assert mac_line.mac.received == []
    assert deliver_job_error(mac_line.server, memo.id) is None  # settled at once, never a retry


def test_private_api_off_fails_the_memo_with_how_to_fix_it_and_sends_nothing(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.private_api = False
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    failed = receiver.wait_for(event_for("message.failed", memo.id))[-1].event["data"]
    assert "Private API is off" in failed["reason"] and "Settings → Private API" in failed["reason"]
    assert mac_line.mac.received == [] and "POST /api/v1/message/attachment" not in mac_line.mac.requests


def test_a_mac_that_is_away_then_back_gets_the_memo_once(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    receiver.wait_for(lambda e: e["event_type"] == "message.read")  # the chat's first text is through
    port = int(mac_line.running.url.rsplit(":", 1)[1])
    mac_line.running.stop()  # the Mac is off: its port refuses connections
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    eventually(lambda: "Cannot reach the BlueBubbles server" in (deliver_job_error(mac_line.server, memo.id) or ""))
    assert SECRET_WORD not in (deliver_job_error(mac_line.server, memo.id) or "")
    with running_mac(mac_line.mac, port=port):  # back, same address
        receiver.wait_for(event_for("message.delivered", memo.id))
    assert len(mac_line.mac.received) == 1


def test_a_500_then_success_delivers_once(mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.faults.append(Fault("attachment"))
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    receiver.wait_for(event_for("message.delivered", memo.id))
    assert len(mac_line.mac.received) == 1
    assert mac_line.mac.requests.count("POST /api/v1/message/attachment") == 2


def test_a_send_that_outlasts_our_timeout_is_found_not_repeated(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.faults.append(Fault("attachment", hang_after=4.0))  # the Mac has it; the answer is late
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    receiver.wait_for(event_for("message.delivered", memo.id))
    assert len(mac_line.mac.received) == 1  # the re-run asked the Mac and found it
    assert mac_line.mac.requests.count("POST /api/v1/message/attachment") == 1


def test_a_send_error_reported_later_fails_the_memo(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.auto_deliver = mac_line.mac.auto_read = None
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    receiver.wait_for(event_for("message.sent", memo.id))
    mac_line.mac.fail(mac_line.mac.received[0].guid, 4)
    failed = receiver.wait_for(event_for("message.failed", memo.id))[-1].event["data"]
    assert failed["code"] == 4001 and "error 4" in failed["reason"]


def test_capability_checks_answer_through_the_line(mac_line: MacLine) -> None:
    alice, sms = mac_line.handle(), mac_line.handle(imessage=False)
    yes = mac_line.client.capability.check_i_message(address=alice, from_=mac_line.number)
    assert (yes.address, yes.available, yes.reason, yes.selected_service) == (alice, True, None, "iMessage")
    no = mac_line.client.capability.check_i_message(address=sms, from_=mac_line.number)
    assert (no.available, no.reason, no.selected_service) == (False, "not_supported", "SMS")
    rcs = mac_line.client.capability.check_RCS(address=sms, from_=mac_line.number)
    assert (rcs.available, rcs.reason, rcs.selected_service) == (False, "not_supported", "SMS")
    with pytest.raises(linq.BadRequestError) as email:
        mac_line.client.capability.check_RCS(address="friend@example.com", from_=mac_line.number)
    assert "RCS has no e-mail addressing" in str(email.value.body)
    lookups = mac_line.mac.requests.count("GET /api/v1/handle/availability/imessage")
    mac_line.client.capability.check_i_message(address=alice, from_=mac_line.number)
    assert mac_line.mac.requests.count("GET /api/v1/handle/availability/imessage") == lookups  # cached


def test_chat_creation_with_the_mac_away_is_a_clear_503_and_creates_nothing(mac_line: MacLine) -> None:
    mac_line.mac.password = "changed on the Mac"
    with pytest.raises(linq.APIStatusError) as refused:
        new_chat(mac_line, mac_line.handle())
    assert (refused.value.status_code, refused.value.code) == (503, 4010)  # type: ignore[attr-defined]
    assert "refused the password" in refused.value.body["message"]  # type: ignore[index]
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert mac_line.client.chats.list_chats().chats == []


def test_the_callback_refuses_wrong_tokens_and_junk(mac_line: MacLine) -> None:
    base = f"{mac_line.server.base_url}/hooks/lines/{mac_line.report.line.id}"
    assert httpx.post(f"{base}/wrong-token", json={"type": "new-message", "data": {}}).status_code == 404
    assert httpx.post(f"{mac_line.server.base_url}/hooks/lines/nope/x", content=b"{}").status_code == 404
    (hook,) = mac_line.mac.webhooks
    assert httpx.post(hook["url"], content=b"not json").status_code == 400
    assert httpx.post(hook["url"], content=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert httpx.post(hook["url"], json={"type": "typing-indicator", "data": {"display": True}}).json() == {
        "status": "ok",
        "receipts": 0,
    }


def test_the_periodic_check_shows_a_broken_mac_on_phone_numbers_and_healthz(mac_line: MacLine) -> None:
    def reputation() -> str:
        numbers = mac_line.client.phone_numbers.list().phone_numbers
        return next(p.reputation.status for p in numbers if p.phone_number == mac_line.number)

    mac_line.mac.helper_connected = False
    eventually(lambda: reputation() == "CRITICAL")
    problems = httpx.get(f"{mac_line.server.base_url}/healthz").json()["line_problems"]
    mine = next(p for p in problems if p["line_id"] == mac_line.report.line.id)
    assert mine["status"] == "CRITICAL" and "helper is not connected" in mine["problem"]
    assert SECRET_WORD not in str(problems)
    mac_line.mac.helper_connected = True
    eventually(lambda: reputation() == "HEALTHY")


def test_a_memo_the_mac_sent_without_the_audio_flag_is_failed_not_passed_off(
    mac_line: MacLine, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    subscribe(mac_line, receiver)
    chat_id = new_chat(mac_line, mac_line.handle())
    mac_line.mac.drops_audio_flag = True
    memo = send_memo(mac_line, chat_id, corpus["wav-u8"], "audio/wav")
    failed = receiver.wait_for(event_for("message.failed", memo.id))[-1].event["data"]
    assert failed["code"] == 4001 and "not as a voice-memo bubble" in failed["reason"]
    assert len(mac_line.mac.received) == 1  # it did reach the Mac, once; it is just not a bubble
    assert mac_line.client.messages.retrieve(memo.id).delivery_status == "failed"
