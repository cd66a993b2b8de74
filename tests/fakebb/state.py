"""The fake BlueBubbles server's world: a Mac's chats and messages, its switches, and its webhooks.

It follows BlueBubbles' documented behaviour and source (bluebubbles-server, 2026-07), not
ours: messages serialise as its Message (dates in epoch ms), webhooks go out as unsigned
``{type, data}`` POSTs, once, never retried, and their payloads omit ``isAudioMessage`` and
``datePlayed`` (its notification serialisation); ``updated-message`` carries no ``chats``;
``dateRead`` is reported for 1:1 chats only; a sent message also fires ``new-message``
twice (once with ``tempGuid``).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

ALL_EVENTS = (
    "*", "new-message", "updated-message", "message-send-error", "group-name-change", "group-icon-changed",
    "group-icon-removed", "participant-removed", "participant-added", "participant-left", "chat-read-status-changed",
    "typing-indicator", "scheduled-message-error", "server-update", "new-server", "new-findmy-location",
    "hello-world", "incoming-facetime", "ft-call-status-changed", "imessage-alias-removed", "theme-backup-created",
    "theme-backup-updated", "theme-backup-deleted", "settings-backup-created", "settings-backup-updated",
    "settings-backup-deleted",
)  # fmt: skip


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Fault:
    """An injected behaviour for the next request(s) to one route."""

    route: str  # "attachment", "text", "chat/new", "availability", "info", "any"
    status: int = 500
    message: str = "Attachment Send Error"
    error_type: str = "iMessage Error"
    error_message: str = "Failed to send attachment!"
    #: seconds to hold the request: before doing anything, or after the message is recorded
    hang_before: float = 0.0
    hang_after: float = 0.0
    times: int = 1


@dataclass
class Received:
    """A file the fake received on the attachment route, with every form field."""

    guid: str
    fields: dict[str, str]
    filename: str
    data: bytes


@dataclass
class FakeMac:
    password: str = "mac-secret"
    private_api: bool = True
    helper_connected: bool = True
    macos26: bool = False
    detected_imessage: str | None = "line@icloud.com"
    server_version: str = "1.9.9"
    #: handles registered with iMessage (others are not; availability answers False)
    imessage: set[str] = field(default_factory=set)
    #: webhooks are lost (a BlueBubbles webhook is fire-and-forget)
    drop_webhooks: bool = False
    #: deliver / read our sends automatically after these many seconds (None: only when told)
    auto_deliver: float | None = None
    auto_read: float | None = None
    #: a helper that does not set the audio flag (a failure mode, not BlueBubbles' documented behaviour)
    drops_audio_flag: bool = False

    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    #: tempGuids whose send is still in flight (BlueBubbles refuses a duplicate only then)
    in_flight: set[str] = field(default_factory=set)
    requests: list[str] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    changed: threading.Condition = field(init=False)
    _rowid: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _hook_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def touch(self) -> None:
        """Something happened (a request, a message): wake whoever waits on :meth:`wait`."""
        with self.changed:
            self.changed.notify_all()

    def wait(self, predicate: Any, timeout: float = 20.0) -> None:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise AssertionError(f"the fake Mac never got there; requests: {self.requests[-10:]}")

    @property
    def os_version(self) -> str:
        return "26.1" if self.macos26 else "14.6"

    # ---- chats ----------------------------------------------------------------------------------

    def direct_guid(self, address: str, service: str = "iMessage") -> str:
        return f"any;-;{address}" if self.macos26 else f"{service};-;{address}"

    def add_chat(self, addresses: list[str], service: str = "iMessage") -> dict[str, Any]:
        with self.lock:
            if len(addresses) == 1:
                guid = self.direct_guid(addresses[0], service)
            else:
                guid = f"{'any' if self.macos26 else service};+;chat{uuid.uuid4().int % 10**18}"
            chat = self.chats.get(guid) or {
                "originalROWID": next(self._rowid),
                "guid": guid,
                "style": 45 if len(addresses) == 1 else 43,
                "chatIdentifier": guid.split(";", 2)[2],
                "isArchived": False,
                "displayName": "",
                "participants": [{"address": a, "service": service} for a in addresses],
                "service": service,
            }
            self.chats[guid] = chat
            return chat

    def chat_json(self, chat: dict[str, Any], *, participants: bool = True) -> dict[str, Any]:
        out = {k: v for k, v in chat.items() if k != "service"}
        if not participants:
            out["participants"] = []
        return out

    # ---- messages -------------------------------------------------------------------------------

    def add_message(
        self,
        chat_guid: str,
        *,
        text: str | None = None,
        attachment: tuple[str, int, str] | None = None,
        audio: bool = False,
        from_me: bool = True,
    ) -> dict[str, Any]:
        with self.lock:
            guid = str(uuid.uuid4()).upper()
            attachments = []
            if attachment is not None:
                name, size, mime = attachment
                attachments.append(
                    {
                        "originalROWID": next(self._rowid),
                        "guid": str(uuid.uuid4()).upper(),
                        "uti": "com.apple.coreaudio-format" if name.endswith(".caf") else "public.data",
                        "mimeType": mime,
                        "transferName": name,
                        "totalBytes": size,
                    }
                )
            message = {
                "originalROWID": next(self._rowid),
                "guid": guid,
                "text": text if text is not None else "\ufffc",
                "attributedBody": None,
                "handle": None,
                "handleId": 0,
                "otherHandle": 0,
                "attachments": attachments,
                "subject": None,
                "error": 0,
                "dateCreated": now_ms(),
                "dateRead": None,
                "dateDelivered": None,
                "isDelivered": False,
                "isFromMe": from_me,
                "hasDdResults": False,
                "isArchived": False,
                "itemType": 0,
                "groupTitle": None,
                "groupActionType": 0,
                "balloonBundleId": None,
                "associatedMessageGuid": None,
                "associatedMessageType": None,
                "expressiveSendStyleId": None,
                "threadOriginatorGuid": None,
                "hasPayloadData": False,
                "isAudioMessage": audio,
                "datePlayed": None,
                "_chat": chat_guid,
            }
            self.messages[guid] = message
            self.touch()
        self._schedule_receipts(guid)
        return message

    def message_json(
        self, message: dict[str, Any], *, attachments: bool = True, chats: bool = False, notification: bool = False
    ) -> dict[str, Any]:
        out = {k: v for k, v in message.items() if not k.startswith("_")}
        if not attachments:
            out["attachments"] = []
        if notification:  # BlueBubbles' isForNotification serialisation
            out.pop("isAudioMessage", None)
            out.pop("datePlayed", None)
        if chats:
            out["chats"] = [self.chat_json(self.chats[message["_chat"]])]
        return out

    def chat_messages(self, chat_guid: str | None, after: int | None, limit: int, desc: bool) -> list[dict[str, Any]]:
        with self.lock:
            found = [
                m
                for m in self.messages.values()
                if (chat_guid is None or m["_chat"] == chat_guid) and (after is None or m["dateCreated"] >= after)
            ]
        found.sort(key=lambda m: m["dateCreated"], reverse=desc)
        return found[:limit]

    # ---- receipts (the Mac's database poller noticing changes) -----------------------------------

    def deliver(self, guid: str) -> None:
        with self.lock:
            message = self.messages[guid]
            message["dateDelivered"] = now_ms()
            message["isDelivered"] = True
        self.emit("updated-message", self.message_json(message, notification=True))

    def read(self, guid: str) -> None:
        with self.lock:
            message = self.messages[guid]
            if self.chats[message["_chat"]]["style"] != 45:
                return  # BlueBubbles reports dateRead for 1:1 chats only
            message["dateRead"] = now_ms()
            message["dateDelivered"] = message["dateDelivered"] or message["dateRead"]
        self.emit("updated-message", self.message_json(message, notification=True))

    def fail(self, guid: str, code: int = 4) -> None:
        with self.lock:
            message = self.messages[guid]
            message["error"] = code
        self.emit("message-send-error", self.message_json(message, chats=True, notification=True))

    def _schedule_receipts(self, guid: str) -> None:
        for delay, action in ((self.auto_deliver, self.deliver), (self.auto_read, self.read)):
            if delay is not None:
                timer = threading.Timer(delay, action, args=(guid,))
                timer.daemon = True
                timer.start()

    # ---- webhooks ---------------------------------------------------------------------------------

    def add_webhook(self, url: str, events: list[str]) -> dict[str, Any]:
        with self.lock:
            for hook in self.webhooks:
                if hook["url"] == url:
                    return hook  # the same URL: the existing record, its events unchanged
            hook = {"id": next(self._hook_ids), "url": url, "events": events, "created": time.time()}
            self.webhooks.append(hook)
            return hook

    def emit(self, event_type: str, data: Any) -> None:
        """POST ``{type, data}`` to every matching webhook, in the background, once, unsigned."""
        if self.drop_webhooks:
            return
        with self.lock:
            urls = [h["url"] for h in self.webhooks if "*" in h["events"] or event_type in h["events"]]
        for url in urls:
            threading.Thread(target=_post, args=(url, {"type": event_type, "data": data}), daemon=True).start()

    # ---- faults -------------------------------------------------------------------------------------

    def take_fault(self, route: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.route in (route, "any"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None


def _post(url: str, body: dict[str, Any]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # fire and forget, as BlueBubbles does (it only logs)
        httpx.post(url, json=body, timeout=10)
