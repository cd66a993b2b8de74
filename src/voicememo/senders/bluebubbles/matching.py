"""Reading BlueBubbles' answers: the Mac's macOS, message lists, and "is this message our item?".

An earlier attempt of an item is recognised by what BlueBubbles stores of it (it keeps no
``tempGuid``): from us, created since the attempt began, and the same text, or an attachment with
the same file name and (when the Mac reports one) the same size. Which chat a message belongs to,
for a chat the Mac created meanwhile, is told by its participants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicememo.senders.base import Outgoing


def macos_major(info: Mapping[str, Any]) -> int:
    try:
        return int(str(info.get("os_version") or "0").split(".", 1)[0])
    except ValueError:
        return 0


def message_list(data: Any) -> list[dict[str, Any]]:
    return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


def chat_of(message: dict[str, Any], recipients: tuple[str, ...]) -> str | None:
    """The guid of the message's chat when its participants are exactly our recipients."""
    wanted = {r.lower() for r in recipients}
    for chat in message.get("chats") or []:
        if not isinstance(chat, dict):
            continue
        addresses = {str(p.get("address", "")).lower() for p in chat.get("participants") or [] if isinstance(p, dict)}
        if addresses == wanted and isinstance(chat.get("guid"), str):
            return str(chat["guid"])
    return None


def same_item(message: dict[str, Any], item: Outgoing, after_ms: int) -> bool:
    if message.get("isFromMe") is not True:
        return False
    created = message.get("dateCreated")
    if not isinstance(created, int | float) or created < after_ms:
        return False
    if item.file is None:
        return (message.get("text") or "").strip() == (item.text or "").strip()
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, dict) or attachment.get("transferName") != item.file.filename:
            continue
        size = attachment.get("totalBytes")
        if not isinstance(size, int) or size <= 0 or size == item.file.size_bytes:
            return True
    return False
