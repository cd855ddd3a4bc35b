"""What the worker forgets: events, attempts and idempotency records past their retention."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts.models import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Subscription,
)
from app.alerts.retention import prune
from app.db import utcnow
from app.enums import EventType
from app.idempotency.models import IdempotencyRecord
from app.outbox.models import Event


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_pruning_keeps_what_is_recent_or_still_owed(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # No app runs: its dispatcher would attempt the pending delivery stored here, adding an
    # attempt of its own before pruning is counted.
    now = utcnow()
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    async with idle_sessionmaker() as session, session.begin():
        subscription = Subscription(
            url="https://hooks.example/in", event_types=["claim.created"], secret_encrypted="x"
        )
        session.add(subscription)
        events = {
            name: Event(type=EventType.claim_created, data={}, created_at=at)
            for name, at in (("old", old), ("old_pending", old), ("recent", recent))
        }
        session.add_all(events.values())
        await session.flush()
        for name, status in (("old", DeliveryStatus.succeeded), ("old_pending", "pending")):
            delivery = Delivery(
                subscription_id=subscription.id,
                event_id=events[name].id,
                status=DeliveryStatus(status),
            )
            session.add(delivery)
            await session.flush()
            for at in (old, recent):
                session.add(
                    DeliveryAttempt(
                        delivery_id=delivery.id,
                        subscription_id=subscription.id,
                        event_id=events[name].id,
                        attempt=1,
                        attempted_at=at,
                        duration_ms=5,
                        outcome=AttemptOutcome.retrying,
                    )
                )
        for key, at in (("old", old), ("recent", recent)):
            session.add(
                IdempotencyRecord(principal="p", key=key, request_hash="h" * 64, created_at=at)
            )

    pruned = await prune(sessionmaker=idle_sessionmaker, days=90, now=now)

    assert (pruned.events, pruned.attempts, pruned.idempotency_records) == (1, 2, 1)
    async with idle_sessionmaker() as session:
        kept = set(await session.scalars(select(Event.id)))
        keys = set(await session.scalars(select(IdempotencyRecord.key)))
    assert kept == {events["old_pending"].id, events["recent"].id}
    assert keys == {"recent"}
    assert await _count(idle_sessionmaker, DeliveryAttempt) == 1
