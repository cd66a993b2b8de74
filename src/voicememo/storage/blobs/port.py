"""The blob port: what services need of an object store, whichever store holds the bytes.

It is shaped by two kinds of store: files on this machine (a path can go to FFmpeg or sendfile as
it is) and a remote S3-compatible bucket (bytes come as a stream; a client may be sent to the bucket
itself with a presigned URL). So reading is a stream (there is no "read it all": no path may hold a
100 MB file in memory), and paths and presigned URLs are optional shortcuts: ``None`` means "not
here, stream instead".

Errors: a missing blob is ``FileNotFoundError`` in every store; anything else a store fails at
(unreachable, refused, misconfigured) is :class:`BlobStoreError`, never an HTTP error: the service
edge decides what a caller sees.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: the size of the chunks a stream yields (and of reads while hashing): large enough that a
#: thread hop or a syscall per chunk costs nothing measurable, small enough to stay off the heap
CHUNK = 1 << 20


class BlobStoreError(Exception):
    """The store failed (network, credentials, bucket): not the caller's fault, may pass on retry."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BlobStream:
    """An open blob: ``length`` bytes from ``start`` of a blob of ``size``, as chunks; close when done."""

    size: int
    start: int
    length: int
    chunks: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]

    async def __aenter__(self) -> BlobStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Closable(Protocol):
    def close(self) -> object: ...


def closer(resource: _Closable) -> Callable[[], Awaitable[None]]:
    """A ``BlobStream.close`` for a resource whose own close is quick and synchronous (a file, a body)."""

    async def close() -> None:
        resource.close()

    return close


class BlobStore(Protocol):
    async def put_file(self, key: str, source: Path) -> StoredBlob:
        """Store the file at ``source`` under ``key``; ``source`` is consumed (moved or deleted)."""
        ...

    async def open_stream(self, key: str, start: int = 0, end: int | None = None) -> BlobStream:
        """The bytes ``start`` to ``end`` (inclusive; ``None``: to the last) as chunks of at most
        :data:`CHUNK`; raises ``FileNotFoundError`` here, before any byte, when the blob is missing."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for zero-copy use, when the store has one (an optimisation only)."""
        ...

    async def presigned_get(self, key: str, ttl: int, *, filename: str, content_type: str) -> str | None:
        """A URL the client may fetch the blob from directly for ``ttl`` seconds, if the store can sign one."""
        ...

    async def presigned_put(self, key: str, ttl: int, *, content_type: str, size: int) -> str | None:
        """A URL a client may PUT exactly ``size`` bytes of ``content_type`` to for ``ttl`` seconds
        (both signed in), if the store can sign one; the bytes land under ``key``."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing blob is not an error."""
        ...

    async def keys_stored_before(self, cutoff: float) -> list[str]:
        """Every blob stored before ``cutoff`` (epoch seconds): what a sweep may check for an owner."""
        ...


def check_key(key: str) -> str:
    """Keys are relative slash paths: they must not escape a directory or alias another key."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid blob key {key!r}")
    return key


def hash_file(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file, read in chunks (memory stays flat whatever its size)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def clamp_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """``(start, length)`` of the requested bytes within a blob of ``size`` (empty past the end)."""
    start = min(max(start, 0), size)
    last = size - 1 if end is None else min(end, size - 1)
    return start, max(last - start + 1, 0)
