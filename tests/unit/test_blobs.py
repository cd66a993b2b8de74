"""One contract, run against the local store, the S3 store (a moto server on loopback) and the fake."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from s3server import Bucket
from voicememo.storage.blobs import CHUNK, BlobStore, BlobStoreError, LocalBlobStore, MemoryBlobStore
from voicememo.storage.blobs.s3 import S3BlobStore, S3Config

KEY = "audio/p1/a1/x.mp3"


@pytest.fixture(params=["local", "s3", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "s3":
        bucket: Bucket = request.getfixturevalue("s3_bucket")
        return S3BlobStore(bucket.config())
    return LocalBlobStore(tmp_path / "blobs") if request.param == "local" else MemoryBlobStore()


async def _put(store: BlobStore, tmp_path: Path, key: str, data: bytes) -> None:
    source = tmp_path / "upload.part"
    source.write_bytes(data)
    await store.put_file(key, source)


async def _drain(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> tuple[int, int, bytes]:
    async with await store.open_stream(key, start, end) as stream:
        chunks = [c async for c in stream.chunks]
    assert all(len(c) <= CHUNK for c in chunks)
    return stream.size, stream.start, b"".join(chunks)


@pytest.mark.anyio
async def test_put_read_delete(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.part"
    source.write_bytes(b"voice" * 1000)
    stored = await store.put_file(KEY, source)
    assert (stored.size, stored.sha256) == (5000, hashlib.sha256(b"voice" * 1000).hexdigest())
    assert not source.exists(), "the source is consumed"
    assert await store.exists(KEY)
    assert (await _drain(store, KEY))[2] == b"voice" * 1000
    await store.delete(KEY)
    await store.delete(KEY)  # deleting twice is fine
    assert not await store.exists(KEY)
    with pytest.raises(FileNotFoundError):
        await store.open_stream(KEY)
    with pytest.raises(FileNotFoundError):
        await store.open_stream(KEY, 10, 19)


@pytest.mark.anyio
async def test_streams_in_chunks_and_ranges(store: BlobStore, tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * CHUNK // 256 + 7)  # three chunks and a bit
    await _put(store, tmp_path, KEY, data)
    assert await _drain(store, KEY) == (len(data), 0, data)
    assert await _drain(store, KEY, 10, 19) == (len(data), 10, data[10:20])
    assert await _drain(store, KEY, CHUNK - 1) == (len(data), CHUNK - 1, data[CHUNK - 1 :])
    assert await _drain(store, KEY, len(data) - 5, len(data) + 100) == (len(data), len(data) - 5, data[-5:])
    assert await _drain(store, KEY, len(data) + 1) == (len(data), len(data), b""), "past the end: nothing"


@pytest.mark.anyio
async def test_empty_blob(store: BlobStore, tmp_path: Path) -> None:
    await _put(store, tmp_path, "e/empty", b"")
    assert await _drain(store, "e/empty") == (0, 0, b"")


@pytest.mark.anyio
async def test_keys_stored_before(store: BlobStore, tmp_path: Path) -> None:
    await _put(store, tmp_path, "a/one", b"1")
    await _put(store, tmp_path, "b/c/two", b"2")
    assert sorted(await store.keys_stored_before(time.time() + 60)) == ["a/one", "b/c/two"]
    assert await store.keys_stored_before(time.time() - 3600) == []


@pytest.mark.anyio
@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", "a\\b", ""])
async def test_keys_cannot_escape(store: BlobStore, tmp_path: Path, key: str) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x")
    with pytest.raises(ValueError, match="invalid blob key"):
        await store.put_file(key, source)


@pytest.mark.anyio
async def test_local_store_leaves_no_partial_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "f"
    source.write_bytes(b"abc")
    await store.put_file("k/v", source)
    assert sorted(p.name for p in (tmp_path / "blobs" / "k").iterdir()) == ["v"]
    assert store.local_path("k/v") == tmp_path / "blobs" / "k" / "v"
    assert await store.presigned_get("k/v", 60, filename="v", content_type="audio/mpeg") is None


@pytest.mark.anyio
async def test_s3_multipart_upload_and_presigned_get(s3_bucket: Bucket, tmp_path: Path) -> None:
    """Above the multipart threshold the bytes still arrive whole, under the prefix, with their sha256."""
    store = S3BlobStore(s3_bucket.config())
    data = bytes(range(256)) * (20 * CHUNK // 256) + b"tail"  # 20 MB: three 8 MB parts
    stored = await store.put_file("big/one.wav", _file(tmp_path, data))
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert s3_bucket.get("big/one.wav") == data
    assert s3_bucket.object_keys() == ["big/one.wav"]
    assert store.local_path("big/one.wav") is None
    url = await store.presigned_get("big/one.wav", 60, filename="ünï code.wav", content_type="audio/wav")
    assert url is not None
    async with httpx.AsyncClient() as client:
        got = await client.get(url)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "audio/wav"
    assert got.headers["content-disposition"] == "inline; filename*=UTF-8''%C3%BCn%C3%AF%20code.wav"


@pytest.mark.anyio
async def test_s3_failures_are_store_errors_and_carry_no_secret(s3_endpoint: str, tmp_path: Path) -> None:
    """A missing bucket is the store's failure (not a missing blob, not an HTTP error)."""
    config = Bucket(s3_endpoint, "no-such-bucket-here").config()
    store = S3BlobStore(config)
    with pytest.raises(BlobStoreError, match="NoSuchBucket") as caught:
        await store.put_file("k", _file(tmp_path, b"x"))
    assert not (tmp_path / "src").exists(), "the source is consumed even when the store fails"
    assert config.secret_access_key is not None
    assert config.secret_access_key.get_secret_value() not in f"{caught.value!r} {config!r}"


def test_blob_url_parsing() -> None:
    assert S3Config.from_url("s3://bucket").prefix == ""
    assert S3Config.from_url("s3://bucket/a/b/").prefix == "a/b/"
    for bad in ("https://bucket/x", "s3:///x", "s3://bucket/x?y=1"):
        with pytest.raises(ValueError, match="BLOB_URL"):
            S3Config.from_url(bad)


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "src"
    path.write_bytes(data)
    return path
