"""Webhook subscriptions: their ``whsec_`` secret is shown once, at creation, and stored sealed."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import replace
from typing import Any

from voicememo.domain.handles import require_e164
from voicememo.domain.models import WebhookSubscription
from voicememo.errors import InvalidParameter, MissingField, WebhookSubscriptionNotFound
from voicememo.net.addresses import address_problem, literal_address
from voicememo.net.fetch import check_url
from voicememo.services.context import ServiceContext
from voicememo.storage.repos.idempotency import record_effect
from voicememo.storage.repos.lines import LineRepo
from voicememo.storage.repos.webhooks import WebhookRepo

#: the events this server emits (api.md §5)
EVENTS = ("message.sent", "message.delivered", "message.read", "message.failed", "chat.created")


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def create(
        self, partner_id: str, target_url: str | None, events: list[str] | None, phone_numbers: list[str] | None
    ) -> WebhookSubscription:
        if not target_url:
            raise MissingField("target_url is required.")
        if events is None:
            raise MissingField(f"subscribed_events is required: one or more of {', '.join(EVENTS)}.")
        now = self.ctx.clock()
        sub = WebhookSubscription(
            id=str(uuid.uuid4()),
            partner_id=partner_id,
            target_url=self._check_target(target_url),
            subscribed_events=self._check_events(events),
            phone_numbers=None,
            is_active=True,
            created_at=now,
            updated_at=now,
            signing_secret=new_signing_secret(),
        )
        async with self.ctx.db.write() as s:
            if phone_numbers is not None:
                sub = replace(sub, phone_numbers=await self._check_numbers(s, partner_id, phone_numbers))
            await WebhookRepo(s).add(sub, sealed_secret=self.ctx.sealer.seal(sub.signing_secret))
            await record_effect(s, "webhook_subscription", sub.id)
        return sub

    async def get(self, partner_id: str, sub_id: str) -> WebhookSubscription:
        async with self.ctx.db.read() as s:
            sub = await WebhookRepo(s).get(partner_id, sub_id)
        if sub is None:
            raise WebhookSubscriptionNotFound()
        return sub

    async def with_secret(self, partner_id: str, sub_id: str) -> WebhookSubscription:
        """The subscription as its creation answered it, signing secret included (an idempotent replay)."""
        async with self.ctx.db.read() as s:
            found = await WebhookRepo(s).for_delivery(partner_id, sub_id)
        if found is None:
            raise WebhookSubscriptionNotFound()
        sub, sealed = found
        return replace(sub, signing_secret=self.ctx.sealer.open(sealed))

    async def list_all(self, partner_id: str) -> list[WebhookSubscription]:
        async with self.ctx.db.read() as s:
            return await WebhookRepo(s).list_all(partner_id)

    async def update(self, partner_id: str, sub_id: str, changes: dict[str, Any]) -> WebhookSubscription:
        values: dict[str, Any] = {}
        if changes.get("target_url") is not None:
            values["target_url"] = self._check_target(str(changes["target_url"]))
        if changes.get("subscribed_events") is not None:
            values["subscribed_events"] = list(self._check_events(changes["subscribed_events"]))
        if changes.get("is_active") is not None:
            values["is_active"] = bool(changes["is_active"])
        async with self.ctx.db.write() as s:
            repo = WebhookRepo(s)
            if await repo.get(partner_id, sub_id) is None:
                raise WebhookSubscriptionNotFound()
            if "phone_numbers" in changes:
                numbers = changes["phone_numbers"]
                values["phone_numbers"] = (
                    None if numbers is None else list(await self._check_numbers(s, partner_id, numbers))
                )
            values["updated_at"] = self.ctx.clock()
            await repo.update(partner_id, sub_id, **values)
            sub = await repo.get(partner_id, sub_id)
        assert sub is not None
        return sub

    async def delete(self, partner_id: str, sub_id: str) -> None:
        async with self.ctx.db.write() as s:
            if not await WebhookRepo(s).delete(partner_id, sub_id):
                raise WebhookSubscriptionNotFound()

    def _check_target(self, url: str) -> str:
        """The checks every delivery makes (SafeFetcher.post), made up front so a bad target fails here."""
        lan = self.ctx.settings.fetch_allow_private_networks
        parsed = check_url(url, allow_http=lan, field="target_url")
        if not lan:
            ip = literal_address(parsed.host)
            problem = address_problem(ip) if ip else ("a loopback name" if parsed.host == "localhost" else None)
            if problem:
                raise InvalidParameter(f"target_url points to {parsed.host}, {problem}; webhooks go to public hosts.")
        return url

    def _check_events(self, events: list[str]) -> tuple[str, ...]:
        """The same rule on create and update: a subscription to nothing is refused, never stored."""
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise InvalidParameter("subscribed_events must be a list of event names.")
        if not events:
            raise InvalidParameter(f"subscribed_events must name at least one of {', '.join(EVENTS)}.")
        unknown = [e for e in events if e not in EVENTS]
        if unknown:
            raise InvalidParameter(f"Unsupported event(s) {', '.join(unknown)}; this server emits {', '.join(EVENTS)}.")
        return tuple(dict.fromkeys(events))

    async def _check_numbers(self, s: Any, partner_id: str, numbers: list[str]) -> tuple[str, ...]:
        if not isinstance(numbers, list):
            raise InvalidParameter("phone_numbers must be a list of your lines in E.164 format.")
        lines = {line.phone_number for line in await LineRepo(s).list(partner_id)}
        for number in numbers:
            require_e164(str(number), "phone_numbers entry")
            if number not in lines:
                raise InvalidParameter(f"phone_numbers: {number} is not one of your lines.")
        return tuple(dict.fromkeys(numbers))
