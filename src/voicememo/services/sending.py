"""Exactly once, owned by the core: every provider call is recorded before it is made.

The rule, for each item of a message (a text, or the memo file):
1. An ``accepted`` send record: the item went out; never call the provider again.
2. An ``attempting`` record: an earlier attempt started and we never learned its outcome
   (the process died, the call timed out, the provider failed with a 5xx). Ask the sender
   whether that attempt reached the provider: ``find_earlier(item, since, known)``, where
   ``since`` is the first attempt's start less a minute of clock slack and ``known`` are the
   provider ids of this chat's other items (never a match). Found: take it as the result.
3. Otherwise record one more attempt (committed before the call) and send.

Deliveries in one chat run one at a time (the job order key), so between an item's first
attempt and its re-run no other item of ours goes to that chat; what ``find_earlier`` can
find is this item or something the Mac's owner sent by hand. Each sender documents how it
tells those apart.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from voicememo.senders.base import Accepted, LineSender, Outgoing, SendRejected
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.sends import ACCEPTED, ATTEMPTING, SendRecord, SendRepo

log = structlog.get_logger("voicememo.sending")
CLOCK_SLACK = timedelta(seconds=60)


class Dispatcher:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def dispatch(
        self, sender: LineSender, provider: str, line_id: str, item: Outgoing, record: SendRecord | None
    ) -> Accepted:
        """The item's provider acceptance: an earlier attempt's, or a new send's. Raises SenderError.
        ``record``: the item's send record as the job loaded it (None: never attempted)."""
        if record is not None and record.state == ACCEPTED and record.provider_message_id:
            return Accepted(record.provider_message_id, item.chat.provider_chat_id)
        if record is not None and record.state == ATTEMPTING:
            async with self.ctx.db.read() as s:
                known = await SendRepo(s).known_for_chat(item.chat.chat_id, record.first_attempt_at - 2 * CLOCK_SLACK)
            earlier = await sender.find_earlier(item, record.first_attempt_at - CLOCK_SLACK, known)
            if earlier is not None:
                log.info(
                    "send_found_earlier",
                    action="recovered",
                    message_id=item.message_id,
                    seq=item.seq,
                    attempts=record.attempts,
                )
                self.ctx.metrics.sends.labels(provider, "recovered").inc()
                return earlier
        async with self.ctx.db.write() as s:
            record = await SendRepo(s).attempting(
                message_id=item.message_id,
                seq=item.seq,
                chat_id=item.chat.chat_id,
                line_id=line_id,
                provider=provider,
                now=self.ctx.clock(),
                first=record is None,
            )
        log.info(
            "send_started", action="started", message_id=item.message_id, seq=item.seq, attempt=record.attempts,
            sender=provider,
        )  # fmt: skip
        outcome = "failed"
        try:
            accepted = await sender.send(item)
            outcome = "accepted"
        except SendRejected:
            outcome = "rejected"
            raise
        finally:
            self.ctx.metrics.sends.labels(provider, outcome).inc()
        log.info(
            "send_accepted", action="finished", message_id=item.message_id, seq=item.seq,
            provider_message_id=accepted.provider_message_id,
        )  # fmt: skip
        return accepted
