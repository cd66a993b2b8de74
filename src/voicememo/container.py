"""The one place where adapters are chosen from settings and wired into the services."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from voicememo.audio.pool import AudioPool
from voicememo.domain.models import utcnow
from voicememo.jobs.worker import Wakeup, Worker
from voicememo.metrics import MeasuredAudio, Metrics, QueueSnapshot
from voicememo.net.fetch import FetchPolicy, SafeFetcher
from voicememo.senders.base import SenderRegistry
from voicememo.senders.bluebubbles import BlueBubblesKind, BlueBubblesTimeouts
from voicememo.senders.sandbox import SandboxConfig, SandboxKind
from voicememo.services.admin import AdminService
from voicememo.services.api_keys import ApiKeyCache
from voicememo.services.attachments import AttachmentService
from voicememo.services.chats import ChatService
from voicememo.services.console.operator import OperatorService
from voicememo.services.console.previews import PreviewService
from voicememo.services.console.reads import ConsoleReads
from voicememo.services.console.waveforms import WaveformService
from voicememo.services.console.webhooks import WebhookConsole
from voicememo.services.context import ServiceContext, Urls
from voicememo.services.debris import SWEEP_JOB, DebrisService
from voicememo.services.delivery import DELIVER_JOB, DeliverHandler
from voicememo.services.events import WEBHOOK_JOB
from voicememo.services.job_ops import JobOpsService
from voicememo.services.lines import LINE_HEALTH_JOB, LineService
from voicememo.services.messages import MessageService
from voicememo.services.periodic import Periodic, PeriodicHandler, schedule_periodic
from voicememo.services.ratelimit import CallbackRateLimiter, RecipientRateLimiter, rate_limit_storage
from voicememo.services.reach import ReachService
from voicememo.services.receipts import (
    RECEIPT_JOB,
    RECONCILE_JOB,
    JobReceiptSink,
    ReceiptHandler,
    ReceiptService,
    ReconcileHandler,
)
from voicememo.services.retention import RETENTION_JOB, RetentionService
from voicememo.services.voicememos import VoiceMemoService
from voicememo.services.webhook_delivery import WebhookHandler
from voicememo.services.webhooks import WebhookService
from voicememo.settings import Settings
from voicememo.storage.blobs import BlobStore, LocalBlobStore
from voicememo.storage.db import Database, PoolConfig
from voicememo.storage.repos.job_stats import open_jobs
from voicememo.storage.sealing import Sealer

log = structlog.get_logger(__name__)


def blob_store(settings: Settings) -> BlobStore:
    """Local files under DATA_DIR/blobs, or the S3-compatible bucket that BLOB_URL names."""
    if not settings.blob_url:
        return LocalBlobStore(settings.blob_dir)
    # imported here: boto3 takes ~0.35 s to import, which no local-files process should pay
    from voicememo.storage.blobs.s3 import S3BlobStore, S3Config

    return S3BlobStore(
        S3Config.from_url(
            settings.blob_url,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=settings.s3_secret_access_key,
            connect_timeout=settings.s3_connect_timeout_seconds,
            read_timeout=settings.s3_read_timeout_seconds,
            max_attempts=settings.s3_max_attempts,
        )
    )


class Container:
    def __init__(self, settings: Settings) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.audio = AudioPool(settings.audio_workers, settings.audio_probe_timeout)
        self.metrics = Metrics()
        pool = PoolConfig(
            size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            timeout=settings.database_pool_timeout,
            recycle=settings.database_pool_recycle_seconds,
        )
        db = Database(settings.database_url, pool=pool, sqlite_inline_calls=settings.sqlite_inline_calls)
        wakeup = Wakeup()
        sandbox = SandboxConfig(
            outbox=settings.outbox_dir,
            send_delay=settings.sandbox_send_delay,
            delivered_delay=settings.sandbox_delivered_delay,
            read_delay=settings.sandbox_read_delay,
            fail_pattern=settings.sandbox_fail_pattern,
        )
        limits = rate_limit_storage(settings.redis_url)  # Redis: shared by every process; else this one's memory
        bluebubbles = BlueBubblesTimeouts(call=settings.bluebubbles_timeout, send=settings.bluebubbles_send_timeout)
        self.ctx = ServiceContext(
            settings=settings,
            db=db,
            blobs=blob_store(settings),
            audio=MeasuredAudio(self.audio, self.metrics),
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
            # A new sender: one module in senders/ and one entry here.
            senders=SenderRegistry(
                [
                    SandboxKind(sandbox, JobReceiptSink(db, utcnow, wakeup)),
                    BlueBubblesKind(bluebubbles),
                ]
            ),
            clock=utcnow,
            urls=Urls(settings.public_base_url),
            wakeup=wakeup,
            rate_limiter=RecipientRateLimiter(settings.rate_limit, limits, utcnow),
            hook_limiter=CallbackRateLimiter(settings.sender_hook_rate_limit, limits),
            sealer=Sealer(settings.signing_key()),
            metrics=self.metrics,
        )
        self.receipts = ReceiptService(self.ctx)
        self.lines = LineService(self.ctx, self.receipts)
        self.reach = ReachService(self.ctx, self.lines)
        self.admin = AdminService(self.ctx, self.lines, ApiKeyCache(settings.api_key_cache_seconds, self.ctx.clock))
        self.chats = ChatService(self.ctx, self.reach)
        self.voicememos = VoiceMemoService(self.ctx)
        self.attachments = AttachmentService(self.ctx)
        self.messages = MessageService(self.ctx)
        self.webhooks = WebhookService(self.ctx)
        self.debris = DebrisService(self.ctx)
        self.retention = RetentionService(self.ctx)
        self.job_ops = JobOpsService(self.ctx)
        # the web console's read models and actions (services/console/; routes in api/)
        self.console = ConsoleReads(self.ctx, self.lines)
        self.waveforms = WaveformService(self.ctx)
        self.previews = PreviewService(self.ctx)
        self.webhook_console = WebhookConsole(self.ctx)
        self.operator = OperatorService(self.ctx, self.job_ops)
        self.periodic = [
            Periodic(LINE_HEALTH_JOB, settings.line_health_interval_seconds, self.lines.refresh_health, 5.0),
            Periodic(SWEEP_JOB, settings.debris_sweep_interval_seconds, self.debris.clean),
            Periodic(RETENTION_JOB, settings.retention_interval_seconds, self.retention.prune),
        ]

    async def run_worker(self, stop: asyncio.Event, concurrency: int | None = None) -> None:
        """Run delivery workers until ``stop``; the periodic jobs (line health, sweep, retention) stay scheduled."""
        for periodic in self.periodic:
            await schedule_periodic(self.ctx, periodic, first=True)
        await self.worker(concurrency).run(stop)

    async def sweep_at_start(self) -> None:
        """Clear what a crash of an earlier process left, before this one takes work."""
        try:
            await self.debris.clean()
        except Exception:  # a failed sweep must not keep the server from starting
            log.exception("debris_sweep_failed", action="error")

    def worker(self, concurrency: int | None = None) -> Worker:
        """A delivery worker over this container's database (in-process or `voicememo worker`)."""
        return Worker(
            self.ctx.db,
            {
                DELIVER_JOB: DeliverHandler(self.ctx, self.lines),
                RECEIPT_JOB: ReceiptHandler(self.ctx),
                RECONCILE_JOB: ReconcileHandler(self.ctx, self.lines),
                WEBHOOK_JOB: WebhookHandler(self.ctx),
                **{p.kind: PeriodicHandler(self.ctx, p) for p in self.periodic},
            },
            clock=self.ctx.clock,
            wakeup=self.ctx.wakeup,
            concurrency=concurrency or self.settings.worker_concurrency,
            lease=timedelta(seconds=self.settings.job_lease_seconds),
            poll_interval=self.settings.job_poll_interval,
            grace=self.settings.worker_shutdown_grace_seconds,
            on_outcome=self.metrics.job_outcome,
        )

    async def scrape(self) -> bytes:
        """/metrics: the counts, and the job queue as the database has it now."""
        async with self.ctx.db.read() as s:
            rows = await open_jobs(s)
        kinds = [DELIVER_JOB, RECEIPT_JOB, RECONCILE_JOB, WEBHOOK_JOB, *(p.kind for p in self.periodic)]
        return self.metrics.exposition(QueueSnapshot(rows, kinds, self.ctx.clock()))

    async def aclose(self) -> None:
        self.audio.close()
        await self.ctx.senders.aclose()
        await self.ctx.fetcher.aclose()
        await self.ctx.db.dispose()
