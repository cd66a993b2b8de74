"""Sending one event to one subscription: signed both ways, SSRF-guarded, retried for 30 minutes.

Headers: Standard Webhooks (``webhook-id`` = event id on every try, ``webhook-timestamp``,
``webhook-signature: v1,<base64>``; what the SDKs verify) and the legacy ``X-Webhook-*``
set (hex HMAC-SHA256 over ``"{timestamp}.{body}"`` keyed with the whole secret string).
5xx, 429 and network errors are retried with exponential backoff; other 4xx are final.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import structlog
from standardwebhooks.webhooks import Webhook

from voicememo.errors import AddressRefused, FetchFailed, VoicememoError
from voicememo.jobs.retry import RetryPolicy
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.jobs import Job, JobRepo
from voicememo.storage.repos.webhooks import AttemptRepo, WebhookRepo
from voicememo.storage.sealing import SealBroken

log = structlog.get_logger("voicememo.webhooks")


class WebhookFailed(Exception):
    """A retryable failure (5xx, 429, no answer)."""


def sign(secret: str, event_id: str, timestamp: int, body: str) -> dict[str, str]:
    """Both signature schemes' headers for one attempt."""
    standard = Webhook(secret).sign(event_id, datetime.fromtimestamp(timestamp, UTC), body)
    legacy = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Webhook-Signature": legacy,
    }


class WebhookHandler:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self.policy = RetryPolicy(
            base_seconds=settings.webhook_retry_base_seconds,
            max_delay_seconds=600,
            give_up_after=timedelta(seconds=settings.webhook_give_up_after_seconds),
        )

    async def run(self, job: Job) -> bool:
        p = job.payload
        async with self.ctx.db.read() as s:
            found = await WebhookRepo(s).for_delivery(p["partner_id"], p["subscription_id"])
        if found is None or not found[0].is_active:
            return False  # deleted or paused since: nothing to deliver to
        sub, sealed = found
        try:
            secret = self.ctx.sealer.open(sealed)
        except SealBroken as exc:  # retrying cannot help: say so where operators look
            await self._record(job, None, str(exc), "gave_up", 0, settle=True)
            log.error("webhook_secret_unreadable", action="gave_up", event_id=p["event_id"], subscription=sub.id)
            return True
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Event": p["event_type"],
            "X-Webhook-Subscription-ID": sub.id,
            **sign(secret, p["event_id"], timestamp, p["body"]),
        }
        started = time.perf_counter()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        refused = False
        try:
            answer = await self.ctx.fetcher.post_answer(
                sub.target_url, p["body"].encode(), headers, self.ctx.settings.webhook_timeout
            )
            status, excerpt = answer.status, answer.excerpt
        except VoicememoError as exc:
            error = exc.message
            refused = isinstance(exc, AddressRefused) or not isinstance(exc, FetchFailed)
        except Exception as exc:
            log.exception("webhook_attempt_crashed", action="retry", event_id=p["event_id"], subscription=sub.id)
            error = f"internal error while sending: {type(exc).__name__}"
        elapsed = int((time.perf_counter() - started) * 1000)
        retry = not refused and (status is None or status >= 500 or status == 429)
        ok = status is not None and 200 <= status < 300
        outcome = "delivered" if ok else ("retry" if retry else "gave_up")
        await self._record(job, status, error, outcome, elapsed, settle=not retry, excerpt=excerpt)
        if retry:
            raise WebhookFailed(error or f"HTTP {status}")
        if not ok:
            log.warning("webhook_refused", action="gave_up", event_id=p["event_id"], status=status)
        return True

    async def give_up(self, job: Job, reason: str) -> None:
        await self._record(job, None, f"gave up: {reason}", "gave_up", 0)

    async def _record(
        self,
        job: Job,
        status: int | None,
        error: str | None,
        outcome: str,
        elapsed: int,
        *,
        settle: bool = False,
        excerpt: str | None = None,
    ) -> None:
        """The attempt, and with ``settle`` the job's end, in one transaction."""
        p = job.payload
        async with self.ctx.db.write() as s:
            if settle:
                await JobRepo(s).settle_done(job, now=self.ctx.clock())
            await AttemptRepo(s).add(
                partner_id=p["partner_id"],
                subscription_id=p["subscription_id"],
                event_id=p["event_id"],
                event_type=p["event_type"],
                attempt=job.attempts,
                status_code=status,
                error=error,
                outcome=outcome,
                duration_ms=elapsed,
                created_at=self.ctx.clock(),
                response_excerpt=excerpt,
                job_id=job.id,
            )
