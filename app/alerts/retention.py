"""Forgetting what is past its retention: old events, delivery attempts, idempotency records.

Run by every process that delivers alerts, once at start and then every
`retention_check_seconds`; deleting is idempotent, so several workers doing it cannot clash
in effect. An event is kept, however old, while a delivery of it is still pending.
"""

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts.models import Delivery, DeliveryAttempt, DeliveryStatus
from app.config import Settings
from app.db import utcnow
from app.idempotency.models import IdempotencyRecord
from app.outbox.models import Event
from app.ratelimit import WINDOW_SECONDS, RateLimitWindow

log = logging.getLogger("tracer.retention")


@dataclass(frozen=True)
class Pruned:
    events: int
    attempts: int
    idempotency_records: int


async def prune(
    *, sessionmaker: async_sessionmaker[AsyncSession], days: int, now: datetime | None = None
) -> Pruned:
    """Delete what is older than `days`; how many of each were deleted."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    pending = exists().where(
        and_(Delivery.event_id == Event.id, Delivery.status == DeliveryStatus.pending)
    )
    async with sessionmaker() as session, session.begin():
        attempts = await session.execute(
            delete(DeliveryAttempt).where(DeliveryAttempt.attempted_at < cutoff)
        )
        old_events = select(Event.id).where(Event.created_at < cutoff, ~pending)
        # Their deliveries go with them (ON DELETE CASCADE), settled ones only.
        await session.execute(delete(Delivery).where(Delivery.event_id.in_(old_events)))
        events = await session.execute(delete(Event).where(Event.id.in_(old_events)))
        records = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff)
        )
        current_window = int(now.timestamp() // WINDOW_SECONDS)
        await session.execute(
            delete(RateLimitWindow).where(RateLimitWindow.window_start < current_window - 1)
        )
    return Pruned(
        events=events.rowcount or 0,  # type: ignore[attr-defined]
        attempts=attempts.rowcount or 0,  # type: ignore[attr-defined]
        idempotency_records=records.rowcount or 0,  # type: ignore[attr-defined]
    )


async def keep_pruning(
    *, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Prune now and then every `retention_check_seconds`, until cancelled."""
    while True:
        try:
            pruned = await prune(sessionmaker=sessionmaker, days=settings.retention_days)
            if pruned.events or pruned.attempts or pruned.idempotency_records:
                log.info("pruned past retention", extra=pruned.__dict__)
        except Exception:
            log.warning("pruning failed; trying again later", exc_info=True)
        await asyncio.sleep(settings.retention_check_seconds)
