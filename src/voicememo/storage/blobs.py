"""Object storage behind a small port, with the local-filesystem store and an in-memory fake.

The local store never exposes a half-written blob: bytes land in a temp file in the
same filesystem, are fsynced, then renamed into place (and the directory fsynced).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import anyio


@dataclass(frozen=True, slots=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


class BlobStore(Protocol):
    async def put_file(self, key: str, source: Path) -> StoredBlob:
        """Store the file at ``source`` under ``key``; ``source`` is consumed (moved or deleted)."""
        ...

    async def read(self, key: str) -> bytes:
        """The whole blob (small blobs only; downloads use :meth:`local_path` or streaming)."""
        ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for zero-copy serving, when the store has one."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the blob; deleting a missing blob is not an error."""
        ...

    async def keys_stored_before(self, cutoff: float) -> list[str]:
        """Every blob stored before ``cutoff`` (epoch seconds): what a sweep may check for an owner."""
        ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid blob key {key!r}")
    return key


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    async def put_file(self, key: str, source: Path) -> StoredBlob:
        return await anyio.to_thread.run_sync(self._put_sync, key, source)

    def _put_sync(self, key: str, source: Path) -> StoredBlob:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            size, digest = _copy_hashing(source, staging)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)
            source.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return StoredBlob(key, size, digest)

    async def read(self, key: str) -> bytes:
        return await anyio.Path(self._path(key)).read_bytes()

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).is_file()

    async def delete(self, key: str) -> None:
        await anyio.Path(self._path(key)).unlink(missing_ok=True)

    async def keys_stored_before(self, cutoff: float) -> list[str]:
        return await anyio.to_thread.run_sync(self._keys_before, cutoff)

    def _keys_before(self, cutoff: float) -> list[str]:
        found = []
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                if name.startswith("."):
                    continue  # a put in progress (or its debris): not a blob yet
                try:
                    if path.stat().st_mtime < cutoff:
                        found.append(path.relative_to(self.root).as_posix())
                except FileNotFoundError:
                    continue
        return found


def _copy_hashing(source: Path, staging: Path) -> tuple[int, str]:
    """Rename when on the same filesystem (hashing by reading), else copy while hashing; fsync either way."""
    digest = hashlib.sha256()
    size = 0
    try:
        os.link(source, staging)
        linked = True
    except OSError:
        linked = False
    if linked:
        with open(staging, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
            os.fsync(fh.fileno())
        return size, digest.hexdigest()
    with open(source, "rb") as src, open(staging, "wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return size, digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MemoryBlobStore:
    """The fake: same contract, kept in a dict (tests/unit/test_blobs.py runs both)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.stored_at: dict[str, float] = {}

    async def put_file(self, key: str, source: Path) -> StoredBlob:
        data = await anyio.Path(source).read_bytes()
        await anyio.Path(source).unlink(missing_ok=True)
        self.blobs[_check_key(key)] = data
        self.stored_at[key] = time.time()
        return StoredBlob(key, len(data), hashlib.sha256(data).hexdigest())

    async def read(self, key: str) -> bytes:
        try:
            return self.blobs[_check_key(key)]
        except KeyError:
            raise FileNotFoundError(key) from None

    def local_path(self, key: str) -> Path | None:
        return None

    async def exists(self, key: str) -> bool:
        return _check_key(key) in self.blobs

    async def delete(self, key: str) -> None:
        self.blobs.pop(_check_key(key), None)
        self.stored_at.pop(key, None)

    async def keys_stored_before(self, cutoff: float) -> list[str]:
        return [k for k in self.blobs if self.stored_at.get(k, 0.0) < cutoff]
