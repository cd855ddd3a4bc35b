"""The capture queue: which sightings' sources are due to be fetched, and who is fetching them.

A sighting joins the queue through the outbox: recording it writes `sighting.recorded` in the
recording's own transaction, and correcting its URL writes `sighting.corrected`; `queue_from_events`
turns those events into due rows, any number of times without harm, so no recorded sighting is
missed and none is queued twice. Leases follow the alert deliveries' pattern: a worker leases a
due row by moving `due_at` a lease period ahead under its own name, so a row whose worker died
comes due again by itself, and only the lease holder may write what its fetch found.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.db import dialect_insert, insert_or_ignore, utcnow
from app.enums import EventType, EvidenceStatus
from app.evidence.models import EvidenceCursor, SightingEvidence
from app.outbox.models import Event
from app.sightings.models import Sighting

CURSOR = "captures"
_QUEUING = (EventType.sighting_recorded, EventType.sighting_corrected)


def _pending_rows(sighting_ids: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    """A new evidence row per sighting (each once), pending and due now."""
    return [
        {
            "sighting_id": sighting_id,
            "status": EvidenceStatus.pending,
            "captures": 0,
            "rechecks": 0,
            "attempts": 0,
            "due_at": now,
        }
        for sighting_id in dict.fromkeys(sighting_ids)
    ]


async def enqueue(
    *, session: AsyncSession, sighting_ids: Sequence[str], fresh: bool = False, now: datetime
) -> None:
    """Make these sightings' sources due now, in one statement.

    `fresh` (a new URL) starts a sighting's evidence over: pending, its re-checks counted from
    the next capture; earlier captures stay. Otherwise a queued sighting is only made due now.
    """
    if not sighting_ids:
        return
    rows = _pending_rows(sighting_ids, now)
    statement = dialect_insert(session)(SightingEvidence)
    again: dict[str, Any] = {"due_at": now, "attempts": 0}
    if fresh:
        again |= {
            "status": EvidenceStatus.pending,
            "first_captured_at": None,
            "rechecks": 0,
            "problem": None,
            "lease_owner": None,
        }
    await session.execute(
        statement.on_conflict_do_update(index_elements=["sighting_id"], set_=again), rows
    )


def _queued_by(event: Event) -> tuple[str, bool] | None:
    """(sighting id, whether its URL is new) for an event that queues a capture."""
    sighting_id = (event.data.get("sighting") or {}).get("id")
    if not isinstance(sighting_id, str):
        return None
    if event.type == EventType.sighting_recorded:
        return sighting_id, False
    if "url" in (event.data.get("changes") or {}):
        return sighting_id, True
    return None


async def queue_from_events(*, session: AsyncSession, batch: int) -> int:
    """Queue the sightings announced by the next events past the cursor; how many events were
    read. One process at a time moves the cursor; a repeated round queues nothing twice."""
    done = await session.scalar(
        select(EvidenceCursor.event_id).where(EvidenceCursor.name == CURSOR)
    )
    newer = await session.scalar(outbox.first_after(done))
    if newer is None:
        return 0
    await insert_or_ignore(session, EvidenceCursor, {"name": CURSOR, "event_id": 0}, ["name"])
    start = await session.scalar(
        select(EvidenceCursor.event_id)
        .where(EvidenceCursor.name == CURSOR)
        .with_for_update(skip_locked=True)
    )
    if start is None:
        return 0
    events = (
        await session.scalars(select(Event).where(Event.id > start).order_by(Event.id).limit(batch))
    ).all()
    if not events:
        return 0
    now = utcnow()
    queued = [q for event in events if event.type in _QUEUING and (q := _queued_by(event))]
    recorded = [sighting_id for sighting_id, fresh in queued if not fresh]
    moved = [sighting_id for sighting_id, fresh in queued if fresh]
    await queue_new(session=session, sighting_ids=recorded, now=now)
    await enqueue(session=session, sighting_ids=moved, fresh=True, now=now)
    # SQLite has no row locks: the cursor only moves if nobody moved it meanwhile.
    result = await session.execute(
        update(EvidenceCursor)
        .where(EvidenceCursor.name == CURSOR, EvidenceCursor.event_id == start)
        .values(event_id=events[-1].id)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return 0
    return len(events)


async def queue_new(*, session: AsyncSession, sighting_ids: Sequence[str], now: datetime) -> None:
    """Queue the sightings that have no evidence yet; those queued already keep their place."""
    if not sighting_ids:
        return
    rows = _pending_rows(sighting_ids, now)
    await session.execute(dialect_insert(session)(SightingEvidence).on_conflict_do_nothing(), rows)


async def queue_unqueued(*, session: AsyncSession, limit: int) -> int:
    """Queue up to `limit` current sightings that were never queued (recorded before captures
    existed, or while nothing queued them); how many."""
    missing = (
        await session.scalars(
            select(Sighting.id)
            .outerjoin(SightingEvidence, SightingEvidence.sighting_id == Sighting.id)
            .where(SightingEvidence.sighting_id.is_(None))
            .order_by(Sighting.id)
            .limit(limit)
        )
    ).all()
    await queue_new(session=session, sighting_ids=list(missing), now=utcnow())
    return len(missing)


async def lease(
    *,
    session: AsyncSession,
    owner: str,
    limit: int,
    seconds: float,
    pending_only: bool = False,
) -> list[str]:
    """Lease up to `limit` due sightings for `owner`; their ids. `pending_only`, only those
    never fetched."""
    now = utcnow()
    due = (
        select(SightingEvidence.sighting_id)
        .where(SightingEvidence.due_at <= now)
        .order_by(SightingEvidence.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if pending_only:
        due = due.where(SightingEvidence.status == EvidenceStatus.pending)
    candidates = list((await session.scalars(due)).all())
    if not candidates:
        return []
    leased = await session.scalars(
        update(SightingEvidence)
        .where(SightingEvidence.sighting_id.in_(candidates), SightingEvidence.due_at <= now)
        .values(lease_owner=owner, due_at=now + timedelta(seconds=seconds))
        .returning(SightingEvidence.sighting_id)
        .execution_options(synchronize_session=False)
    )
    return list(leased.all())


def next_check(
    first_captured_at: datetime, days: Sequence[int], now: datetime
) -> tuple[datetime, int]:
    """When a captured source is next fetched, and how many re-checks that one makes: the
    offsets in `days` from its first capture, then the last figure over and over."""
    offsets = list(days[:-1])
    step = days[-1]
    total = offsets[-1] if offsets else 0
    count = 0
    for offset in offsets:
        count += 1
        moment = first_captured_at + timedelta(days=offset)
        if moment > now:
            return moment, count
    # Past the listed offsets: every `step` days, counted on from the last of them.
    passed = (now - (first_captured_at + timedelta(days=total))) // timedelta(days=step)
    repeats = max(int(passed), 0) + 1
    return first_captured_at + timedelta(days=total + step * repeats), count + repeats
