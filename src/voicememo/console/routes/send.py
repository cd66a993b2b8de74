"""Send a voice memo from the console: a file from the browser, to one of the partner's chats.

The file goes through the API's own intake (``VoiceMemoService.send_file``: sniffed, decoded, measured,
stored), so a bad file is refused with the very code and reason the API answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from starlette.responses import Response

from voicememo.console.conversation import load_conversation
from voicememo.console.web import ConsoleRoute, CsrfChecked, SignedIn, console_of, render, see_other
from voicememo.errors import MissingField, PayloadTooLarge, VoicememoError
from voicememo.storage.incoming import TooLarge, temp_path, write_stream

router = APIRouter(route_class=ConsoleRoute)

#: multipart framing and the small fields around the file
_FORM_OVERHEAD = 64 * 1024


async def body_capped(request: Request) -> None:
    """Refuse an announced body over the upload limit before any of it is read."""
    limit = console_of(request).container.settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD:
        raise PayloadTooLarge(f"The file is larger than {limit:,} bytes, the upload limit.")


@router.post("/console/send", dependencies=[Depends(body_capped), CsrfChecked])
async def send(
    request: Request,
    viewer: SignedIn,
    chat_id: Annotated[str, Form()],
    file: Annotated[UploadFile | None, Form()] = None,
) -> Response:
    console = console_of(request)
    c = console.container
    try:
        if file is None or not file.filename:
            raise MissingField("Choose an audio file to send.")
        async with temp_path(c.settings.tmp_dir) as path:
            try:
                await write_stream(_chunks(file), path, c.settings.upload_max_bytes)
            except TooLarge as exc:
                raise PayloadTooLarge(
                    f"The file is larger than {c.settings.upload_max_bytes:,} bytes, the upload limit."
                ) from exc
            sent = await c.voicememos.send_file(viewer.partner.id, chat_id, path, file.filename)
    except VoicememoError as exc:
        conversation = await load_conversation(console, viewer.partner.id, chat_id)
        return render(
            request,
            "chat.html",
            exc.status,
            title=conversation.title,
            nav="chats",
            partner=viewer.partner,
            conversation=conversation,
            send_error=exc,
        )
    return see_other(f"/console/chats/{sent.chat.id}#m-{sent.message.id}")


async def _chunks(file: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await file.read(256 * 1024):
        yield chunk
