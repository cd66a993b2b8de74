"""`voicememo send`: line → chat → pre-upload → send → (wait), with one exit code per kind of outcome.

The file is checked here only for what the server cannot see (exists, readable, size): whether it is
audio is the server's call, and its reason is printed as it gave it. The upload comes before the
chat is opened, so a refused file never leaves a new chat (and its opening text) behind.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicememo.cli.partnerapi import DEFAULT_BASE_URL, ApiError, PartnerApi, Unreachable, normal
from voicememo.cli.sendview import View

# Exit codes (documented in `voicememo send --help` and the README)
OK, FAILED, USAGE, REFUSED, AUTH, UNREACHABLE, TIMED_OUT = 0, 1, 2, 3, 4, 5, 6
MAX_BYTES = 104_857_600  # the contract's pre-upload cap
#: the declared type, from the name only; the server checks it against the bytes (5006 when they differ)
CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4a": "audio/x-m4a",
    ".mp4": "audio/mp4",
    ".3gp": "audio/mp4",
    ".aac": "audio/aac",
    ".caf": "audio/x-caf",
    ".wav": "audio/wav",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    ".aifc": "audio/aiff",
    ".amr": "audio/amr",
}


class Stop(Exception):
    """An expected end short of success: its exit code, and what to tell the user."""

    def __init__(self, exit_code: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.exit_code, self.message, self.fields = exit_code, message, fields


@dataclass(frozen=True)
class SendRequest:
    file: Path
    to: list[str]
    line: str | None
    text: str | None
    wait: bool
    timeout: float
    as_json: bool
    base_url: str | None
    api_key: str | None
    content_type: str | None
    progress: bool | None
    idempotency_key: str | None = None


def run(req: SendRequest) -> int:
    """Do the whole send; print the outcome (text or one JSON object); return the exit code."""
    view = View(req.as_json, req.progress)
    try:
        key = req.api_key or os.environ.get("LINQ_API_V3_API_KEY")
        if not key:
            raise Stop(USAGE, "no API key: pass --api-key or set LINQ_API_V3_API_KEY.")
        base_url = req.base_url or os.environ.get("LINQ_API_V3_BASE_URL") or DEFAULT_BASE_URL
        if req.idempotency_key is not None and not 1 <= len(req.idempotency_key) <= 200:
            raise Stop(USAGE, "--idempotency-key must be 1 to 200 characters.")
        size, content_type = check_file(req.file, req.content_type)
        view.result.update(file=str(req.file), size_bytes=size, content_type=content_type, base_url=base_url)
        api = PartnerApi(base_url, key)
        try:
            code = _send(api, req, view, size, content_type)
        finally:
            api.close()
    except Stop as stop:
        return view.fail(stop.exit_code, stop.message, **stop.fields)
    except ApiError as err:
        kind, said = _refusal(err)
        fields = {"http_status": err.status, "error_code": err.code, "error_reason": err.message}
        return view.fail(kind, said, **fields, trace_id=err.trace_id)
    except Unreachable as exc:
        return view.fail(UNREACHABLE, f"{exc} (check --base-url / LINQ_API_V3_BASE_URL)")
    except (KeyError, TypeError, ValueError) as exc:  # a 2xx without the contract's shape
        return view.fail(UNREACHABLE, f"unexpected answer from the server ({exc!r}): is it a Partner API v3 server?")
    except KeyboardInterrupt:
        return view.fail(130, "interrupted")
    return code


def _refusal(err: ApiError) -> tuple[int, str]:
    """The exit code and the words for an error answer."""
    if err.status in (401, 403) and err.code in (2004, 2005, None):
        return AUTH, f"the API key was refused: {err} (check --api-key / LINQ_API_V3_API_KEY)"
    if err.status >= 500:
        return UNREACHABLE, f"the server failed: {err}"
    if err.code is None:  # not the contract's error body: likely not the API at all
        return REFUSED, f"the server refused: {err} (is --base-url a Partner API v3 server?)"
    return REFUSED, f"the server refused: {err}"


def check_file(path: Path, content_type: str | None) -> tuple[int, str]:
    """Exists, is a readable file of 1 byte to 100 MB; its declared type from --content-type or the name."""
    if not path.exists():
        raise Stop(USAGE, f"{path}: no such file.")
    if not path.is_file():
        raise Stop(USAGE, f"{path}: not a file.")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise Stop(USAGE, f"{path}: cannot be read ({exc.strerror}).") from exc
    size = path.stat().st_size
    if size == 0:
        raise Stop(USAGE, f"{path}: the file is empty.")
    if size > MAX_BYTES:
        raise Stop(USAGE, f"{path}: {size:,} bytes; the server takes at most {MAX_BYTES:,} (100 MB).")
    declared = content_type or CONTENT_TYPES.get(path.suffix.lower())
    if declared is None:
        known = ", ".join(CONTENT_TYPES)
        raise Stop(USAGE, f"{path}: cannot tell the audio type from the name ({known}); pass --content-type.")
    return size, declared


def choose_line(api: PartnerApi, wanted: str | None) -> str:
    lines = api.lines()
    if wanted is not None:
        if wanted not in lines:
            raise Stop(
                USAGE, f"--from {wanted} is not a line of this API key; its lines: {', '.join(lines) or 'none'}."
            )
        return wanted
    if len(lines) == 1:
        return lines[0]
    if not lines:
        raise Stop(USAGE, "this API key has no lines; add one on the server (voicememo lines add).")
    raise Stop(USAGE, f"this API key has {len(lines)} lines; choose one with --from: {', '.join(lines)}.")


def _send(api: PartnerApi, req: SendRequest, view: View, size: int, content_type: str) -> int:
    # The keys of this run's POSTs: a retried POST never acts twice, and a re-run with the same
    # --idempotency-key gets the first run's attachment and memo back instead of sending again.
    run_id = req.idempotency_key or uuid.uuid4().hex
    line = choose_line(api, req.line)
    to = list(dict.fromkeys(normal(h) for h in req.to))
    view.result.update({"from": line, "to": to})
    chat = api.find_chat(line, to)
    if chat is None and not req.text:
        raise Stop(
            USAGE,
            f"no chat from {line} with {', '.join(to)} yet, and the API opens a chat with a text message: "
            'run again with --text "…" (sent first, then the memo).',
        )
    slot = api.create_attachment(req.file.name, content_type, size, f"{run_id}-attachment")
    view.result["attachment_id"] = slot.attachment_id
    earlier = api.attachment_status(slot.attachment_id) if slot.replayed else "pending"
    if earlier == "failed":
        raise Stop(REFUSED, "the server refused this file in an earlier run with this --idempotency-key.")
    if earlier != "complete":
        with view.uploading(req.file.name, size) as advance:
            api.upload(slot, req.file, size, advance)
    how = "uploaded" if earlier != "complete" else "already uploaded by an earlier run:"
    view.say(f"{how} {req.file.name}: {size:,} bytes as {content_type} (attachment {slot.attachment_id})")
    created = chat is None
    if chat is None:
        assert req.text is not None
        chat = api.create_chat(line, to, req.text, f"{run_id}-chat")
    view.result.update(chat_id=chat["id"], chat_created=created)
    how = "new, opened with your text" if created else "existing"
    view.say(f"chat {chat['id']} from {line} with {', '.join(to)} ({how})")

    memo, replayed = api.send_voicememo(chat["id"], slot.attachment_id, f"{run_id}-send")
    duration = memo["voice_memo"]["duration_ms"]
    view.result.update(
        message_id=memo["id"],
        status=memo["status"],
        service=memo["service"],
        duration_ms=duration,
        replayed=replayed,
        transitions=[],
    )
    accepted = "accepted by an earlier run (not sent again)" if replayed else "accepted"
    view.say(f"voice memo {memo['id']} {accepted}: {duration / 1000:.3f} s, {memo['service']}, {memo['status']}")
    if not req.wait:
        return view.done(OK)
    return _wait(api, req, view, memo["id"])


def _wait(api: PartnerApi, req: SendRequest, view: View, message_id: str) -> int:
    from voicememo.cli.follow import follow

    with view.waiting() as show:
        followed = follow(api, message_id, req.timeout, view.transition, show)
    view.result["status"] = followed.status
    if followed.timed_out:
        raise Stop(TIMED_OUT, f"still {followed.status} after {req.timeout:g} s (--timeout); it may yet be delivered.")
    if followed.status == "failed":
        raise Stop(
            FAILED,
            f"delivery failed: {followed.error_code} {followed.error_reason}",
            error_code=followed.error_code,
            error_reason=followed.error_reason,
        )
    return view.done(OK)
