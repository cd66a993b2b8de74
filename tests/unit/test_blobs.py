"""One contract, run against the local store and its in-memory fake."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from voicememo.storage.blobs import BlobStore, LocalBlobStore, MemoryBlobStore


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return LocalBlobStore(tmp_path / "blobs") if request.param == "local" else MemoryBlobStore()


@pytest.mark.anyio
async def test_put_read_delete(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.part"
    source.write_bytes(b"voice" * 1000)
    stored = await store.put_file("audio/p1/a1/x.mp3", source)
    assert (stored.size, stored.sha256) == (5000, hashlib.sha256(b"voice" * 1000).hexdigest())
    assert not source.exists(), "the source is consumed"
    assert await store.exists("audio/p1/a1/x.mp3")
    assert await store.read("audio/p1/a1/x.mp3") == b"voice" * 1000
    await store.delete("audio/p1/a1/x.mp3")
    await store.delete("audio/p1/a1/x.mp3")  # deleting twice is fine
    assert not await store.exists("audio/p1/a1/x.mp3")
    with pytest.raises(FileNotFoundError):
        await store.read("audio/p1/a1/x.mp3")


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
