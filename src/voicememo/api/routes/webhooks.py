"""/v3/webhook-subscriptions CRUD."""

from __future__ import annotations

from fastapi import APIRouter, Response

from voicememo.api import schemas as s
from voicememo.api.deps import Call
from voicememo.api.guard import GuardedRoute

router = APIRouter(prefix="/webhook-subscriptions", tags=["webhook_subscriptions"], route_class=GuardedRoute)


@router.post(
    "", status_code=201, response_model=s.WebhookSubscriptionCreateResponse, operation_id="webhook_subscriptions_create"
)
async def create_subscription(
    body: s.WebhookSubscriptionCreateParams, call: Call
) -> s.WebhookSubscriptionCreateResponse:
    sub = await call.c.webhooks.create(call.partner_id, body.target_url, body.subscribed_events, body.phone_numbers)
    return call.p.created_subscription(sub)


@router.get("", response_model=s.WebhookSubscriptionListResponse, operation_id="webhook_subscriptions_list")
async def list_subscriptions(call: Call) -> s.WebhookSubscriptionListResponse:
    return s.WebhookSubscriptionListResponse(
        subscriptions=[call.p.subscription(sub) for sub in await call.c.webhooks.list_all(call.partner_id)]
    )


@router.get(
    "/{subscription_id}", response_model=s.WebhookSubscriptionOut, operation_id="webhook_subscriptions_retrieve"
)
async def get_subscription(subscription_id: str, call: Call) -> s.WebhookSubscriptionOut:
    return call.p.subscription(await call.c.webhooks.get(call.partner_id, subscription_id))


@router.put("/{subscription_id}", response_model=s.WebhookSubscriptionOut, operation_id="webhook_subscriptions_update")
async def update_subscription(
    subscription_id: str, body: s.WebhookSubscriptionUpdateParams, call: Call
) -> s.WebhookSubscriptionOut:
    changes = body.model_dump(include=body.model_fields_set)
    return call.p.subscription(await call.c.webhooks.update(call.partner_id, subscription_id, changes))


@router.delete(
    "/{subscription_id}", status_code=204, response_class=Response, operation_id="webhook_subscriptions_delete"
)
async def delete_subscription(subscription_id: str, call: Call) -> Response:
    await call.c.webhooks.delete(call.partner_id, subscription_id)
    return Response(status_code=204)
