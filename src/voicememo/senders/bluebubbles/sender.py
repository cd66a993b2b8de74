"""The BlueBubbles sender: a line bound to one Mac running the BlueBubbles server (one Apple ID).

What makes a bubble: ``POST /api/v1/message/attachment`` with our verified Opus-CAF named
``Audio Message.caf``, ``method=private-api`` and ``isAudioMessage=true`` (AppleScript can never
set the flag). So before every memo the Mac's Private API and helper are checked and a memo
never goes any other way; the reply's ``isAudioMessage`` is passed on for the core to check.
SMS/RCS chats get the MMS rendition as a plain attachment on an ``SMS;-;`` chat.

Chats: a 1:1 chat's guid is ``iMessage;-;<handle>`` / ``SMS;-;<handle>``, or ``any;-;<handle>``
on macOS 26 and later; the form the Mac knows is found with ``GET /api/v1/chat/{guid}`` (404:
try the other) and kept on our chat. A chat the Mac does not have yet (every group, and a
new 1:1) is created by its first text with ``POST /api/v1/chat/new``; BlueBubbles creates chats
only with a text, so a file cannot be the first message to a new chat.

Did an earlier attempt reach the Mac (``find_earlier``)? Our outgoing messages in that chat
created since the attempt began are listed (``GET /api/v1/chat/{guid}/message``; for a chat
not yet created, ``POST /api/v1/message/query`` across chats, matched on the participants);
the earliest one that is from us, is not a message we already know, and carries the same
text, or an attachment with the same file name and size, is taken as that attempt.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from voicememo.domain.models import Service, utcnow
from voicememo.senders.base import (
    Accepted,
    ChatRef,
    LineBinding,
    LineHealth,
    Outgoing,
    ReceiptEvent,
    SenderConfigError,
    SenderError,
    SendRejected,
)
from voicememo.senders.bluebubbles.client import (
    HELPER_DISCONNECTED,
    PRIVATE_API_OFF,
    BlueBubblesClient,
    ProviderFailed,
    ProviderNotFound,
)
from voicememo.senders.bluebubbles.events import EVENTS, error_reason, parse_webhook, receipts_of
from voicememo.senders.bluebubbles.matching import chat_of, macos_major, message_list, same_item

_INFO_FRESH_SECONDS = 300.0
_LIST_LIMIT = 100


class BlueBubblesTimeouts:
    def __init__(self, call: float = 15.0, send: float = 330.0) -> None:
        self.call = call
        self.send = send


class BlueBubblesKind:
    name = "bluebubbles"
    needs_secret = True

    def __init__(self, timeouts: BlueBubblesTimeouts) -> None:
        self.timeouts = timeouts

    def check_config(self, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
        unknown = set(config) - {"url", "send_sms"}
        if unknown:
            raise SenderConfigError(f"unknown bluebubbles settings: {', '.join(sorted(unknown))}.")
        raw = config.get("url")
        if not isinstance(raw, str) or not raw:
            raise SenderConfigError("a bluebubbles line needs the server's URL (--bluebubbles-url http://mac:1234).")
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL as exc:
            raise SenderConfigError(f"--bluebubbles-url is not a valid URL: {exc}.") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise SenderConfigError("--bluebubbles-url must be an http:// or https:// URL with a host name.")
        if url.userinfo:
            raise SenderConfigError("--bluebubbles-url must not contain a user name or password.")
        if url.query or url.fragment:
            raise SenderConfigError("--bluebubbles-url must not have a query or fragment (the password goes apart).")
        send_sms = config.get("send_sms", True)
        if not isinstance(send_sms, bool):
            raise SenderConfigError("send_sms must be true or false.")
        if secret is not None and not secret.strip():
            raise SenderConfigError("the BlueBubbles password is empty.")
        return {"url": str(url).rstrip("/"), "send_sms": send_sms}

    def bind(self, line: LineBinding) -> BlueBubblesSender:
        return BlueBubblesSender(line, self.timeouts)


class BlueBubblesSender:
    def __init__(self, line: LineBinding, timeouts: BlueBubblesTimeouts) -> None:
        self.line = line
        self.url = str(line.config["url"])
        self.send_sms = bool(line.config.get("send_sms", True))
        self.timeouts = timeouts
        self.client = BlueBubblesClient(self.url, (line.secret or "").strip(), timeout=timeouts.call)
        self._info: tuple[float, dict[str, Any]] | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    # ---- questions ---------------------------------------------------------------------------

    async def lookup(self, handle: str) -> Service | None:
        reply = await self.client.get("/api/v1/handle/availability/imessage", {"address": handle})
        data = reply.data if isinstance(reply.data, dict) else {}
        if data.get("available") is True:
            return Service.IMESSAGE
        return Service.SMS if self.send_sms and "@" not in handle else None

    async def server_info(self, *, fresh: bool = False) -> dict[str, Any]:
        if fresh or self._info is None or time.monotonic() - self._info[0] > _INFO_FRESH_SECONDS:
            reply = await self.client.get("/api/v1/server/info")
            self._info = (time.monotonic(), reply.data if isinstance(reply.data, dict) else {})
        return self._info[1]

    async def health(self) -> LineHealth:
        details: dict[str, Any] = {"sender": "bluebubbles", "url": self.url, "reachable": False}
        try:
            await self.client.get("/api/v1/ping")
            details["reachable"] = True
            info = await self.server_info(fresh=True)
        except SenderError as exc:
            details["reachable"] = details["reachable"] or not exc.retryable
            return LineHealth("CRITICAL", exc.message, details, utcnow())
        for key in ("private_api", "helper_connected", "os_version", "server_version", "detected_imessage"):
            details[key] = info.get(key)
        if info.get("private_api") is not True:
            return LineHealth("CRITICAL", PRIVATE_API_OFF, details, utcnow())
        if info.get("helper_connected") is not True:
            return LineHealth("CRITICAL", HELPER_DISCONNECTED, details, utcnow())
        if not info.get("detected_imessage"):
            problem = "No iMessage account is signed in on the Mac: sign in to Messages with the line's Apple ID."
            return LineHealth("AT_RISK", problem, details, utcnow())
        return LineHealth("HEALTHY", None, details, utcnow())

    # ---- sending ------------------------------------------------------------------------------

    async def send(self, item: Outgoing) -> Accepted:
        if item.audio_message:  # never let a memo go out where it cannot be a bubble
            info = await self.server_info(fresh=True)
            if info.get("private_api") is not True:
                raise SendRejected(PRIVATE_API_OFF)
            if info.get("helper_connected") is not True:
                raise SendRejected(HELPER_DISCONNECTED)
        chat_guid = await self._existing_chat(item.chat)
        if chat_guid is None:
            return await self._create_chat(item)
        try:
            if item.file is None:
                reply = await self.client.post(
                    "/api/v1/message/text",
                    {
                        "chatGuid": chat_guid,
                        "message": item.text or "",
                        "tempGuid": item.send_id,
                        "method": "private-api",
                    },
                )
            else:
                fields = {"chatGuid": chat_guid, "name": item.file.filename, "tempGuid": item.send_id}
                fields["method"] = "private-api"
                if item.audio_message:
                    fields["isAudioMessage"] = "true"
                reply = await self.client.post_file(
                    "/api/v1/message/attachment",
                    fields,
                    "attachment",
                    item.file.path,
                    item.file.filename,
                    item.file.mime_type,
                    self.timeouts.send,
                )
        except ProviderFailed as exc:
            raise _settled(exc) from None
        return self._accepted(item, reply.data, chat_guid)

    def _accepted(self, item: Outgoing, message: Any, chat_guid: str) -> Accepted:
        if not isinstance(message, dict) or not isinstance(message.get("guid"), str):
            raise SendRejected("BlueBubbles answered the send without the message it sent (no data.guid).")
        flag = message.get("isAudioMessage")
        return Accepted(message["guid"], chat_guid, flag if item.audio_message and isinstance(flag, bool) else None)

    async def _existing_chat(self, chat: ChatRef) -> str | None:
        """The Mac's guid for the chat, or None when the Mac has no such chat yet."""
        if chat.provider_chat_id and ";" in chat.provider_chat_id:
            return chat.provider_chat_id
        if chat.is_group:
            return None
        for guid in await self._direct_guids(chat):
            try:
                await self.client.get(f"/api/v1/chat/{quote(guid, safe='')}")
            except ProviderNotFound:
                continue
            return guid
        return None

    async def _direct_guids(self, chat: ChatRef) -> list[str]:
        """The forms of a 1:1 chat's guid, the one this Mac's macOS uses first."""
        handle = chat.recipients[0]
        prefix = "iMessage" if chat.service is Service.IMESSAGE else "SMS"
        classic, unified = f"{prefix};-;{handle}", f"any;-;{handle}"
        return [unified, classic] if macos_major(await self.server_info()) >= 26 else [classic, unified]

    async def _create_chat(self, item: Outgoing) -> Accepted:
        if item.file is not None or not item.text:
            raise SendRejected(
                "The Mac has no chat with these recipients yet, and BlueBubbles creates a chat only with a text "
                "message: start the chat with a text (POST /v3/chats with a text part), then send the memo."
            )
        service = "iMessage" if item.chat.service is Service.IMESSAGE else "SMS"
        body = {
            "addresses": list(item.chat.recipients),
            "message": item.text,
            "method": "private-api",
            "service": service,
            "tempGuid": item.send_id,
        }
        try:
            reply = await self.client.post("/api/v1/chat/new", body)
        except ProviderFailed as exc:
            raise _settled(exc) from None
        chat = reply.data if isinstance(reply.data, dict) else {}
        messages = [m for m in chat.get("messages") or [] if isinstance(m, dict)]
        if not isinstance(chat.get("guid"), str) or not messages:
            raise SendRejected("BlueBubbles created the chat but did not answer with its guid and first message.")
        return self._accepted(item, messages[0], chat["guid"])

    # ---- after a crash: did it get there? ------------------------------------------------------

    async def find_earlier(self, item: Outgoing, since: datetime, known: frozenset[str]) -> Accepted | None:
        after = int(since.timestamp() * 1000)
        chat_guid = await self._existing_chat(item.chat)
        if chat_guid is None:
            reply = await self.client.post(
                "/api/v1/message/query",
                {
                    "after": after,
                    "sort": "ASC",
                    "limit": _LIST_LIMIT,
                    "with": ["chat", "chat.participants", "attachment"],
                },
            )
            candidates = [(m, chat_of(m, item.chat.recipients)) for m in message_list(reply.data)]
        else:
            reply = await self.client.get(
                f"/api/v1/chat/{quote(chat_guid, safe='')}/message",
                {"after": after, "sort": "ASC", "limit": _LIST_LIMIT, "with": "attachment"},
            )
            candidates = [(m, chat_guid) for m in message_list(reply.data)]
        for message, guid in candidates:
            if guid and message.get("guid") not in known and same_item(message, item, after):
                return self._accepted(item, message, guid)
        return None

    # ---- receipts -----------------------------------------------------------------------------

    async def poll(self, provider_message_id: str, chat: ChatRef) -> list[ReceiptEvent]:
        try:
            reply = await self.client.get(f"/api/v1/message/{quote(provider_message_id, safe='')}")
        except ProviderNotFound:
            return []
        return receipts_of(reply.data) if isinstance(reply.data, dict) else []

    def parse_event(self, body: bytes) -> list[ReceiptEvent]:
        return parse_webhook(body)

    async def subscribe(self, prefix: str, callback_url: str | None) -> bool:
        reply = await self.client.get("/api/v1/webhook")
        for hook in reply.data if isinstance(reply.data, list) else []:
            if isinstance(hook, dict) and str(hook.get("url", "")).startswith(prefix) and hook.get("id") is not None:
                with contextlib.suppress(ProviderNotFound):  # removed meanwhile
                    await self.client.delete(f"/api/v1/webhook/{quote(str(hook['id']), safe='')}")
        if callback_url is not None:
            await self.client.post("/api/v1/webhook", {"url": callback_url, "events": list(EVENTS)})
        return True


def _settled(exc: ProviderFailed) -> SenderError:
    """A 5xx that carries the Mac's message with an error code is a refusal; any other may be retried."""
    message = exc.data if isinstance(exc.data, dict) else None
    code = message.get("error") if message else None
    if isinstance(code, int) and not isinstance(code, bool) and code > 0:
        return SendRejected(f"The Mac could not send it: {error_reason(code)}.")
    return exc
