"""The S3-compatible blob store (AWS S3, MinIO, Ceph, R2, …), chosen with ``BLOB_URL=s3://bucket/prefix``.

boto3 in worker threads rather than an asyncio client: its transfer manager already uploads a file
of any size as a multipart upload, reading it in parts from disk (memory stays flat: measured
+16 MB of peak RSS for a 100 MB file, see tests/acceptance/test_upload_memory.py), and a download is
one thread hop per 1 MiB chunk, which costs nothing next to the network. The client is
thread-safe; one is made per store.

A blob becomes visible only when its PUT (or multipart completion) succeeds, so, as with the
local store, no one can read a half-written blob. An upload that a crash interrupts leaves an
incomplete multipart upload in the bucket: give the bucket a lifecycle rule
(AbortIncompleteMultipartUpload) to clear those.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import boto3
import botocore.exceptions
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from pydantic import SecretStr

from voicememo.storage.blobs.port import CHUNK, BlobStoreError, BlobStream, StoredBlob, check_key, closer, hash_file

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
_MISSING = {"NoSuchKey", "404", "NotFound"}
#: multipart above 16 MB in 8 MB parts, 4 at a time: a 100 MB upload holds a few parts in flight at most
_TRANSFER = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=8 << 20, max_concurrency=4)


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = field(default=None, repr=False)
    #: seconds to connect, and to wait for each answer (boto3's defaults: 60 each)
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    #: tries per call in all, the first included (botocore's "standard" retry mode)
    max_attempts: int = 3

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3Config:
        """``s3://bucket`` or ``s3://bucket/some/prefix``; the other fields come from settings."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "s3" or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(f"BLOB_URL must look like s3://bucket/optional/prefix, not {url!r}")
        prefix = parsed.path.strip("/")
        return cls(bucket=parsed.netloc, prefix=f"{prefix}/" if prefix else "", **options)


class S3BlobStore:
    def __init__(self, config: S3Config) -> None:
        self.config = config
        secret = config.secret_access_key.get_secret_value() if config.secret_access_key else None
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url or None,
            region_name=config.region or None,
            aws_access_key_id=config.access_key_id or None,
            aws_secret_access_key=secret,
            config=Config(
                signature_version="s3v4",
                retries={"mode": "standard", "total_max_attempts": config.max_attempts},
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                max_pool_connections=16,
                # a custom endpoint (MinIO, a test server) rarely has wildcard DNS for bucket subdomains
                s3={"addressing_style": "path" if config.endpoint_url else "auto"},
            ),
        )

    def _key(self, key: str) -> str:
        return self.config.prefix + check_key(key)

    async def _call(self, what: str, key: str, fn: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise FileNotFoundError(key) from None
            raise BlobStoreError(f"S3 {what} of {key!r} in bucket {self.config.bucket!r} failed: {code}") from exc
        except (botocore.exceptions.BotoCoreError, Boto3Error) as exc:
            raise BlobStoreError(f"S3 {what} of {key!r} in bucket {self.config.bucket!r} failed: {exc}") from exc

    async def put_file(self, key: str, source: Path) -> StoredBlob:
        name = self._key(key)
        try:
            size, digest = await anyio.to_thread.run_sync(hash_file, source)
            await self._call(
                "upload",
                key,
                lambda: self._client.upload_file(
                    str(source),
                    self.config.bucket,
                    name,
                    ExtraArgs={"Metadata": {"sha256": digest}},
                    Config=_TRANSFER,
                ),
            )
        finally:
            await anyio.Path(source).unlink(missing_ok=True)
        return StoredBlob(key, size, digest)

    async def open_stream(self, key: str, start: int = 0, end: int | None = None) -> BlobStream:
        name = self._key(key)
        whole = start <= 0 and end is None
        if not whole and (end is None or end >= start):
            try:
                wanted = f"bytes={start}-{'' if end is None else end}"
                got = await self._call(
                    "read",
                    key,
                    lambda: self._client.get_object(Bucket=self.config.bucket, Key=name, Range=wanted),
                )
            except BlobStoreError as exc:
                if "InvalidRange" not in str(exc):
                    raise
            else:
                size = int(got["ContentRange"].rsplit("/", 1)[1])
                return BlobStream(size, start, got["ContentLength"], _chunks(got["Body"]), closer(got["Body"]))
        if not whole:  # a range past the end (or reversed): no bytes, but the size is still true
            head = await self._call("head", key, lambda: self._client.head_object(Bucket=self.config.bucket, Key=name))
            return BlobStream(head["ContentLength"], min(max(start, 0), head["ContentLength"]), 0, _empty(), _none)
        got = await self._call("read", key, lambda: self._client.get_object(Bucket=self.config.bucket, Key=name))
        return BlobStream(got["ContentLength"], 0, got["ContentLength"], _chunks(got["Body"]), closer(got["Body"]))

    def local_path(self, key: str) -> Path | None:
        return None

    async def presigned_get(self, key: str, ttl: int, *, filename: str, content_type: str) -> str | None:
        params = {
            "Bucket": self.config.bucket,
            "Key": self._key(key),
            "ResponseContentType": content_type,
            "ResponseContentDisposition": f"inline; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}",
        }
        return await self._call(
            "presign", key, lambda: self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl)
        )

    async def presigned_put(self, key: str, ttl: int, *, content_type: str, size: int) -> str | None:
        params = {
            "Bucket": self.config.bucket,
            "Key": self._key(key),
            "ContentType": content_type,
            "ContentLength": size,
        }
        return await self._call(
            "presign", key, lambda: self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=ttl)
        )

    async def exists(self, key: str) -> bool:
        name = self._key(key)
        try:
            await self._call("head", key, lambda: self._client.head_object(Bucket=self.config.bucket, Key=name))
        except FileNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        name = self._key(key)
        await self._call("delete", key, lambda: self._client.delete_object(Bucket=self.config.bucket, Key=name))

    async def keys_stored_before(self, cutoff: float) -> list[str]:
        return await self._call("list", self.config.prefix or "/", lambda: self._list_before(cutoff))

    def _list_before(self, cutoff: float) -> list[str]:
        found = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.config.bucket, Prefix=self.config.prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][len(self.config.prefix) :]
                if item["LastModified"].timestamp() < cutoff and _valid(key):
                    found.append(key)
        return found


def _valid(key: str) -> bool:
    """Objects someone else put under our prefix with names we never make are not ours to sweep."""
    try:
        check_key(key)
    except ValueError:
        return False
    return True


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(body.read, CHUNK):
            yield chunk
    except botocore.exceptions.BotoCoreError as exc:
        raise BlobStoreError(f"S3 read broke off: {exc}") from exc
    finally:
        body.close()


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""


async def _none() -> None:
    return None
