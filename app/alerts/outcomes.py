"""Writing down how webhook attempts went: each delivery's new state, its attempt in the log,
and a subscription's status when a receiver starts failing, recovers or is gone."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts.delivery import Answer, judge
from app.alerts.models import (
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Subscription,
    SubscriptionStatus,
)
from app.config import Settings
from app.db import take_write_turn, utcnow

_STATUS_AFTER = {
    AttemptOutcome.succeeded: DeliveryStatus.succeeded,
    AttemptOutcome.retrying: DeliveryStatus.pending,
}


class Outcome(NamedTuple):
    delivery: Delivery
    subscription: Subscription
    answer: Answer
    started: datetime


async def record_interrupted(
    session: AsyncSession, rows: Sequence[Any], now: datetime, *, settings: Settings
) -> None:
    """Log the attempts of deliveries whose worker stopped before they ended: sent again."""
    lease = timedelta(seconds=settings.dispatch_lease_seconds)
    deliveries = {
        d.id: d
        for d in await session.scalars(
            select(Delivery).where(Delivery.id.in_([r.id for r in rows]))
        )
    }
    for row in rows:
        delivery = deliveries[row.id]
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                subscription_id=delivery.subscription_id,
                event_id=delivery.event_id,
                attempt=row.attempts + 1,
                attempted_at=row.next_attempt_at - lease,
                duration_ms=0,
                status_code=None,
                error=f"interrupted: worker {row.lease_owner} stopped before the attempt "
                "ended; sending again",
                outcome=AttemptOutcome.interrupted,
                next_retry_at=now,
            )
        )
        delivery.attempts = row.attempts + 1


async def record(
    finished: Sequence[Outcome],
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    owner: str,
) -> None:
    """Write down answers in one transaction, each only where the lease is still ours."""
    now = utcnow()
    outcomes: list[dict[str, Any]] = []
    attempts: list[DeliveryAttempt] = []
    changed: dict[str, AttemptOutcome] = {}
    for delivery, subscription, answer, started in finished:
        failures = 0 if answer.ok else delivery.failures + 1
        verdict = judge(answer, failures=failures, settings=settings, now=now)
        outcomes.append(
            {
                "b_id": delivery.id,
                "b_status": _STATUS_AFTER.get(verdict.outcome, DeliveryStatus.failed),
                "b_failures": failures,
                "b_next": verdict.next_attempt_at,
                "b_code": answer.status_code,
                "b_error": verdict.error,
                "b_delivered": now if answer.ok else None,
            }
        )
        attempts.append(
            DeliveryAttempt(
                delivery_id=delivery.id,
                subscription_id=subscription.id,
                event_id=delivery.event_id,
                attempt=delivery.attempts + 1,
                attempted_at=started,
                duration_ms=answer.duration_ms,
                status_code=answer.status_code,
                error=verdict.error,
                outcome=verdict.outcome,
                next_retry_at=verdict.next_attempt_at,
            )
        )
        quiet = verdict.outcome == AttemptOutcome.succeeded and (
            subscription.status == SubscriptionStatus.active
        )
        if not quiet:
            changed[subscription.id] = verdict.outcome
    table = Delivery.__table__
    assert isinstance(table, Table)
    finish = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.lease_owner == owner,
            table.c.status == DeliveryStatus.pending,
        )
        .values(
            status=bindparam("b_status"),
            attempts=table.c.attempts + 1,
            failures=bindparam("b_failures"),
            next_attempt_at=bindparam("b_next"),
            lease_owner=None,
            last_status_code=bindparam("b_code"),
            last_error=bindparam("b_error"),
            delivered_at=bindparam("b_delivered"),
        )
    )
    async with sessionmaker() as session, session.begin():
        await take_write_turn(session)
        await session.execute(finish, outcomes)
        session.add_all(attempts)
        for subscription_id, outcome in changed.items():
            await _update_subscription(session, subscription_id, outcome)


async def _update_subscription(
    session: AsyncSession, subscription_id: str, outcome: AttemptOutcome
) -> None:
    change: tuple[SubscriptionStatus, SubscriptionStatus, str | None] | None = {
        AttemptOutcome.succeeded: (SubscriptionStatus.failing, SubscriptionStatus.active, None),
        AttemptOutcome.failed: (
            SubscriptionStatus.active,
            SubscriptionStatus.failing,
            "a delivery failed after every retry; redeliver it once the receiver is fixed",
        ),
    }.get(outcome)
    statement = update(Subscription).where(Subscription.id == subscription_id)
    if outcome == AttemptOutcome.gone:
        statement = statement.where(Subscription.status != SubscriptionStatus.disabled).values(
            status=SubscriptionStatus.disabled,
            status_reason="the receiver answered 410 Gone",
            updated_at=utcnow(),
        )
    elif change is not None:
        before, after, reason = change
        statement = statement.where(Subscription.status == before).values(
            status=after, status_reason=reason, updated_at=utcnow()
        )
    else:
        return
    await session.execute(statement.execution_options(synchronize_session=False))
