"""/v3/webhook-subscriptions CRUD."""

from __future__ import annotations

from fastapi import APIRouter, Response

from voicememo.api import schemas as s
from voicememo.api.deps import ContainerDep, CurrentPartner, PresenterDep
from voicememo.api.guard import GuardedRoute

router = APIRouter(prefix="/webhook-subscriptions", tags=["webhook_subscriptions"], route_class=GuardedRoute)


@router.post(
    "", status_code=201, response_model=s.WebhookSubscriptionCreateResponse, operation_id="webhook_subscriptions_create"
)
async def create_subscription(
    body: s.WebhookSubscriptionCreateParams, partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.WebhookSubscriptionCreateResponse:
    sub = await c.webhooks.create(partner.id, body.target_url, body.subscribed_events, body.phone_numbers)
    return p.created_subscription(sub)


@router.get("", response_model=s.WebhookSubscriptionListResponse, operation_id="webhook_subscriptions_list")
async def list_subscriptions(
    partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.WebhookSubscriptionListResponse:
    return s.WebhookSubscriptionListResponse(
        subscriptions=[p.subscription(sub) for sub in await c.webhooks.list_all(partner.id)]
    )


@router.get(
    "/{subscription_id}", response_model=s.WebhookSubscriptionOut, operation_id="webhook_subscriptions_retrieve"
)
async def get_subscription(
    subscription_id: str, partner: CurrentPartner, c: ContainerDep, p: PresenterDep
) -> s.WebhookSubscriptionOut:
    return p.subscription(await c.webhooks.get(partner.id, subscription_id))


@router.put("/{subscription_id}", response_model=s.WebhookSubscriptionOut, operation_id="webhook_subscriptions_update")
async def update_subscription(
    subscription_id: str,
    body: s.WebhookSubscriptionUpdateParams,
    partner: CurrentPartner,
    c: ContainerDep,
    p: PresenterDep,
) -> s.WebhookSubscriptionOut:
    changes = body.model_dump(include=body.model_fields_set)
    return p.subscription(await c.webhooks.update(partner.id, subscription_id, changes))


@router.delete(
    "/{subscription_id}", status_code=204, response_class=Response, operation_id="webhook_subscriptions_delete"
)
async def delete_subscription(subscription_id: str, partner: CurrentPartner, c: ContainerDep) -> Response:
    await c.webhooks.delete(partner.id, subscription_id)
    return Response(status_code=204)
