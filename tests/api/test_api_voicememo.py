"""POST /v3/chats/{id}/voicememo through the official SDK: by upload, by URL, and every refusal."""

from __future__ import annotations

from pathlib import Path

import httpx
import linq
import pytest
from apiserver import Server, Tenant
from helpers import new_chat, new_handle, upload, upload_file

from audiogen import Made, remux
from origin import Origin
from voicememo.audio.probe import probe_file

MIME = {
    "mp3-xing": "audio/mpeg",
    "mp3-vbr-noxing": "audio/mpeg",
    "m4a-moov-last": "audio/x-m4a",
    "m4a-moov-first": "audio/mp4",
    "adts": "audio/aac",
    "caf-pcm": "audio/x-caf",
    "wav-s16": "audio/wav",
    "aifc": "audio/aiff",
    "amr-nb-dtx": "audio/amr",
}
CANONICAL = {"audio/mp4": "audio/x-m4a"}


@pytest.mark.parametrize("name", sorted(MIME))
def test_send_by_attachment_every_format(tenant: Tenant, corpus: dict[str, Made], name: str) -> None:
    made = corpus[name]
    chat_id = new_chat(tenant.client, tenant.line)
    attachment_id = upload_file(tenant.client, made.path, MIME[name])
    sent = tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id).voice_memo
    assert sent.status == "queued"
    assert sent.voice_memo.id == attachment_id
    assert sent.voice_memo.duration_ms == probe_file(made.path).duration_ms
    assert sent.voice_memo.mime_type == CANONICAL.get(MIME[name], MIME[name])
    assert sent.voice_memo.size_bytes == made.path.stat().st_size
    assert sent.voice_memo.filename == made.path.name
    assert sent.from_ == tenant.line and sent.chat.id == chat_id and sent.chat.is_active


def test_amr_wb_phone_recording(tenant: Tenant, amr_wb_dtx: object) -> None:
    from pathlib import Path

    assert isinstance(amr_wb_dtx, Path)
    chat_id = new_chat(tenant.client, tenant.line)
    sent = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, amr_wb_dtx, "audio/amr")
    ).voice_memo
    assert sent.voice_memo.duration_ms == 8580


def test_mms_3gp_memo_declared_as_3gpp_or_mp4(tenant: Tenant, corpus: dict[str, Made], tmp_path: Path) -> None:
    """AMR in 3GP (an MMS or Android recording): reported as AMR, measured with its DTX frames."""
    path = remux(corpus["amr-nb-dtx"].path, tmp_path / "mms.3gp", "3gp")
    for declared in ("audio/3gpp", "audio/mp4"):
        chat_id = new_chat(tenant.client, tenant.line)
        sent = tenant.client.chats.send_voicememo(
            chat_id, attachment_id=upload_file(tenant.client, path, declared)
        ).voice_memo
        assert (sent.voice_memo.mime_type, sent.voice_memo.duration_ms) == ("audio/amr", 9020)


def test_memo_reads_back_as_a_media_part_and_downloads(tenant: Tenant, corpus: dict[str, Made]) -> None:
    data = corpus["m4a-moov-first"].path.read_bytes()
    chat_id = new_chat(tenant.client, tenant.line)
    attachment_id = upload(tenant.client, data, "Voice 001.m4a", "audio/x-m4a")
    sent = tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id).voice_memo

    message = tenant.client.messages.retrieve(sent.id)
    assert (message.delivery_status, message.chat_id, message.from_) == ("queued", chat_id, tenant.line)
    assert message.parts is not None and len(message.parts) == 1
    part = message.parts[0]
    assert isinstance(part, linq.types.shared.MediaPartResponse)
    assert (part.id, part.filename, part.mime_type, part.size_bytes) == (
        attachment_id,
        "Voice 001.m4a",
        "audio/x-m4a",
        len(data),
    )
    listed = list(tenant.client.chats.messages.list(chat_id))
    assert next(m.id for m in listed) == sent.id  # newest first, after the chat's first text message

    got = httpx.get(part.url)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "audio/x-m4a"
    assert got.headers["content-length"] == str(len(data))
    etag = got.headers["etag"]
    assert httpx.get(part.url, headers={"If-None-Match": etag}).status_code == 304
    ranged = httpx.get(part.url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"


def test_send_by_url_from_local_https_origin(tenant: Tenant, origin: Origin, corpus: dict[str, Made]) -> None:
    made = corpus["mp3-xing"]
    url = origin.add("greeting.mp3", made.path.read_bytes(), "audio/mpeg")
    chat_id = new_chat(tenant.client, tenant.line)
    sent = tenant.client.chats.send_voicememo(chat_id, voice_memo_url=url).voice_memo
    assert (sent.voice_memo.filename, sent.voice_memo.mime_type, sent.voice_memo.duration_ms) == (
        "greeting.mp3",
        "audio/mpeg",
        3000,
    )
    assert httpx.get(sent.voice_memo.url).content == made.path.read_bytes()
    stored = tenant.client.attachments.retrieve(sent.voice_memo.id)
    assert stored.status == "complete"


def test_url_content_type_is_ignored_bytes_decide(tenant: Tenant, origin: Origin, corpus: dict[str, Made]) -> None:
    url = origin.add("lying.png", corpus["wav-s16"].path.read_bytes(), "image/png")
    sent = tenant.client.chats.send_voicememo(new_chat(tenant.client, tenant.line), voice_memo_url=url)
    assert sent.voice_memo.voice_memo.mime_type == "audio/wav"


def status_error(call: object) -> linq.APIStatusError:
    assert callable(call)
    with pytest.raises(linq.APIStatusError) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    ("body", "status", "code", "text"),
    [
        ({}, 400, 1001, "One of voice_memo_url"),
        ({"voice_memo_url": "https://x.example/a.mp3", "attachment_id": "a"}, 400, 1005, "not both"),
        ({"voice_memo_url": "http://example.com/a.mp3"}, 400, 1005, "must be an HTTPS URL"),
        ({"voice_memo_url": "file:///etc/passwd"}, 400, 1005, "must be an HTTPS URL"),
        ({"attachment_id": "00000000-0000-4000-8000-000000000000"}, 404, 2003, "not found"),
    ],
)
def test_request_errors(tenant: Tenant, body: dict[str, str], status: int, code: int, text: str) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, **body))  # type: ignore[arg-type]
    assert (err.status_code, err.code) == (status, code)
    assert text in err.body["message"]  # type: ignore[index]


def test_unknown_chat(tenant: Tenant) -> None:
    err = status_error(lambda: tenant.client.chats.send_voicememo("nope", attachment_id="x"))
    assert (err.status_code, err.code) == (404, 2001)


@pytest.mark.parametrize(
    ("path", "status", "code", "text"),
    [
        ("/status/404", 400, 5002, "answered HTTP 404 Not Found"),
        ("/status/503", 400, 5002, "answered HTTP 503"),
        ("/to-http", 400, 5002, "non-HTTPS"),
        ("/redirect/4/x.mp3", 400, 5002, "redirected more than 3 times"),
        ("/declared-big", 413, 5001, "the limit is 10,485,760 bytes"),
        ("/slow", 400, 5002, "took longer than 3 s"),
    ],
)
def test_url_download_failures(tenant: Tenant, origin: Origin, path: str, status: int, code: int, text: str) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, voice_memo_url=origin.base + path))
    assert (err.status_code, err.code) == (status, code)
    assert text in err.body["message"]  # type: ignore[index]
    assert next(iter(tenant.client.chats.messages.list(chat_id))).parts[0].type == "text"  # type: ignore[index]


def test_url_that_is_not_audio(tenant: Tenant, origin: Origin) -> None:
    url = origin.add("page.mp3", b"<!doctype html><html><body>Sign in</body></html>", "text/html")
    chat_id = new_chat(tenant.client, tenant.line)
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, voice_memo_url=url))
    assert (err.status_code, err.code) == (400, 5004)
    assert "it looks like an HTML page" in err.body["message"]  # type: ignore[index]


def test_strict_server_refuses_loopback_urls(strict_server: Server, origin: Origin) -> None:
    made = strict_server.new_partner()
    client = strict_server.client(made.api_key.secret)
    chat_id = new_chat(client, made.line.phone_number)
    for url in (
        f"{origin.base}/files/x.mp3",
        "https://127.0.0.1/a.mp3",
        "https://2130706433/a.mp3",
        "https://[::ffff:169.254.169.254]/latest/meta-data",
    ):
        err = status_error(lambda url=url: client.chats.send_voicememo(chat_id, voice_memo_url=url))
        assert (err.status_code, err.code) == (400, 5002)
        assert "only public internet addresses are fetched" in err.body["message"]  # type: ignore[index]
    assert origin.requests.count("/files/x.mp3") == 0


def test_pending_failed_and_deleted_attachments(tenant: Tenant, corpus: dict[str, Made]) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    pending = tenant.client.attachments.create(filename="a.mp3", content_type="audio/mpeg", size_bytes=10)
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, attachment_id=pending.attachment_id))
    assert (err.status_code, err.code) == (404, 2007)

    bad = tenant.client.attachments.create(filename="a.mp3", content_type="audio/mpeg", size_bytes=40)
    put = httpx.put(bad.upload_url, content=b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, headers=bad.required_headers)
    assert put.status_code == 400 and put.json()["error"]["code"] == 5004
    assert tenant.client.attachments.retrieve(bad.attachment_id).status == "failed"
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, attachment_id=bad.attachment_id))
    assert (err.status_code, err.code) == (400, 5004)
    assert "PNG image" in err.body["message"]  # type: ignore[index]

    good = upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    tenant.client.attachments.delete(good)
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, attachment_id=good))
    assert (err.status_code, err.code) == (404, 2003)


def test_another_partners_objects_are_plain_404s(tenant: Tenant, other_tenant: Tenant, corpus: dict[str, Made]) -> None:
    mine = upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    my_chat = new_chat(tenant.client, tenant.line)
    sent = tenant.client.chats.send_voicememo(my_chat, attachment_id=mine).voice_memo
    their_chat = new_chat(other_tenant.client, other_tenant.line)
    checks = [
        (lambda: other_tenant.client.chats.send_voicememo(their_chat, attachment_id=mine), 2003),
        (lambda: other_tenant.client.chats.send_voicememo(my_chat, attachment_id=mine), 2001),
        (lambda: other_tenant.client.attachments.retrieve(mine), 2003),
        (lambda: other_tenant.client.attachments.delete(mine), 2003),
        (lambda: other_tenant.client.chats.retrieve(my_chat), 2001),
        (lambda: other_tenant.client.messages.retrieve(sent.id), 2002),
        (lambda: list(other_tenant.client.chats.messages.list(my_chat)), 2001),
    ]
    for call, code in checks:
        err = status_error(call)
        assert (err.status_code, err.code) == (404, code)
    assert tenant.client.attachments.retrieve(mine).status == "complete"  # untouched


def test_left_chat_is_a_permanent_409(tenant: Tenant, corpus: dict[str, Made]) -> None:
    chat_id = new_chat(tenant.client, tenant.line, new_handle(), new_handle())
    tenant.client.chats.leave_chat(chat_id)
    attachment_id = upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    err = status_error(lambda: tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id))
    assert err.status_code == 409
    assert err.response.headers["x-should-retry"] == "false"
    assert tenant.client.chats.retrieve(chat_id).handles[0].status == "left"


def test_stray_from_field_is_ignored(server: Server, tenant: Tenant, corpus: dict[str, Made]) -> None:
    chat_id = new_chat(tenant.client, tenant.line)
    attachment_id = upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    response = httpx.post(
        f"{server.base_url}/v3/chats/{chat_id}/voicememo",
        json={"attachment_id": attachment_id, "from": "+19999999999"},
        headers={"Authorization": f"Bearer {tenant.partner.api_key.secret}"},
    )
    assert response.status_code == 202
    assert response.json()["voice_memo"]["from"] == tenant.line


def test_sms_chat_reports_its_service(tenant: Tenant, corpus: dict[str, Made]) -> None:
    chat_id = new_chat(tenant.client, tenant.line, new_handle(last_digit=9))
    sent = tenant.client.chats.send_voicememo(
        chat_id, attachment_id=upload_file(tenant.client, corpus["wav-u8"].path, "audio/wav")
    ).voice_memo
    assert sent.service == "SMS" and sent.chat.service == "SMS"


def test_a_rate_limited_send_by_url_fetches_nothing(tenant: Tenant, origin: Origin, corpus: dict[str, Made]) -> None:
    to = new_handle()
    text = {"parts": [{"type": "text", "value": "x"}]}
    chat_id = tenant.client.chats.create(from_=tenant.line, to=[to], message=text).chat.id
    for _ in range(29):
        tenant.client.chats.create(from_=tenant.line, to=[to], message=text)
    url = origin.add("limited.wav", corpus["wav-s16"].path.read_bytes(), "audio/wav")
    with pytest.raises(linq.RateLimitError) as refused:
        tenant.client.chats.send_voicememo(chat_id, voice_memo_url=url)
    assert refused.value.code == 1007
    assert "/files/limited.wav" not in origin.requests, "a limited caller costs no fetch and no decode"
