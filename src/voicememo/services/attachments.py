"""Pre-uploads: a signed PUT URL, the upload itself (checked like any memo audio), read and delete.

The PUT goes to our own route (``/uploads/{id}``), which checks the bytes as they arrive; or, with
S3_PRESIGNED_UPLOADS, straight to the bucket through a presigned URL (type and size signed in), under
``incoming/…``. The server does not hear of that PUT, so the bytes are checked the first time the
attachment is read or sent (or by the sweep once its URL has expired), by the same code: an attachment
is never used before it was checked and measured.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from voicememo.audio.formats import FORMATS, format_for_content_type
from voicememo.domain.filenames import sanitize_filename
from voicememo.domain.models import Attachment, AttachmentStatus
from voicememo.errors import (
    AttachmentNotFound,
    BadRequest,
    ContentTypeMismatch,
    Forbidden,
    InvalidParameter,
    MissingField,
    PayloadTooLarge,
    UnsupportedAudio,
)
from voicememo.services.context import ServiceContext
from voicememo.services.intake import check_and_store
from voicememo.storage.blobs import BlobStoreError
from voicememo.storage.incoming import TooLarge, temp_path, write_stream
from voicememo.storage.repos.attachments import AttachmentRepo
from voicememo.storage.repos.delivery import RenditionRepo
from voicememo.storage.repos.idempotency import record_effect
from voicememo.tracing import current_trace_id

AUDIO_CONTENT_TYPES = sorted({alias for info in FORMATS.values() for alias in info.mime_aliases})
#: where presigned pre-uploads land in the store until they are checked (then moved under audio/)
INCOMING = "incoming"


def incoming_key(partner_id: str, attachment_id: str) -> str:
    return f"{INCOMING}/{partner_id}/{attachment_id}"


@dataclass(frozen=True)
class UploadSlot:
    attachment: Attachment
    upload_url: str
    expires_at: datetime
    required_headers: dict[str, str]


class AttachmentService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._signer = URLSafeTimedSerializer(ctx.settings.signing_key(), salt="voicememo.upload")
        self._presigned = ctx.settings.s3_presigned_uploads

    async def create_upload(
        self, partner_id: str, filename: str | None, content_type: str | None, size_bytes: int | None
    ) -> UploadSlot:
        if not filename:
            raise MissingField("filename is required (1 to 255 characters).")
        if not content_type:
            raise MissingField("content_type is required, e.g. audio/mpeg.")
        if size_bytes is None:
            raise MissingField("size_bytes is required: the exact size of the file in bytes.")
        if len(filename) > 255:
            raise InvalidParameter("filename must be at most 255 characters.")
        fmt = format_for_content_type(content_type)
        if fmt is None:
            raise InvalidParameter(
                f"content_type {content_type!r} is not accepted: voice memos take audio only "
                f"({', '.join(AUDIO_CONTENT_TYPES)})."
            )
        if size_bytes < 1:
            raise InvalidParameter("size_bytes must be at least 1.")
        limit = self.ctx.settings.upload_max_bytes
        if size_bytes > limit:
            raise PayloadTooLarge(f"size_bytes {size_bytes:,} is over the upload limit of {limit:,} bytes.")
        now = self.ctx.clock()
        declared = content_type.split(";", 1)[0].strip().lower()
        attachment = Attachment(
            id=str(uuid.uuid4()),
            partner_id=partner_id,
            filename=sanitize_filename(filename, "voice-memo", FORMATS[fmt].extension),
            content_type=declared,
            size_bytes=size_bytes,
            status=AttachmentStatus.PENDING,
            created_at=now,
        )
        async with self.ctx.db.write() as s:
            await AttachmentRepo(s).add(attachment)
            await record_effect(s, "attachment", attachment.id)
        return await self._slot(attachment)

    async def upload_slot(self, partner_id: str, attachment_id: str) -> UploadSlot:
        """The slot as its creation answered it (an idempotent replay): same attachment, same expiry."""
        return await self._slot(await self.get(partner_id, attachment_id))

    async def _slot(self, attachment: Attachment) -> UploadSlot:
        expires_at = attachment.created_at + timedelta(seconds=self.ctx.settings.upload_url_ttl_seconds)
        required = {"Content-Type": attachment.content_type}
        if self._presigned:
            ttl = max(1, int((expires_at - self.ctx.clock()).total_seconds()))
            url = await self.ctx.blobs.presigned_put(
                incoming_key(attachment.partner_id, attachment.id),
                ttl,
                content_type=attachment.content_type,
                size=attachment.size_bytes,
            )
            if url is not None:
                return UploadSlot(attachment, url, expires_at, required)
        claims = {
            "a": attachment.id,
            "p": attachment.partner_id,
            "s": attachment.size_bytes,
            "t": attachment.content_type,
            "x": int(expires_at.timestamp()),
        }
        return UploadSlot(
            attachment=attachment,
            upload_url=self.ctx.urls.upload(attachment.id, self._signer.dumps(claims)),
            expires_at=expires_at,
            required_headers=required,
        )

    async def receive_upload(
        self,
        attachment_id: str,
        token: str,
        content_type: str | None,
        content_length: str | None,
        body: AsyncIterator[bytes],
    ) -> Attachment:
        claims = self._verify(attachment_id, token)
        partner_id, size, declared = str(claims["p"]), int(str(claims["s"])), str(claims["t"])
        if (content_type or "").split(";", 1)[0].strip().lower() != declared:
            raise ContentTypeMismatch(
                f"The upload's Content-Type is {content_type or 'missing'!r}; this URL was signed for "
                f"{declared!r}. Send exactly the required_headers."
            )
        if content_length is not None and content_length.isdigit() and int(content_length) != size:
            cls = PayloadTooLarge if int(content_length) > size else BadRequest
            raise cls(f"The upload is {int(content_length):,} bytes but size_bytes was {size:,}; they must match.")
        async with self.ctx.db.read() as s:
            attachment = await AttachmentRepo(s).get(partner_id, attachment_id)
        if attachment is None:
            raise AttachmentNotFound()
        if attachment.status is AttachmentStatus.COMPLETE:
            raise InvalidParameter("This attachment was already uploaded; create a new attachment to upload again.")
        async with temp_path(self.ctx.settings.tmp_dir) as path:
            try:
                received = await write_stream(body, path, size)
            except TooLarge as exc:
                raise PayloadTooLarge(f"The upload sent more than size_bytes ({size:,} bytes).") from exc
            if received != size:
                raise BadRequest(f"The upload ended after {received:,} bytes; size_bytes was {size:,}.")
            done = await _check_and_complete(self.ctx, partner_id, attachment_id, path, declared)
        if done is None:
            raise InvalidParameter("This attachment was completed or deleted by another request meanwhile.")
        return done

    def _verify(self, attachment_id: str, token: str) -> dict[str, object]:
        try:
            claims = self._signer.loads(token, max_age=self.ctx.settings.upload_url_ttl_seconds)
        except SignatureExpired as exc:
            raise Forbidden(self._expired_message()) from exc
        except BadSignature as exc:
            raise Forbidden("This upload URL's signature is not valid; use the upload_url exactly as given.") from exc
        if not isinstance(claims, dict) or claims.get("a") != attachment_id:
            raise Forbidden("This upload URL was signed for a different attachment.")
        expires = claims.get("x")
        if isinstance(expires, int) and self.ctx.clock().timestamp() > expires:
            raise Forbidden(self._expired_message())
        return claims

    def _expired_message(self) -> str:
        ttl = _duration(self.ctx.settings.upload_url_ttl_seconds)
        return f"This upload URL has expired (they last {ttl}); create a new attachment."

    async def get(self, partner_id: str, attachment_id: str) -> Attachment:
        """The attachment as it stands (a presigned upload that has arrived is checked first)."""
        async with self.ctx.db.read() as s:
            attachment = await AttachmentRepo(s).get(partner_id, attachment_id)
        if attachment is None:
            raise AttachmentNotFound()
        return await settle_presigned(self.ctx, attachment)

    async def delete(self, partner_id: str, attachment_id: str) -> None:
        async with self.ctx.db.write() as s:
            repo = AttachmentRepo(s)
            attachment = await repo.get(partner_id, attachment_id)
            if attachment is None:
                raise AttachmentNotFound()
            await repo.update(partner_id, attachment_id, deleted_at=self.ctx.clock())
            # renditions are shared by content; they go with the last attachment holding those bytes
            derived = await RenditionRepo(s).remove_orphans(attachment.sha256) if attachment.sha256 else []
        for key in [attachment.blob_key, *derived]:
            if key:
                await self.ctx.blobs.delete(key)

    async def public(self, attachment_id: str) -> Attachment:
        """For the download route: a complete, not deleted attachment, or 404."""
        async with self.ctx.db.read() as s:
            attachment = await AttachmentRepo(s).get_public(attachment_id)
        if attachment is not None:
            attachment = await settle_presigned(self.ctx, attachment)
        if attachment is None or attachment.status is not AttachmentStatus.COMPLETE or not attachment.blob_key:
            raise AttachmentNotFound()
        return attachment


def needs_settling(ctx: ServiceContext, attachment: Attachment) -> bool:
    """Whether a client may have PUT this pending pre-upload's bytes straight to the bucket, unchecked."""
    return attachment.status is AttachmentStatus.PENDING and ctx.settings.s3_presigned_uploads


async def settle_presigned(ctx: ServiceContext, attachment: Attachment) -> Attachment:
    """A pending pre-upload whose bytes a client PUT straight to the bucket: checked and measured now,
    by the code that checks our own PUT route's uploads. Still pending when nothing has arrived;
    ``failed`` with the reason when the bytes are wrong; raises AttachmentNotFound if deleted meanwhile."""
    if not needs_settling(ctx, attachment):
        return attachment
    partner_id, size = attachment.partner_id, attachment.size_bytes
    key = incoming_key(partner_id, attachment.id)
    try:
        stream = await ctx.blobs.open_stream(key)
    except FileNotFoundError:
        return attachment
    async with stream, temp_path(ctx.settings.tmp_dir) as path:
        if stream.size != size:  # the bucket checks the signed Content-Length; this is for stores that do not
            await _fail(
                ctx, partner_id, attachment.id, f"The upload is {stream.size:,} bytes but size_bytes was {size:,}."
            )
        else:
            try:
                await write_stream(stream.chunks, path, size)
                await _check_and_complete(ctx, partner_id, attachment.id, path, attachment.content_type)
            except (UnsupportedAudio, ContentTypeMismatch):
                pass  # recorded on the attachment as failed, with the reason
    await ctx.blobs.delete(key)  # checked (either way): a stored copy or a failure reason replaces it
    async with ctx.db.read() as s:
        settled = await AttachmentRepo(s).get(partner_id, attachment.id)
    if settled is None:
        raise AttachmentNotFound()
    return settled


async def _check_and_complete(
    ctx: ServiceContext, partner_id: str, attachment_id: str, path: Path, declared: str
) -> Attachment | None:
    """Check, measure and store the file at ``path`` (consumed), then mark the attachment complete;
    bad audio marks it failed and raises the user's 4xx. None if another request settled it first."""
    try:
        intake = await check_and_store(ctx, partner_id, attachment_id, path, format_for_content_type(declared))
    except (UnsupportedAudio, ContentTypeMismatch) as exc:
        await _fail(ctx, partner_id, attachment_id, exc.message)
        raise
    except BlobStoreError:
        raise  # the store failed, not the file: the attachment stays pending, to be uploaded again
    except Exception:
        # A bug of ours must not leave the attachment pending with no word on why.
        await _fail(
            ctx,
            partner_id,
            attachment_id,
            f"The file could not be checked because of an internal error (trace {current_trace_id()}); "
            "upload it again, and tell the operator if it keeps failing.",
        )
        raise
    try:
        async with ctx.db.write() as s:
            repo = AttachmentRepo(s)
            if not await repo.update_unless_complete(
                partner_id,
                attachment_id,
                status=AttachmentStatus.COMPLETE,
                failure_reason=None,
                **intake.attachment_fields(),
            ):
                done = None
            else:
                done = await repo.get(partner_id, attachment_id)
    except BaseException:
        await ctx.blobs.delete(intake.blob.key)
        raise
    if done is None:
        await ctx.blobs.delete(intake.blob.key)
    return done


async def _fail(ctx: ServiceContext, partner_id: str, attachment_id: str, reason: str) -> None:
    async with ctx.db.write() as s:
        await AttachmentRepo(s).update_unless_complete(
            partner_id, attachment_id, status=AttachmentStatus.FAILED, failure_reason=reason
        )


def _duration(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if rest or not minutes:
        return f"{seconds} seconds"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
