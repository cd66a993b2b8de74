"""Lines and their senders: settings, health, and the callbacks a provider pushes to us.

A line is bound to one sender (the sandbox, or one Mac running BlueBubbles). Its password is
sealed at rest and opened only to bind the sender. A provider that pushes events (BlueBubbles)
is given a callback URL holding a random per-line token, of which we keep only the sha256;
a wrong token is answered exactly like an unknown route.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from voicememo.domain.handles import require_e164
from voicememo.domain.models import Line
from voicememo.errors import BadRequest, Conflict, InvalidParameter, NotFound, RateLimited
from voicememo.net.addresses import literal_address
from voicememo.senders.base import LineBinding, LineHealth, LineSender, SenderConfigError, SenderError, SendRejected
from voicememo.services.context import ServiceContext
from voicememo.services.receipts import ReceiptService
from voicememo.storage.repos.lines import LineRepo
from voicememo.storage.repos.partners import PartnerRepo
from voicememo.storage.sealing import SealBroken

log = structlog.get_logger("voicememo.lines")
LINE_HEALTH_JOB = "line_health"


@dataclass(frozen=True)
class LineReport:
    line: Line
    health: LineHealth
    #: "registered", "not needed", or why the provider could not be told where to push receipts
    receipts: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LineService:
    def __init__(self, ctx: ServiceContext, receipts: ReceiptService) -> None:
        self.ctx = ctx
        self.receipts = receipts

    # ---- binding ----------------------------------------------------------------------------

    async def sender_for(self, line_id: str) -> tuple[Line, LineSender]:
        """The line and its bound sender; LookupError when the line was removed."""
        async with self.ctx.db.read() as s:
            found = await LineRepo(s).with_secret(line_id)
        if found is None:
            raise LookupError(f"line {line_id} no longer exists")
        return found[0], self.bind(*found)

    def bind(self, line: Line, sealed: str | None) -> LineSender:
        """The line's sender, from the line and its sealed secret as stored."""
        try:
            secret = self.ctx.sealer.open(sealed) if sealed else None
        except SealBroken as exc:
            raise SendRejected(
                f"The sender password of line {line.phone_number} was sealed under another server key "
                "(VOICEMEMO_SECRET_KEY or DATA_DIR/secret_key changed); set it again with "
                f"`voicememo lines update {line.phone_number} --bluebubbles-password-file FILE`."
            ) from exc
        binding = LineBinding(line.id, line.phone_number, line.sender_config, secret)
        return self.ctx.senders.for_line(line.sender_kind, binding)

    # ---- operator ---------------------------------------------------------------------------

    async def add(
        self,
        partner_id: str,
        number: str,
        kind: str = "sandbox",
        config: Mapping[str, Any] | None = None,
        secret: str | None = None,
    ) -> LineReport:
        require_e164(number, "line")
        clean = self._checked(kind, config or {}, secret)
        line = Line(str(uuid.uuid4()), partner_id, number, kind, self.ctx.clock(), clean)
        async with self.ctx.db.write() as s:
            if await PartnerRepo(s).get_partner(partner_id) is None:
                raise NotFound(f"No partner with id {partner_id}.")
            await self.add_in(s, line, secret)
        return await self.connect(line)

    async def add_in(self, s: Any, line: Line, secret: str | None) -> None:
        """Inside the caller's transaction (a new partner's first line)."""
        repo = LineRepo(s)
        if await repo.by_number(line.phone_number) is not None:
            raise Conflict(f"The line {line.phone_number} is already registered.")
        await repo.add(line, sealed_secret=self.ctx.sealer.seal(secret) if secret else None)

    def _checked(self, kind: str, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
        try:
            sender_kind = self.ctx.senders.kind(kind)
            if sender_kind.needs_secret and not secret:
                raise SenderConfigError(f"a {kind} line needs a password (--{kind}-password-file FILE).")
            return sender_kind.check_config(config, secret)
        except SenderConfigError as exc:
            raise InvalidParameter(str(exc)) from exc

    async def update(self, number: str, changes: Mapping[str, Any], secret: str | None = None) -> LineReport:
        """Change a line's sender settings (and password); the sender is checked and told anew."""
        async with self.ctx.db.read() as s:
            line = await self._line(s, number)
            _line, sealed = await LineRepo(s).with_secret(line.id) or (line, None)
        if secret is None and sealed:
            try:
                secret = self.ctx.sealer.open(sealed)
            except SealBroken as exc:
                raise InvalidParameter(
                    "The stored password was sealed under another server key; give it again with the update."
                ) from exc
        config = {**line.sender_config, **{k: v for k, v in changes.items() if v is not None}}
        clean = self._checked(line.sender_kind, config, secret)
        async with self.ctx.db.write() as s:
            sealed = self.ctx.sealer.seal(secret) if secret else None
            await LineRepo(s).set_sender(line.id, line.sender_kind, clean, sealed)
            updated = await LineRepo(s).by_id(line.id)
        assert updated is not None
        return await self.connect(updated)

    async def remove(self, number: str, *, force: bool = False) -> int:
        """Remove a line; with ``force`` also its chats and their messages. Returns how many chats went."""
        async with self.ctx.db.read() as s:
            line = await self._line(s, number)
            chats = await LineRepo(s).chat_count(line.id)
        if chats and not force:
            raise Conflict(
                f"The line {number} has {chats} chat(s); removing it removes them and their messages too. "
                "Pass --force to do that."
            )
        try:  # best effort: stop the provider pushing to a URL that will answer 404
            _line, sender = await self.sender_for(line.id)
            await sender.subscribe(self._hook_prefix(line), None)
        except SenderError as exc:
            log.warning("line_unsubscribe_failed", action="skipped", line=number, reason=exc.message)
        async with self.ctx.db.write() as s:
            await LineRepo(s).remove(line.id)
        return chats

    async def all(self, partner_id: str | None = None) -> list[Line]:
        async with self.ctx.db.read() as s:
            return await LineRepo(s).list(partner_id)

    async def check(self, number: str | None = None) -> list[LineReport]:
        """Health of one line or all, telling each provider again where to push receipts."""
        async with self.ctx.db.read() as s:
            lines = [await self._line(s, number)] if number else await LineRepo(s).list()
        return [await self.connect(line) for line in lines]

    async def connect(self, line: Line) -> LineReport:
        """Check the line's sender, register our callback with it when it pushes events, store the health."""
        _line, sender = await self.sender_for(line.id)
        health = await sender.health()
        receipts = "not registered: the sender could not be reached"
        if health.details.get("reachable"):
            token = secrets.token_urlsafe(32)
            try:
                pushes = await sender.subscribe(self._hook_prefix(line), self._hook_prefix(line) + token)
            except SenderError as exc:
                receipts = f"not registered: {exc.message}"
            else:
                receipts = "registered" if pushes else "not needed"
                if pushes:
                    async with self.ctx.db.write() as s:
                        await LineRepo(s).set_hook_token_hash(line.id, token_hash(token))
                    receipts += self._unreachable_callback_note(line)
        await self._store(line, health, receipts)
        return LineReport(line, health, receipts)

    async def refresh_health(self) -> int:
        """Every line's health, as the periodic job sees it (no re-registration)."""
        lines = await self.all()
        for line in lines:
            try:
                _line, sender = await self.sender_for(line.id)
                health = await sender.health()
            except (LookupError, SenderError) as exc:
                log.warning("line_health_failed", action="skipped", line=line.phone_number, reason=str(exc))
                continue
            await self._store(line, health, None)
        return len(lines)

    async def _store(self, line: Line, health: LineHealth, receipts: str | None) -> None:
        stored = {**health.details, "problem": health.problem}
        stored["receipts"] = receipts if receipts is not None else (line.health or {}).get("receipts")
        async with self.ctx.db.write() as s:
            await LineRepo(s).set_health(line.id, health.status, stored, health.checked_at)
        if health.status != "HEALTHY":
            log.warning("line_unhealthy", action="checked", line=line.phone_number, problem=health.problem)

    async def _line(self, s: Any, number: str) -> Line:
        line = await LineRepo(s).by_number(number)
        if line is None:
            raise NotFound(f"No line {number}; see `voicememo lines list`.")
        return line

    def _unreachable_callback_note(self, line: Line) -> str:
        """Registered at a loopback address while the provider is elsewhere: it can never call back."""
        ours = httpx.URL(self.ctx.settings.sender_callback_base_url).host
        theirs = httpx.URL(str(line.sender_config.get("url", "http://localhost"))).host
        if _is_loopback(ours) and not _is_loopback(theirs):
            return (
                f", but at {self.ctx.settings.sender_callback_base_url}, which the Mac cannot reach: set "
                "VOICEMEMO_SENDER_CALLBACK_BASE_URL to an address of this server the Mac can reach "
                "(until then receipts arrive by polling, after RECONCILE_AFTER_SECONDS)"
            )
        return ""

    def _hook_prefix(self, line: Line) -> str:
        return f"{self.ctx.settings.sender_callback_base_url}/hooks/lines/{line.id}/"

    # ---- provider callbacks -----------------------------------------------------------------

    async def receive_event(self, line_id: str, token: str, body: bytes) -> int:
        """A provider pushed an event; returns how many receipts were about our messages."""
        async with self.ctx.db.read() as s:
            expected = await LineRepo(s).hook_token_hash(line_id)
        if not expected or not hmac.compare_digest(expected, token_hash(token)):
            raise NotFound("No such endpoint.")
        if not await self.ctx.hook_limiter.allow(line_id):
            raise RateLimited("Too many callbacks for this line; slow down.", retry_after=1)
        try:
            _line, sender = await self.sender_for(line_id)
        except LookupError as exc:
            raise NotFound("No such endpoint.") from exc
        try:
            events = sender.parse_event(body)
        except ValueError as exc:
            raise BadRequest(f"Not an event this line's sender sends: {exc}") from exc
        return await self.receipts.record_all(line_id, events)


def _is_loopback(host: str) -> bool:
    address = literal_address(host)
    return host == "localhost" or (address is not None and address.is_loopback)
