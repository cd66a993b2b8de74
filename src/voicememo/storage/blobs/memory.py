"""The in-memory fake of the blob port, kept honest by the same contract test as the real stores."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import anyio

from voicememo.storage.blobs.port import CHUNK, BlobStream, StoredBlob, check_key, clamp_range


class MemoryBlobStore:
    """The fake: same contract, kept in a dict (tests/unit/test_blobs.py runs all three)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.stored_at: dict[str, float] = {}

    async def put_file(self, key: str, source: Path) -> StoredBlob:
        data = await anyio.Path(source).read_bytes()
        await anyio.Path(source).unlink(missing_ok=True)
        self.blobs[check_key(key)] = data
        self.stored_at[key] = time.time()
        return StoredBlob(key, len(data), hashlib.sha256(data).hexdigest())

    async def open_stream(self, key: str, start: int = 0, end: int | None = None) -> BlobStream:
        try:
            data = self.blobs[check_key(key)]
        except KeyError:
            raise FileNotFoundError(key) from None
        start, length = clamp_range(len(data), start, end)
        view = data[start : start + length]
        return BlobStream(len(data), start, length, _chunks(view), _nothing)

    def local_path(self, key: str) -> Path | None:
        return None

    async def presigned_get(self, key: str, ttl: int, *, filename: str, content_type: str) -> str | None:
        return None

    async def presigned_put(self, key: str, ttl: int, *, content_type: str, size: int) -> str | None:
        return None

    async def exists(self, key: str) -> bool:
        return check_key(key) in self.blobs

    async def delete(self, key: str) -> None:
        self.blobs.pop(check_key(key), None)
        self.stored_at.pop(key, None)

    async def keys_stored_before(self, cutoff: float) -> list[str]:
        return [k for k in self.blobs if self.stored_at.get(k, 0.0) < cutoff]


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), CHUNK):
        yield data[offset : offset + CHUNK]


async def _nothing() -> None:
    return None
