"""/v3/attachments: pre-upload slots, read, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from voicememo.api import schemas as s
from voicememo.api.deps import Call
from voicememo.api.guard import GuardedRoute

router = APIRouter(tags=["attachments"], route_class=GuardedRoute)


@router.post("/attachments", response_model=s.AttachmentCreateResponse, operation_id="attachments_create")
async def create_attachment(body: s.AttachmentCreateParams, call: Call) -> s.AttachmentCreateResponse:
    slot = await call.c.attachments.create_upload(call.partner_id, body.filename, body.content_type, body.size_bytes)
    return call.p.upload_slot(slot)


@router.get("/attachments/{attachment_id}", response_model=s.AttachmentOut, operation_id="attachments_retrieve")
async def get_attachment(attachment_id: str, call: Call) -> s.AttachmentOut:
    return call.p.attachment(await call.c.attachments.get(call.partner_id, attachment_id))


@router.delete(
    "/attachments/{attachment_id}", status_code=204, response_class=Response, operation_id="attachments_delete"
)
async def delete_attachment(attachment_id: str, call: Call) -> Response:
    await call.c.attachments.delete(call.partner_id, attachment_id)
    return Response(status_code=204)
