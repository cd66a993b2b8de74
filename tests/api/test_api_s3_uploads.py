"""S3_PRESIGNED_UPLOADS: the upload_url is a presigned PUT on the bucket (moto on loopback); the
server checks the bytes when the attachment is first read, sent or swept, exactly as its own PUT
route would, and never uses an attachment it has not checked."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import linq
import pytest
from apiserver import FAST_DELIVERY, Server, Tenant, running_server
from helpers import new_chat

import s3server
from audiogen import Made
from voicememo.container import Container
from voicememo.settings import Settings


@pytest.fixture(scope="module")
def presigned(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[tuple[Server, s3server.Bucket]]:
    bucket = s3server.new_bucket(s3_endpoint)
    with running_server(
        tmp_path_factory.mktemp("s3up"), **bucket.settings(s3_presigned_uploads=True), **FAST_DELIVERY
    ) as server:
        yield server, bucket


@pytest.fixture
def tenant(presigned: tuple[Server, s3server.Bucket]) -> Tenant:
    server, _ = presigned
    made = server.new_partner()
    return Tenant(made, server.client(made.api_key.secret))


def slot_for(tenant: Tenant, data: bytes, content_type: str = "audio/mpeg") -> linq.types.AttachmentCreateResponse:
    return tenant.client.attachments.create(filename="memo.mp3", content_type=content_type, size_bytes=len(data))  # type: ignore[arg-type]


def test_presigned_upload_is_checked_when_first_used(
    presigned: tuple[Server, s3server.Bucket], tenant: Tenant, corpus: dict[str, Made]
) -> None:
    _server, bucket = presigned
    data = corpus["mp3-xing"].path.read_bytes()
    slot = slot_for(tenant, data)
    assert slot.upload_url.startswith(f"{bucket.endpoint}/{bucket.name}/vm/incoming/")
    assert "content-length%3Bcontent-type" in slot.upload_url, "size and type are signed into the URL"
    assert slot.required_headers == {"Content-Type": "audio/mpeg"}
    chat_id = new_chat(tenant.client, tenant.line)
    with pytest.raises(linq.NotFoundError) as not_yet:
        tenant.client.chats.send_voicememo(chat_id, attachment_id=slot.attachment_id)
    assert not_yet.value.response.json()["error"]["code"] == 2007

    put = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert put.status_code == 200, put.text
    assert [k for k in bucket.object_keys() if k.startswith("incoming/")], "the bytes are in the bucket"

    memo = tenant.client.chats.send_voicememo(chat_id, attachment_id=slot.attachment_id).voice_memo
    assert memo.voice_memo.duration_ms == 3000, "measured by the server's own check"
    got = tenant.client.attachments.retrieve(slot.attachment_id)
    assert (got.status, got.size_bytes) == ("complete", len(data))
    assert httpx.get(got.download_url).content == data
    keys = bucket.object_keys()
    assert not [k for k in keys if k.startswith("incoming/")], "checked and moved under audio/"
    assert [k for k in keys if k.startswith(f"audio/{tenant.partner.partner.id}/{slot.attachment_id}/")]


def test_presigned_upload_of_bad_bytes_fails_with_the_reason(tenant: Tenant) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(200)
    slot = slot_for(tenant, png)
    assert httpx.put(slot.upload_url, content=png, headers=slot.required_headers).status_code == 200
    got = tenant.client.attachments.retrieve(slot.attachment_id)
    assert got.status == "failed"
    chat_id = new_chat(tenant.client, tenant.line)
    with pytest.raises(linq.BadRequestError) as refused:
        tenant.client.chats.send_voicememo(chat_id, attachment_id=slot.attachment_id)
    assert refused.value.response.json()["error"]["code"] == 5004
    assert "PNG" in refused.value.response.json()["error"]["message"]


def test_an_upload_waiting_to_be_checked_is_not_swept(
    presigned: tuple[Server, s3server.Bucket], tenant: Tenant, corpus: dict[str, Made]
) -> None:
    server, bucket = presigned
    data = corpus["mp3-xing"].path.read_bytes()
    slot = slot_for(tenant, data)
    assert httpx.put(slot.upload_url, content=data, headers=slot.required_headers).status_code == 200

    async def sweep() -> list[str]:
        container = Container(Settings(**{**server.settings.model_dump(), "debris_grace_seconds": 0}))
        try:
            return (await container.debris.clean()).orphan_blobs
        finally:
            await container.aclose()

    incoming = f"incoming/{tenant.partner.partner.id}/{slot.attachment_id}"
    assert incoming not in asyncio.run(sweep())
    assert incoming in bucket.object_keys()
    assert tenant.client.attachments.retrieve(slot.attachment_id).status == "complete"


def test_presigned_upload_of_the_wrong_size_is_never_used(tenant: Tenant, corpus: dict[str, Made]) -> None:
    """A real bucket refuses a body whose length is not the signed one; where one lets it through (moto
    does not check signatures), the server's own check fails the attachment with the reason."""
    data = corpus["mp3-xing"].path.read_bytes()
    slot = slot_for(tenant, data)
    put = httpx.put(slot.upload_url, content=data[:-100], headers=slot.required_headers)
    got = tenant.client.attachments.retrieve(slot.attachment_id)
    if put.status_code == 200:
        assert got.status == "failed"
        chat_id = new_chat(tenant.client, tenant.line)
        with pytest.raises(linq.BadRequestError) as refused:
            tenant.client.chats.send_voicememo(chat_id, attachment_id=slot.attachment_id)
        assert "size_bytes" in refused.value.response.json()["error"]["message"]
    else:
        assert put.status_code == 403 and got.status == "pending"
