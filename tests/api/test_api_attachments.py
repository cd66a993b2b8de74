"""Pre-uploads: signed PUT URLs and every way an upload can be wrong."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import httpx
import linq
import pytest
from apiserver import Server, Tenant, running_server
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from audiogen import Made
from logwatch import watched_logs


def error_of(call: object) -> linq.APIStatusError:
    assert callable(call)
    with pytest.raises(linq.APIStatusError) as info:
        call()
    return info.value


def test_create_upload_retrieve_delete(tenant: Tenant, corpus: dict[str, Made]) -> None:
    data = corpus["aiff"].path.read_bytes()
    slot = tenant.client.attachments.create(filename="note.aiff", content_type="audio/x-aiff", size_bytes=len(data))
    assert slot.http_method == "PUT" and slot.required_headers == {"Content-Type": "audio/x-aiff"}
    assert (
        14 * 60
        < (slot.expires_at - tenant.client.attachments.retrieve(slot.attachment_id).created_at).total_seconds()
        <= 15 * 60
    )
    assert tenant.client.attachments.retrieve(slot.attachment_id).status == "pending"
    assert httpx.get(slot.download_url).status_code == 404  # nothing to download yet
    put = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert put.status_code == 200 and put.json()["duration_ms"] == 3000
    got = tenant.client.attachments.retrieve(slot.attachment_id)
    assert (got.status, got.size_bytes, got.filename, got.content_type) == (
        "complete",
        len(data),
        "note.aiff",
        "audio/x-aiff",
    )
    assert httpx.get(slot.download_url).content == data
    again = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert again.status_code == 400 and "already uploaded" in again.json()["error"]["message"]
    tenant.client.attachments.delete(slot.attachment_id)
    assert httpx.get(slot.download_url).status_code == 404
    err = error_of(lambda: tenant.client.attachments.retrieve(slot.attachment_id))
    assert (err.status_code, err.code) == (404, 2003)


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"content_type": "image/png"}, 400, 1005),
        ({"size_bytes": 0}, 400, 1005),
        ({"size_bytes": 104857601}, 413, 5001),
        ({"filename": ""}, 400, 1005),
    ],
)
def test_create_errors(tenant: Tenant, kwargs: dict[str, object], status: int, code: int) -> None:
    args: dict[str, object] = {"filename": "a.mp3", "content_type": "audio/mpeg", "size_bytes": 100, **kwargs}
    err = error_of(lambda: tenant.client.attachments.create(**args))  # type: ignore[arg-type]
    assert (err.status_code, err.code) == (status, code)


def _slot(tenant: Tenant, data: bytes, content_type: str = "audio/wav") -> linq.types.AttachmentCreateResponse:
    return tenant.client.attachments.create(
        filename="a.wav",
        content_type=content_type,  # type: ignore[arg-type]
        size_bytes=len(data),
    )


@pytest.mark.parametrize(
    ("mutate", "status", "code", "text"),
    [
        (
            lambda url, data, headers: (url.replace("token=", "token=x"), data, headers),
            403,
            2005,
            "signature is not valid",
        ),
        (lambda url, data, headers: (url, data, {"Content-Type": "audio/mpeg"}), 400, 5006, "signed for 'audio/wav'"),
        (lambda url, data, headers: (url, data + b"\x00" * 10, headers), 413, 5001, "must match"),
        (lambda url, data, headers: (url, data[:-10], headers), 400, 1005, "must match"),
    ],
)
def test_bad_puts_are_refused_and_leave_it_pending(
    tenant: Tenant, corpus: dict[str, Made], mutate: object, status: int, code: int, text: str
) -> None:
    data = corpus["wav-u8"].path.read_bytes()
    slot = _slot(tenant, data)
    assert callable(mutate)
    url, body, headers = mutate(slot.upload_url, data, slot.required_headers)
    put = httpx.put(url, content=body, headers=headers)
    assert (put.status_code, put.json()["error"]["code"]) == (status, code)
    assert text in put.json()["error"]["message"]
    assert tenant.client.attachments.retrieve(slot.attachment_id).status == "pending"
    ok = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert ok.status_code == 200  # a correct retry with the same URL still works


def test_url_is_bound_to_its_attachment(tenant: Tenant, corpus: dict[str, Made]) -> None:
    data = corpus["wav-u8"].path.read_bytes()
    a, b = _slot(tenant, data), _slot(tenant, data)
    token = a.upload_url.split("token=", 1)[1]
    swapped = b.upload_url.split("?", 1)[0] + "?token=" + token
    put = httpx.put(swapped, content=data, headers=a.required_headers)
    assert put.status_code == 403 and "different attachment" in put.json()["error"]["message"]


@pytest.fixture(scope="module")
def short_ttl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A 2-minute upload TTL, and a data dir of its own: no memo renders in its temp dir meanwhile."""
    with running_server(tmp_path_factory.mktemp("short-ttl"), upload_url_ttl_seconds=120) as s:
        yield s


@pytest.mark.parametrize(("which", "ttl_text"), [("server", "15 minutes"), ("short_ttl", "2 minutes")])
def test_expired_upload_url(request: pytest.FixtureRequest, corpus: dict[str, Made], which: str, ttl_text: str) -> None:
    server: Server = request.getfixturevalue(which)
    made = server.new_partner()
    data = corpus["wav-u8"].path.read_bytes()
    slot = server.client(made.api_key.secret).attachments.create(
        filename="a.wav", content_type="audio/wav", size_bytes=len(data)
    )

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return super().get_timestamp() - server.settings.upload_url_ttl_seconds - 60

    signer = URLSafeTimedSerializer(server.settings.signing_key(), salt="voicememo.upload", signer=PastSigner)
    claims = {"a": slot.attachment_id, "p": made.partner.id, "s": len(data), "t": "audio/wav"}
    url = slot.upload_url.split("?", 1)[0] + "?token=" + signer.dumps(claims)
    put = httpx.put(url, content=data, headers=slot.required_headers)
    message = put.json()["error"]["message"]
    assert put.status_code == 403 and "expired" in message and f"they last {ttl_text}" in message


def test_a_client_that_hangs_up_mid_upload(short_ttl: Server, corpus: dict[str, Made]) -> None:
    server = short_ttl
    made = server.new_partner()
    tenant = Tenant(made, server.client(made.api_key.secret))
    data = corpus["wav-u8"].path.read_bytes()
    slot = _slot(tenant, data)
    url = httpx.URL(slot.upload_url)
    head = (
        f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Type: audio/wav\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    with watched_logs() as logs:
        with socket.create_connection((url.host, url.port)) as sock:
            sock.sendall(head.encode() + data[: len(data) // 2])
        gone = logs.wait_for("client_disconnected")
    assert gone["level"] == "info" and gone["path"] == url.path and gone["method"] == "PUT"
    assert "exc_info" not in gone and not logs.named("unexpected_error")  # not an error, no traceback
    assert tenant.client.attachments.retrieve(slot.attachment_id).status == "pending"
    assert not list(server.settings.tmp_dir.glob("*.part"))  # the half-written temp file is gone
    again = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)  # still re-uploadable
    assert again.status_code == 200 and tenant.client.attachments.retrieve(slot.attachment_id).status == "complete"


def test_declared_type_must_match_the_bytes(tenant: Tenant, corpus: dict[str, Made]) -> None:
    data = corpus["wav-u8"].path.read_bytes()
    slot = _slot(tenant, data, content_type="audio/mpeg")
    put = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert (put.status_code, put.json()["error"]["code"]) == (400, 5006)
    assert "bytes are WAV audio" in put.json()["error"]["message"]
    got = tenant.client.attachments.retrieve(slot.attachment_id)
    assert got.status == "failed"


def test_an_upload_in_an_unknown_codec_fails_with_5004_naming_it(tenant: Tenant) -> None:
    desc = struct.pack(">d4sIIIII", 8000.0, b"zzzz", 0, 2, 1, 1, 16)
    payload = b"\x01\x02" * 800
    data = b"caff\x00\x01\x00\x00" + b"desc" + struct.pack(">q", len(desc)) + desc
    data += b"data" + struct.pack(">q", 4 + len(payload)) + b"\x00" * 4 + payload
    slot = _slot(tenant, data, content_type="audio/x-caf")
    put = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert (put.status_code, put.json()["error"]["code"]) == (400, 5004)
    assert "CAF format 'zzzz'" in put.json()["error"]["message"]
    got = tenant.client.attachments.retrieve(slot.attachment_id)
    assert got.status == "failed"
    assert got.to_dict()["failure_reason"] == put.json()["error"]["message"]
