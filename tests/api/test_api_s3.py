"""The whole server on an S3-compatible store (a moto server on loopback): pre-upload, a memo
delivered by the sandbox sender, downloads streamed through us or redirected to a presigned GET,
renditions made from a streamed copy, and the debris sweep over the bucket."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apiserver import FAST_DELIVERY, Server, Tenant, running_server
from helpers import new_chat, upload_file

import s3server
from audiogen import Made
from receiver import Receiver, webhook_receiver
from voicememo.container import Container
from voicememo.senders.sandbox import read_outbox
from voicememo.settings import Settings
from voicememo.storage.blobs.s3 import S3BlobStore


@pytest.fixture(scope="module", params=["stream", "presign"])
def s3_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str
) -> Iterator[tuple[Server, s3server.Bucket]]:
    bucket = s3server.new_bucket(s3_endpoint)
    overrides = bucket.settings(
        s3_presign_downloads=request.param == "presign", s3_presign_ttl_seconds=60, fetch_allow_private_networks=True
    )
    with running_server(tmp_path_factory.mktemp("s3"), **overrides, **FAST_DELIVERY) as server:
        yield server, bucket


@pytest.fixture
def s3_tenant(s3_server: tuple[Server, s3server.Bucket]) -> Tenant:
    server, _ = s3_server
    made = server.new_partner()
    return Tenant(made, server.client(made.api_key.secret))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as r:
        yield r


def test_memo_through_s3_is_delivered_and_downloads_are_right(
    s3_server: tuple[Server, s3server.Bucket], s3_tenant: Tenant, receiver: Receiver, corpus: dict[str, Made]
) -> None:
    server, bucket = s3_server
    assert not list(server.settings.blob_dir.rglob("*.*")), "nothing in the local blob dir"
    s3_tenant.client.webhook_subscriptions.create(target_url=receiver.url, subscribed_events=["message.delivered"])
    made = corpus["mp3-xing"]
    data = made.path.read_bytes()
    attachment_id = upload_file(s3_tenant.client, made.path, "audio/mpeg")
    chat_id = new_chat(s3_tenant.client, s3_tenant.line)
    memo = s3_tenant.client.chats.send_voicememo(chat_id, attachment_id=attachment_id).voice_memo
    receiver.wait_for(lambda e: e["data"]["id"] == memo.id)

    # the attachment and its rendition live in the bucket, and nowhere on local disk
    keys = bucket.object_keys()
    audio = [k for k in keys if k.startswith(f"audio/{s3_tenant.partner.partner.id}/{attachment_id}/")]
    rendition = [k for k in keys if k.startswith(f"renditions/{hashlib.sha256(data).hexdigest()}/")]
    assert len(audio) == len(rendition) == 1, keys
    assert bucket.get(audio[0]) == data
    assert not list(server.settings.blob_dir.rglob("*.*"))
    # what the sandbox "sent" is the rendition in the bucket, byte for byte (streamed to a temp copy)
    sent = next(e for e in read_outbox(server.settings.outbox_dir) if e["message_id"] == memo.id)
    assert (Path(str(sent["path"])) / str(sent["file"])).read_bytes() == bucket.get(rendition[0])

    url = memo.voice_memo.url
    got = httpx.get(url, follow_redirects=True)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "audio/mpeg"
    assert "inline" in got.headers["content-disposition"]
    head = httpx.head(url)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert head.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    if server.settings.s3_presign_downloads:
        redirect = got.history[0]
        assert redirect.status_code == 307 and redirect.headers["cache-control"] == "no-store"
        assert redirect.headers["location"].startswith(f"{bucket.endpoint}/{bucket.name}/")
        assert "X-Amz-Expires=60" in redirect.headers["location"]
    else:
        assert got.history == []
        assert got.headers["content-length"] == str(len(data))
        assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        ranged = httpx.get(url, headers={"Range": "bytes=10-19"})
        assert ranged.status_code == 206 and ranged.content == data[10:20]
        assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"
        tail = httpx.get(url, headers={"Range": "bytes=-7"})
        assert tail.status_code == 206 and tail.content == data[-7:]
        assert httpx.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416

    s3_tenant.client.attachments.delete(attachment_id)
    assert httpx.get(url).status_code == 404
    assert not [k for k in bucket.object_keys() if k in audio + rendition]


def test_sweep_deletes_unowned_objects_after_the_grace_only(
    s3_server: tuple[Server, s3server.Bucket], s3_tenant: Tenant, corpus: dict[str, Made], tmp_path: Path
) -> None:
    server, bucket = s3_server
    attachment_id = upload_file(s3_tenant.client, corpus["mp3-xing"].path, "audio/mpeg")
    owned = [k for k in bucket.object_keys() if f"/{attachment_id}/" in k]
    assert len(owned) == 1
    orphan = f"audio/{s3_tenant.partner.partner.id}/crashed/0123.mp3"  # stored, then the process died

    async def sweep(grace: float) -> list[str]:
        container = Container(Settings(**{**server.settings.model_dump(), "debris_grace_seconds": grace}))
        try:
            assert isinstance(container.ctx.blobs, S3BlobStore)
            if grace:
                source = tmp_path / "orphan"
                source.write_bytes(b"orphan")
                await container.ctx.blobs.put_file(orphan, source)
            return (await container.debris.clean()).orphan_blobs
        finally:
            await container.aclose()

    assert orphan not in asyncio.run(sweep(3600)), "younger than the grace: left alone"
    assert orphan in bucket.object_keys()
    assert orphan in asyncio.run(sweep(0))
    keys = bucket.object_keys()
    assert orphan not in keys and owned[0] in keys
