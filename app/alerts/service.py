from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import netguard
from app.alerts.crypto import SecretBox, new_webhook_secret
from app.alerts.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
)
from app.alerts.schemas import SubscriptionCreate, SubscriptionUpdate
from app.audit import service as audit
from app.audit.service import Action, Actor, Target
from app.claims import merge as claim_merge
from app.claims.models import Claim
from app.db import insert_or_ignore, new_id, utcnow
from app.enums import EventType
from app.errors import Invalid, NotFound
from app.outbox.models import Event
from app.pagination import PageParams, SortKey, paginate
from app.portable import json_array_contains


async def _check_url(url: str, allow_private: bool) -> None:
    try:
        # What no setting lifts first (an http or https URL with a host), then the addresses.
        await netguard.check_url(url, allow_private=True)
    except netguard.UnsafeUrl as exc:
        raise Invalid(str(exc), loc=["url"]) from None
    try:
        await netguard.check_url(url, allow_private=allow_private)
    except netguard.UnsafeUrl as exc:
        hint = "a server may allow such addresses with TRACER_WEBHOOK_ALLOW_PRIVATE=true"
        raise Invalid(f"{exc} ({hint})", loc=["url"]) from None


async def _check_claims(session: AsyncSession, claim_ids: Sequence[str]) -> None:
    known = set(await session.scalars(select(Claim.id).where(Claim.id.in_(claim_ids))))
    for index, claim_id in enumerate(claim_ids):
        if claim_id not in known:
            raise Invalid(f"no claim with id {claim_id!r}", loc=["claim_ids", index])


async def _log(
    session: AsyncSession, actor: Actor, action: Action, subscription: Subscription
) -> None:
    await audit.log(
        session=session,
        actor=actor,
        action=action,
        target_type=Target.subscription,
        target_id=subscription.id,
        at=utcnow(),
    )


async def create(
    *,
    session: AsyncSession,
    data: SubscriptionCreate,
    box: SecretBox,
    allow_private: bool,
    actor: Actor,
) -> tuple[Subscription, str]:
    """Subscribe a URL to events from now on; returns the subscription and its clear secret."""
    await _check_url(data.url, allow_private)
    await _check_claims(session, data.claim_ids)
    secret = new_webhook_secret()
    now = utcnow()
    subscription = Subscription(
        url=data.url,
        event_types=[t.value for t in dict.fromkeys(data.event_types)],
        claim_ids=list(dict.fromkeys(data.claim_ids)),
        tags=list(dict.fromkeys(data.tags)),
        description=data.description,
        secret_encrypted=box.seal(secret),
        status=SubscriptionStatus.active,
        after_event_id=await session.scalar(select(func.coalesce(func.max(Event.id), 0))),
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    await session.flush()
    await _log(session, actor, Action.created, subscription)
    return subscription, secret


async def get_or_404(*, session: AsyncSession, subscription_id: str) -> Subscription:
    """The subscription with this id, or a 404."""
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no subscription with id {subscription_id!r}")
    return subscription


async def list_subscriptions(
    *, session: AsyncSession, page: PageParams
) -> tuple[list[Subscription], str | None]:
    """Subscriptions, oldest first."""
    keys = [SortKey(Subscription.created_at), SortKey(Subscription.id)]
    return await paginate(session, select(Subscription), keys, page)


async def update(
    *,
    session: AsyncSession,
    subscription: Subscription,
    data: SubscriptionUpdate,
    allow_private: bool,
    actor: Actor,
) -> Subscription:
    """Change a subscription's URL, filters, description or whether it is enabled."""
    if data.url is not None:
        await _check_url(data.url, allow_private)
        subscription.url = data.url
    if data.event_types is not None:
        subscription.event_types = [t.value for t in dict.fromkeys(data.event_types)]
    if data.claim_ids is not None:
        await _check_claims(session, data.claim_ids)
        subscription.claim_ids = list(dict.fromkeys(data.claim_ids))
    if data.tags is not None:
        subscription.tags = list(dict.fromkeys(data.tags))
    if "description" in data.model_fields_set:
        subscription.description = data.description
    if data.enabled is True:
        subscription.status, subscription.status_reason = SubscriptionStatus.active, None
    elif data.enabled is False:
        subscription.status = SubscriptionStatus.disabled
        subscription.status_reason = "disabled through the API"
    subscription.updated_at = utcnow()
    await session.flush()
    await _log(session, actor, Action.updated, subscription)
    return subscription


async def delete_subscription(
    *, session: AsyncSession, subscription: Subscription, actor: Actor
) -> None:
    """Delete a subscription with its deliveries and their history."""
    await _log(session, actor, Action.deleted, subscription)
    await session.execute(delete(Subscription).where(Subscription.id == subscription.id))


async def list_attempts(
    *,
    session: AsyncSession,
    subscription_id: str,
    page: PageParams,
    event_id: int | None = None,
) -> tuple[list[DeliveryAttempt], str | None]:
    """Delivery attempts to one subscription, newest first."""
    statement = select(DeliveryAttempt).where(DeliveryAttempt.subscription_id == subscription_id)
    if event_id is not None:
        statement = statement.where(DeliveryAttempt.event_id == event_id)
    keys = [
        SortKey(DeliveryAttempt.attempted_at, descending=True),
        SortKey(DeliveryAttempt.id, descending=True),
    ]
    return await paginate(session, statement, keys, page)


async def redeliver(
    *, session: AsyncSession, subscription: Subscription, event_id: int
) -> Delivery:
    """Queue an event for this subscription again now, whatever became of it before."""
    if await session.get(Event, event_id) is None:
        raise NotFound(f"no event with id {event_id}")
    now = utcnow()
    values = {
        "id": new_id(),
        "subscription_id": subscription.id,
        "event_id": event_id,
        "status": DeliveryStatus.pending,
        "next_attempt_at": now,
        "created_at": now,
    }
    await insert_or_ignore(session, Delivery, values, ["subscription_id", "event_id"])
    delivery = await session.scalar(
        select(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.event_id == event_id)
        .with_for_update()
    )
    assert delivery is not None
    # A delivery in flight keeps its lease; its worker's answer no longer decides anything.
    delivery.status = DeliveryStatus.pending
    delivery.next_attempt_at = now
    delivery.failures = 0
    delivery.lease_owner = None
    await session.flush()
    return delivery


def _events(types: Sequence[EventType], claim_id: str | None) -> Select[Event]:
    statement = select(Event)
    if types:
        statement = statement.where(Event.type.in_(types))
    if claim_id is not None:
        statement = statement.where(Event.claim_id == claim_id)
    return statement


async def list_events(
    *,
    session: AsyncSession,
    page: PageParams,
    after: int = 0,
    types: Sequence[EventType] = (),
    claim_id: str | None = None,
) -> tuple[list[Event], str | None]:
    """Events with ids above `after`, oldest first."""
    statement = _events(types, claim_id).where(Event.id > after)
    return await paginate(session, statement, [SortKey(Event.id)], page)


async def events_after(
    *,
    session: AsyncSession,
    after: int,
    limit: int,
    types: Sequence[EventType] = (),
    claim_id: str | None = None,
) -> list[Event]:
    """Up to `limit` events with ids above `after`, oldest first."""
    statement = _events(types, claim_id).where(Event.id > after).order_by(Event.id).limit(limit)
    return list((await session.scalars(statement)).all())


@claim_merge.on_merge
async def follow_merge(*, session: AsyncSession, merged_id: str, into_id: str) -> None:
    """Make subscriptions naming a merged claim name the claim it was merged into."""
    naming = await session.scalars(
        select(Subscription).where(json_array_contains(Subscription.claim_ids, merged_id))
    )
    for subscription in naming.all():
        subscription.claim_ids = list(
            dict.fromkeys(into_id if c == merged_id else c for c in subscription.claim_ids)
        )
        subscription.updated_at = utcnow()
    await session.flush()


async def last_event_id(*, session: AsyncSession) -> int:
    """The id of the latest event, 0 before the first: where a live reader starts listening."""
    return await session.scalar(select(func.max(Event.id))) or 0
