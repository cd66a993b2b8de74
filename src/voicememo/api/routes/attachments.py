"""/v3/attachments: pre-upload slots, read, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response

from voicememo.api import schemas as s
from voicememo.api.deps import ContainerDep, CurrentPartner, PresenterDep
from voicememo.api.guard import GuardedRoute

router = APIRouter(tags=["attachments"], route_class=GuardedRoute)


@router.post("/attachments", response_model=s.AttachmentCreateResponse, operation_id="attachments_create")
async def create_attachment(
    body: s.AttachmentCreateParams, partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.AttachmentCreateResponse:
    slot = await c.attachments.create_upload(partner.id, body.filename, body.content_type, body.size_bytes)
    return p.upload_slot(slot)


@router.get("/attachments/{attachment_id}", response_model=s.AttachmentOut, operation_id="attachments_retrieve")
async def get_attachment(
    attachment_id: str, partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.AttachmentOut:
    return p.attachment(await c.attachments.get(partner.id, attachment_id))


@router.delete(
    "/attachments/{attachment_id}", status_code=204, response_class=Response, operation_id="attachments_delete"
)
async def delete_attachment(attachment_id: str, partner: CurrentPartner, c: ContainerDep) -> Response:
    await c.attachments.delete(partner.id, attachment_id)
    return Response(status_code=204)
