"""The server SIGKILLed at each step of a request that carries an Idempotency-Key, then restarted.

Whatever step it dies at (claimed but nothing committed; effect committed but the answer not
stored; answer stored but not sent), the client's retry with the same key gets the 2xx with the
same id, and exactly one memo (or attachment, or chat) exists. No ghost, no key stuck in flight.
"""

from __future__ import annotations

import json
from pathlib import Path

import linq
import pytest
from serving import client, died, serving
from test_cli_and_serve import cli, free_port

from api.helpers import new_chat, new_handle, upload_file
from audiogen import Made

POINTS = ["idempotency.claimed", "idempotency.before_store", "idempotency.stored"]


@pytest.mark.parametrize("point", POINTS)
def test_a_voice_memo_retried_after_a_crash_at_each_step_is_sent_once(
    tmp_path: Path, corpus: dict[str, Made], point: str
) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550300001", "--json").stdout)
    key, port = made["api_key"], free_port()
    with serving(data, port):
        api = client(port, key)
        chat_id = new_chat(api, made["line"])
        attachment_id = upload_file(api, corpus["wav-s16"].path, "audio/wav")
    headers = {"Idempotency-Key": f"memo-{point}"}

    def send() -> linq.types.ChatSendVoicememoResponse:
        return client(port, key).chats.send_voicememo(chat_id, attachment_id=attachment_id, extra_headers=headers)

    with serving(data, port, failpoints=point) as proc:
        died(proc, send)
    with serving(data, port):
        first = client(port, key).chats.with_raw_response.send_voicememo(
            chat_id, attachment_id=attachment_id, extra_headers=headers
        )
        again = send()
        memos = [m for m in client(port, key).chats.messages.list(chat_id) if m.parts and m.parts[0].type == "media"]
    assert first.status_code == 202
    assert first.parse().voice_memo.id == again.voice_memo.id
    assert [m.id for m in memos] == [again.voice_memo.id], "exactly one memo, whatever the step of the crash"
    replayed = first.headers.get("idempotent-replayed") == "true"
    assert replayed is (point != "idempotency.claimed"), "a committed memo is answered, never sent again"


def test_attachment_and_chat_creation_retried_after_a_crash_before_the_answer_was_stored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = json.loads(cli(data, "partners", "create", "Acme", "--line", "+15550300002", "--json").stdout)
    key, port = made["api_key"], free_port()
    to = new_handle()
    slot_headers, chat_headers = {"Idempotency-Key": "slot-1"}, {"Idempotency-Key": "chat-1"}

    def make_slot() -> linq.types.AttachmentCreateResponse:
        return client(port, key).attachments.create(
            filename="a.wav", content_type="audio/wav", size_bytes=1000, extra_headers=slot_headers
        )

    def make_chat() -> linq.types.ChatCreateResponse:
        return client(port, key).chats.create(
            from_=made["line"],
            to=[to],
            message={"parts": [{"type": "text", "value": "hi"}]},
            extra_headers=chat_headers,
        )

    for call in (make_slot, make_chat):
        with serving(data, port, failpoints="idempotency.before_store") as proc:
            died(proc, call)
    with serving(data, port):
        slot, slot_again = make_slot(), make_slot()
        chat, chat_again = make_chat(), make_chat()
        chats = client(port, key).chats.list_chats().chats
        messages = list(client(port, key).chats.messages.list(chat.chat.id))
    assert slot.attachment_id == slot_again.attachment_id
    assert slot.expires_at == slot_again.expires_at and slot.upload_url == slot_again.upload_url
    assert chat.chat.id == chat_again.chat.id and chat.chat.message.id == chat_again.chat.message.id
    assert [c.id for c in chats] == [chat.chat.id] and [m.id for m in messages] == [chat.chat.message.id]
