"""An S3 store that hangs or answers 500: calls end within the configured timeouts and tries, with a
clear BlobStoreError; the API answers 503 (code 3006, retry hinted), never 500; nothing is half-written
(the attachment stays pending, to be uploaded again)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import anyio
import httpx
import pytest
from apiserver import Server, running_server
from pydantic import SecretStr

from audiogen import Made
from s3peers import Peer, failing_peer, hanging_peer
from voicememo.storage.blobs import BlobStoreError
from voicememo.storage.blobs.s3 import S3BlobStore, S3Config

TIMEOUT, ATTEMPTS = 0.5, 2
PEERS: dict[str, Callable[[], AbstractContextManager[Peer]]] = {"hangs": hanging_peer, "answers-500": failing_peer}


def _config(endpoint: str) -> S3Config:
    return S3Config.from_url(
        "s3://bucket/vm",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="key",
        secret_access_key=SecretStr("secret"),
        connect_timeout=TIMEOUT,
        read_timeout=TIMEOUT,
        max_attempts=ATTEMPTS,
    )


@pytest.fixture(params=sorted(PEERS))
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    with PEERS[request.param]() as p:
        yield p


def test_a_store_call_ends_within_its_timeouts_and_tries(peer: Peer, tmp_path: Path) -> None:
    store = S3BlobStore(_config(peer.endpoint))
    source = tmp_path / "blob.bin"
    source.write_bytes(b"x" * 1000)
    started = time.monotonic()
    with pytest.raises(BlobStoreError) as failed:
        anyio.run(store.put_file, "audio/p/a/x.mp3", source)
    took = time.monotonic() - started
    # boto3's defaults (60 s read timeout, retries) would hold this for minutes
    assert took < 10 * TIMEOUT * ATTEMPTS, took
    message = str(failed.value)
    assert "upload" in message and "bucket" in message
    assert "timeout" in message.lower() or "InternalError" in message, message
    assert not source.exists(), "the temp file is consumed either way"
    assert len(peer.requests) == ATTEMPTS, peer.requests  # tried as configured, not more

    peer.requests.clear()
    with pytest.raises(BlobStoreError):
        anyio.run(store.open_stream, "audio/p/a/x.mp3")
    assert len(peer.requests) == ATTEMPTS


@pytest.fixture
def broken_server(peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    overrides = {
        "blob_url": "s3://bucket/vm",
        "s3_endpoint_url": peer.endpoint,
        "s3_region": "us-east-1",
        "s3_access_key_id": "key",
        "s3_secret_access_key": "secret",
        "s3_connect_timeout_seconds": TIMEOUT,
        "s3_read_timeout_seconds": TIMEOUT,
        "s3_max_attempts": ATTEMPTS,
        "workers_in_process": False,
    }
    with running_server(tmp_path_factory.mktemp("s3-broken"), **overrides) as server:
        yield server


def test_an_upload_to_a_broken_store_is_a_503_and_leaves_the_attachment_pending(
    broken_server: Server, peer: Peer, corpus: dict[str, Made]
) -> None:
    made = broken_server.new_partner()
    client = broken_server.client(made.api_key.secret)
    data = corpus["mp3-xing"].path.read_bytes()
    slot = client.attachments.create(filename="memo.mp3", content_type="audio/mpeg", size_bytes=len(data))
    put = httpx.put(slot.upload_url, content=data, headers=slot.required_headers, timeout=30)

    assert put.status_code == 503, put.text
    error = put.json()["error"]
    assert error["code"] == 3006 and "file store" in error["message"] and "nothing was stored" in error["message"]
    assert put.headers["x-should-retry"] == "true"
    assert "bucket" not in error["message"] and "secret" not in put.text  # the store's details stay in the log
    assert len(peer.requests) == ATTEMPTS
    # nothing half-written: not complete, not failed for good; the client may upload again
    assert client.attachments.retrieve(slot.attachment_id).status == "pending"
    again = httpx.put(slot.upload_url, content=data, headers=slot.required_headers, timeout=30)
    assert again.status_code == 503, again.text
