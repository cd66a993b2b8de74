"""The one place where adapters are chosen from settings and wired into the services."""

from __future__ import annotations

from voicememo.audio.pool import AudioPool
from voicememo.domain.models import utcnow
from voicememo.net.fetch import FetchPolicy, SafeFetcher
from voicememo.senders.base import SenderRegistry
from voicememo.senders.sandbox import SandboxSender
from voicememo.services.admin import AdminService
from voicememo.services.attachments import AttachmentService
from voicememo.services.chats import ChatService
from voicememo.services.context import ServiceContext, Urls
from voicememo.services.messages import MessageService
from voicememo.services.voicememos import VoiceMemoService
from voicememo.services.webhooks import WebhookService
from voicememo.settings import Settings
from voicememo.storage.blobs import LocalBlobStore
from voicememo.storage.db import Database


class Container:
    def __init__(self, settings: Settings) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.audio = AudioPool(settings.audio_workers, settings.audio_probe_timeout)
        self.ctx = ServiceContext(
            settings=settings,
            db=Database(settings.database_url),
            blobs=LocalBlobStore(settings.blob_dir),
            audio=self.audio,
            fetcher=SafeFetcher(
                FetchPolicy(
                    allow_private=settings.fetch_allow_private_networks,
                    ca_bundle=settings.fetch_ca_bundle,
                    max_bytes=settings.fetch_max_bytes,
                    connect_timeout=settings.fetch_connect_timeout,
                    total_timeout=settings.fetch_total_timeout,
                    max_redirects=settings.fetch_max_redirects,
                )
            ),
            senders=SenderRegistry([SandboxSender()]),
            clock=utcnow,
            urls=Urls(settings.public_base_url),
        )
        self.admin = AdminService(self.ctx)
        self.chats = ChatService(self.ctx)
        self.voicememos = VoiceMemoService(self.ctx)
        self.attachments = AttachmentService(self.ctx)
        self.messages = MessageService(self.ctx)
        self.webhooks = WebhookService(self.ctx)

    async def aclose(self) -> None:
        self.audio.close()
        await self.ctx.db.dispose()
