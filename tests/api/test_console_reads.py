"""The console's read models over data made through the real API: chats with handle search, a chat's
conversation with memo details and status ticks, lines, waveforms (also lazily for old attachments),
and tenant isolation."""

from __future__ import annotations

import pytest
from apiserver import Server, Tenant
from consoles import wait_status, with_container
from helpers import new_chat, new_handle, upload_file
from sqlalchemy import update

from audiogen import Made
from voicememo.container import Container
from voicememo.errors import AttachmentNotFound, ChatNotFound, InvalidParameter
from voicememo.storage.tables import AttachmentRow


def send_memo(tenant: Tenant, chat_id: str, made: Made, content_type: str) -> tuple[str, str]:
    memo = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, made.path, content_type)
    ).voice_memo
    return memo.id, memo.voice_memo.id


def test_chats_are_searched_by_handle_fragment_and_paged(server: Server, tenant: Tenant) -> None:
    ids = [new_chat(tenant.client, tenant.line, f"+1777{n:03d}42{n % 10}0") for n in range(3)]
    mail = new_chat(tenant.client, tenant.line, "Someone.Odd@Example.org")

    async def go(c: Container) -> None:
        pid = tenant.partner.partner.id
        page = await c.console.chats(pid, limit=2)
        assert [s.chat.id for s in page.chats] == [mail, ids[2]] and page.next_cursor
        rest = await c.console.chats(pid, limit=2, cursor=page.next_cursor)
        assert [s.chat.id for s in rest.chats] == [ids[1], ids[0]]
        assert rest.next_cursor is None or (await c.console.chats(pid, cursor=rest.next_cursor)).chats == ()
        found = await c.console.chats(pid, query="7770014")
        assert [s.chat.id for s in found.chats] == [ids[1]]
        assert [s.chat.id for s in (await c.console.chats(pid, query="odd@example")).chats] == [mail]
        assert (await c.console.chats(pid, query="%")).chats == ()  # taken literally, not as a wildcard
        summary = found.chats[0]
        assert summary.message_count == 1 and summary.last_status in ("queued", "sent", "delivered", "read")
        assert summary.last_message_at is not None
        with pytest.raises(InvalidParameter):
            await c.console.chats(pid, cursor="garbage")

    with_container(server, go)


def test_a_conversation_shows_memo_details_and_status_ticks(
    server: Server, tenant: Tenant, corpus: dict[str, Made]
) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    memo_id, attachment_id = send_memo(tenant, chat_id, corpus["mp3-xing"], "audio/mpeg")
    wait_status(tenant.client, memo_id, {"read"})
    sms_chat = new_chat(tenant.client, tenant.line, new_handle(last_digit=9))
    sms_id, _ = send_memo(tenant, sms_chat, corpus["wav-s16"], "audio/wav")
    failing = new_chat(tenant.client, tenant.line, "+19990000002")
    failed_id, _ = send_memo(tenant, failing, corpus["wav-u8"], "audio/wav")
    wait_status(tenant.client, sms_id, {"delivered", "read"})
    wait_status(tenant.client, failed_id, {"failed"})

    async def go(c: Container) -> None:
        pid = tenant.partner.partner.id
        convo = await c.console.conversation(pid, chat_id)
        assert [m.kind for m in convo.messages] == ["message", "voice_memo"]  # newest last
        memo = convo.messages[-1]
        assert memo.id == memo_id and memo.status == "read"
        assert [s.status for s in memo.steps] == ["queued", "sent", "delivered", "read"]
        times = [s.at for s in memo.steps]
        assert all(times) and times == sorted(times)  # type: ignore[type-var]
        bubble = memo.parts[0].memo
        assert bubble is not None and bubble.attachment_id == attachment_id
        assert bubble.duration_ms == 3000 and bubble.mime_type == "audio/mpeg"
        assert bubble.peaks is not None and len(bubble.peaks) == 96 and max(bubble.peaks) > 30
        assert bubble.rendition is not None and bubble.rendition.mime_type == "audio/x-caf"
        assert bubble.rendition.profile.startswith("imessage-opus") and bubble.fallback is None
        assert [(s.provider, s.state) for s in memo.sends] == [("sandbox", "accepted")]

        sms = (await c.console.conversation(pid, sms_chat)).messages[-1]
        sms_bubble = sms.parts[0].memo
        assert sms_bubble is not None and sms_bubble.fallback == "SMS"
        assert sms_bubble.rendition is not None and sms_bubble.rendition.profile.startswith("mms")

        failed = (await c.console.conversation(pid, failing)).messages[-1]
        last = failed.steps[-1]
        assert (last.status, last.code) == ("failed", 4001) and last.reason and "not reachable" in last.reason

        older = await c.console.conversation(pid, chat_id, limit=1)
        assert [m.id for m in older.messages] == [memo_id] and older.older_cursor
        first = await c.console.conversation(pid, chat_id, limit=1, before=older.older_cursor)
        assert [m.kind for m in first.messages] == ["message"]

    with_container(server, go)


def test_lines_report_sender_kind_and_health(server: Server, tenant: Tenant) -> None:
    async def go(c: Container) -> None:
        pid = tenant.partner.partner.id
        checked = await c.console.line_views(pid, check=True)
        assert [(v.line.phone_number, v.sender_kind, v.health_status) for v in checked] == [
            (tenant.line, "sandbox", "HEALTHY")
        ]
        assert checked[0].details["receipts"] in ("not needed", "registered") and checked[0].checked_at
        stored = await c.console.line_views(pid)
        assert stored[0].health_status == "HEALTHY" and stored[0].details["receipts"] == checked[0].details["receipts"]

    with_container(server, go)


def test_waveform_of_an_attachment_stored_before_peaks_is_computed_once_and_saved(
    server: Server, tenant: Tenant, corpus: dict[str, Made]
) -> None:
    attachment_id = upload_file(tenant.client, corpus["m4a-moov-last"].path, "audio/mp4")

    async def go(c: Container) -> None:
        pid = tenant.partner.partner.id
        measured = await c.waveforms.waveform(pid, attachment_id)
        async with c.ctx.db.write() as s:  # as a row written before migration 0007 looks
            await s.execute(update(AttachmentRow).where(AttachmentRow.id == attachment_id).values(peaks=None))
        again = await c.waveforms.waveform(pid, attachment_id)
        assert again == measured and max(again.values) > 30
        async with c.ctx.db.read() as s:
            row = await s.get(AttachmentRow, attachment_id)
            assert row is not None and row.peaks == measured.encode()
        svg = await c.waveforms.svg(pid, attachment_id)
        assert "<title>Voice memo waveform, 0:03</title>" in svg

    with_container(server, go)


def test_another_partner_reads_nothing_of_a_chat_or_its_audio(
    server: Server, tenant: Tenant, other_tenant: Tenant, corpus: dict[str, Made]
) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    _, attachment_id = send_memo(tenant, chat_id, corpus["wav-s16"], "audio/wav")

    async def go(c: Container) -> None:
        intruder = other_tenant.partner.partner.id
        with pytest.raises(ChatNotFound):
            await c.console.conversation(intruder, chat_id)
        assert chat_id not in [s.chat.id for s in (await c.console.chats(intruder)).chats]
        with pytest.raises(AttachmentNotFound):
            await c.waveforms.waveform(intruder, attachment_id)
        assert [v.line.phone_number for v in await c.console.line_views(intruder)] == [other_tenant.line]

    with_container(server, go)
