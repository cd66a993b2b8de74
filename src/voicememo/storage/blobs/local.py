"""The local-filesystem blob store (the embedded default: DATA_DIR/blobs).

It never exposes a half-written blob: bytes land in a temp file in the same filesystem,
are fsynced, then renamed into place (and the directory fsynced).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import anyio

from voicememo.storage.blobs.port import CHUNK, BlobStream, StoredBlob, check_key, clamp_range, closer, hash_file


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

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

    async def open_stream(self, key: str, start: int = 0, end: int | None = None) -> BlobStream:
        fh = await anyio.to_thread.run_sync(open, self._path(key), "rb")  # FileNotFoundError here
        try:
            size = os.fstat(fh.fileno()).st_size
            start, length = clamp_range(size, start, end)
            fh.seek(start)
        except BaseException:
            fh.close()
            raise
        return BlobStream(size, start, length, _file_chunks(fh, length), closer(fh))

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    async def presigned_get(self, key: str, ttl: int, *, filename: str, content_type: str) -> str | None:
        return None  # served by our own route, from local_path

    async def presigned_put(self, key: str, ttl: int, *, content_type: str, size: int) -> str | None:
        return None  # uploads come to our own signed PUT route

    async def exists(self, key: str) -> bool:
        # one stat of a local file, as local_path does: a hop to a worker thread cost ~50x more
        return self._path(key).is_file()

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


async def _file_chunks(fh: BinaryIO, length: int) -> AsyncIterator[bytes]:
    try:
        while length > 0:
            chunk = await anyio.to_thread.run_sync(fh.read, min(CHUNK, length))
            if not chunk:
                return  # the file shrank under us: the caller sees a short body, never stale bytes
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


def _copy_hashing(source: Path, staging: Path) -> tuple[int, str]:
    """Rename when on the same filesystem (hashing by reading), else copy while hashing; fsync either way."""
    try:
        os.link(source, staging)
        linked = True
    except OSError:
        linked = False
    if linked:
        found = hash_file(staging)
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        return found
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(staging, "wb") as dst:
        while chunk := src.read(CHUNK):
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
