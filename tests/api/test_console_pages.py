"""The console's pages over real HTTP (both databases): sign-in gates, another partner's data stays
invisible, a memo sent from a file shows up in the live fragment, nothing is loaded from elsewhere."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from apiserver import Server, Tenant
from helpers import new_chat
from test_console_session import console, csrf_of, sign_in

from audiogen import Made

PAGES = ["/console/chats", "/console/webhooks", "/console/lines", "/console/chats/x", "/console/chats/x/updates"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_stranger_to_the_sign_in(server: Server, path: str) -> None:
    with console(server) as client:
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/console/sign-in?next={path}"


def test_another_partners_chat_and_audio_are_not_found(
    server: Server, tenant: Tenant, other_tenant: Tenant, corpus: dict[str, Made]
) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    sent = tenant.client.chats.send_voicememo(chat_id, attachment_id=_upload(tenant, corpus["wav-s16"]))
    attachment_id = sent.voice_memo.voice_memo.id
    with console(server) as client:
        sign_in(client, other_tenant.partner.api_key.secret)
        for path in (
            f"/console/chats/{chat_id}",
            f"/console/chats/{chat_id}/updates",
            f"/console/audio/{attachment_id}/original.ogg",
        ):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert answer.headers["content-type"].startswith("text/html")
            assert "not found" in answer.text.lower() and "Traceback" not in answer.text
    with console(server) as client:
        sign_in(client, tenant.partner.api_key.secret)
        preview = client.get(f"/console/audio/{attachment_id}/original.ogg")
        assert preview.status_code == 200 and preview.headers["content-type"].startswith("audio/ogg")
        assert preview.content[:4] == b"OggS"


def test_a_memo_sent_from_the_console_appears_in_the_live_fragment(
    server: Server, tenant: Tenant, corpus: dict[str, Made]
) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    with console(server) as client:
        sign_in(client, tenant.partner.api_key.secret)
        page = client.get(f"/console/chats/{chat_id}")
        made = corpus["mp3-xing"]
        with made.path.open("rb") as fh:
            answer = client.post(
                "/console/send",
                data={"csrf": csrf_of(page), "chat_id": chat_id},
                files={"file": ("memo.mp3", fh, "audio/mpeg")},
            )
        assert answer.status_code == 303, answer.text
        message_id = answer.headers["location"].rsplit("#m-", 1)[1]
        assert answer.headers["location"].startswith(f"/console/chats/{chat_id}#m-")
        updates = client.get(f"/console/chats/{chat_id}/updates").json()["messages"]
        mine = next(m for m in updates if m["id"] == message_id)
        assert "Play voice memo, 0:03" in mine["bubble"]
        assert mine["state"].startswith("queued@")
        assert 'data-step="queued"' in mine["ticks"]
    # the API sees the same message
    assert tenant.client.messages.retrieve(message_id).id == message_id


def test_the_operator_view_is_off_without_an_admin_token(server: Server, tenant: Tenant) -> None:
    assert server.settings.admin_token is None
    with console(server) as client:
        sign_in(client, tenant.partner.api_key.secret)
        answer = client.get("/console/operator")
        assert answer.status_code == 404 and "VOICEMEMO_ADMIN_TOKEN" in answer.text


def test_nothing_is_fetched_from_elsewhere(server: Server, tenant: Tenant) -> None:
    with console(server) as client:
        sign_in(client, tenant.partner.api_key.secret)
        page = client.get("/console/chats")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith(("/console", "#")) for a in assets), assets
        for asset in ("/console/static/console.css", "/console/static/console.js"):
            served = client.get(asset)
            assert served.status_code == 200 and "http://" not in served.text and "https://" not in served.text


def _upload(tenant: Tenant, made: Made) -> str:
    slot = tenant.client.attachments.create(
        filename=made.path.name, content_type="audio/wav", size_bytes=made.path.stat().st_size
    )
    response = httpx.put(slot.upload_url, content=made.path.read_bytes(), headers=slot.required_headers)
    assert response.status_code == 200, response.text
    return slot.attachment_id


def test_a_failed_memo_shows_its_code_and_reason_in_the_ticks(
    server: Server, tenant: Tenant, corpus: dict[str, Made]
) -> None:
    chat_id = new_chat(tenant.client, tenant.line, "+19990000002")  # the sandbox fails these (FAST_DELIVERY)
    memo = tenant.client.chats.send_voicememo(chat_id, attachment_id=_upload(tenant, corpus["wav-u8"])).voice_memo
    with console(server) as client:
        sign_in(client, tenant.partner.api_key.secret)
        ticks = _eventually(
            lambda: next(
                m for m in client.get(f"/console/chats/{chat_id}/updates").json()["messages"] if m["id"] == memo.id
            ),
            lambda m: "failed" in m["state"],
        )["ticks"]
    assert "<strong>failed</strong>" in ticks and "code 4001" in ticks and "not reachable" in ticks
    assert 'data-step="queued"' in ticks


def _eventually(read, ok, seconds: float = 20.0):  # type: ignore[no-untyped-def]
    """Read until ``ok(value)``, with a deadline (the work is the server's workers')."""
    end = time.monotonic() + seconds
    while True:
        value = read()
        if ok(value):
            return value
        assert time.monotonic() < end, value
        time.sleep(0.1)
