"""Small SDK-level helpers shared by the API tests."""

from __future__ import annotations

from itertools import count
from pathlib import Path

import httpx
import linq

_handles = count(1)


def new_handle(last_digit: int = 0) -> str:
    """A recipient number; its last digit picks the sandbox service (9 SMS, 8 RCS, else iMessage)."""
    return f"+1666{next(_handles):06d}{last_digit}"


def new_chat(client: linq.LinqAPIV3, line: str, *handles: str) -> str:
    to = list(handles) or [new_handle()]
    created = client.chats.create(from_=line, to=to, message={"parts": [{"type": "text", "value": "hello"}]})
    return created.chat.id


def upload(client: linq.LinqAPIV3, data: bytes, filename: str, content_type: str) -> str:
    """Pre-upload through the signed URL exactly as the docs tell a client to."""
    slot = client.attachments.create(filename=filename, content_type=content_type, size_bytes=len(data))  # type: ignore[arg-type]
    response = httpx.put(slot.upload_url, content=data, headers=slot.required_headers)
    assert response.status_code == 200, response.text
    return slot.attachment_id


def upload_file(client: linq.LinqAPIV3, path: Path, content_type: str) -> str:
    return upload(client, path.read_bytes(), path.name, content_type)
