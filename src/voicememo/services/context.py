"""What every service needs, handed over once by the container (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from voicememo.audio.port import AudioChecker
from voicememo.domain.models import Attachment
from voicememo.jobs.worker import Wakeup
from voicememo.metrics import Metrics
from voicememo.net.fetch import SafeFetcher
from voicememo.senders.base import SenderRegistry
from voicememo.services.ratelimit import CallbackRateLimiter, RecipientRateLimiter
from voicememo.settings import Settings
from voicememo.storage.blobs import BlobStore
from voicememo.storage.db import Database
from voicememo.storage.sealing import Sealer


@dataclass(frozen=True)
class Urls:
    """Absolute URLs we hand out, all under PUBLIC_BASE_URL."""

    base: str

    def media(self, attachment: Attachment) -> str:
        return f"{self.base}/media/{attachment.id}/{quote(attachment.filename, safe='')}"

    def upload(self, attachment_id: str, token: str) -> str:
        return f"{self.base}/uploads/{attachment_id}?token={quote(token, safe='')}"

    def error_doc(self, code: int) -> str:
        return f"{self.base}/errors/{code}"


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    audio: AudioChecker
    fetcher: SafeFetcher
    senders: SenderRegistry
    clock: Callable[[], datetime]
    urls: Urls
    wakeup: Wakeup
    rate_limiter: RecipientRateLimiter
    hook_limiter: CallbackRateLimiter
    sealer: Sealer
    metrics: Metrics
