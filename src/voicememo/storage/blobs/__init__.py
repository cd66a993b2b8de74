"""Object storage behind a small port (``port.py``): local files, an S3-compatible bucket, an in-memory fake.

``container.py`` picks one from settings; services see only :class:`BlobStore`.
"""

from voicememo.storage.blobs.local import LocalBlobStore
from voicememo.storage.blobs.memory import MemoryBlobStore
from voicememo.storage.blobs.port import (
    CHUNK,
    BlobStore,
    BlobStoreError,
    BlobStream,
    StoredBlob,
    check_key,
    hash_file,
)

__all__ = [
    "CHUNK",
    "BlobStore",
    "BlobStoreError",
    "BlobStream",
    "LocalBlobStore",
    "MemoryBlobStore",
    "StoredBlob",
    "check_key",
    "hash_file",
]
