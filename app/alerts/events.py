"""The outbox. Domains call these inside their own transaction, so an event exists exactly when
the change it announces was committed.

Event ids must grow in commit order, or a reader that resumes after id N could miss an event
with a smaller id committed later. SQLite has one writer at a time, so that holds by itself.
PostgreSQL hands out sequence values to concurrent transactions in any order; there, just
before commit, each transaction takes an advisory lock and moves its events to fresh ids. The
lock is the last one the transaction takes, so it cannot deadlock, and it is held only for
that update and the commit.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, bindparam, event, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, joinedload

from app.alerts import wakeup
from app.alerts.models import Event, EventType
from app.claims.models import Claim
from app.claims.schemas import Claim as ClaimOut
from app.db import utcnow
from app.denials import rules
from app.enums import DenialStatus
from app.schemas import utc_z
from app.sightings.models import Sighting

_PENDING = "tracer.pending_event_ids"
_COMMITTED = "tracer.committed_events"
# An arbitrary constant naming the advisory lock that orders commits carrying events.
_ORDER_LOCK = 7_351_120_001

_RENUMBER = text(
    """
    UPDATE events SET id = fresh.id
    FROM (
        SELECT old.id AS old_id, nextval(pg_get_serial_sequence('events', 'id')) AS id
        FROM (SELECT id FROM events WHERE id = ANY(:ids) ORDER BY id) AS old
    ) AS fresh
    WHERE events.id = fresh.old_id
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger())))


async def record_event(
    *,
    session: AsyncSession,
    type: EventType,
    data: dict[str, Any],
    claim_id: str | None = None,
    tags: Iterable[str] = (),
) -> None:
    """Write one event into the current transaction; `data` must be JSON-ready."""
    event_id = await session.scalar(
        insert(Event)
        .values(type=type, data=data, claim_id=claim_id, tags=list(tags), created_at=utcnow())
        .returning(Event.id)
    )
    assert isinstance(event_id, int)
    # On PostgreSQL this id is provisional: the event gets its final one just before commit.
    session.sync_session.info.setdefault(_PENDING, []).append(event_id)


@event.listens_for(Session, "before_commit")
def _order_by_commit(session: Session) -> None:
    ids = session.info.get(_PENDING)
    if not ids or session.in_nested_transaction():
        return
    session.info[_COMMITTED] = True
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDER_LOCK})
    session.execute(_RENUMBER, {"ids": ids})
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": wakeup.EVENTS_CHANNEL})


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    if session.info.pop(_COMMITTED, False):
        wakeup.notify_local()


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_COMMITTED, None)


def _claim_data(claim: Claim) -> dict[str, Any]:
    return ClaimOut.model_validate(claim).model_dump(mode="json")


def _sighting_data(sighting: Sighting) -> dict[str, Any]:
    outlet = sighting.outlet
    return {
        "id": sighting.id,
        "claim_id": sighting.claim_id,
        "outlet": {
            "id": outlet.id,
            "slug": outlet.slug,
            "name": outlet.name,
            "kind": outlet.kind.value,
            "country": outlet.country,
        },
        "url": sighting.url,
        "stance": sighting.stance.value,
        "published_at": utc_z(sighting.published_at),
        "published_at_precision": sighting.published_at_precision.value,
        "recorded_at": utc_z(sighting.recorded_at),
        "recorded_by": sighting.recorded_by,
    }


async def claim_created(*, session: AsyncSession, claim_id: str) -> None:
    """Announce a new claim."""
    claim = await session.get(Claim, claim_id)
    assert claim is not None
    await record_event(
        session=session,
        type=EventType.claim_created,
        data={"claim": _claim_data(claim)},
        claim_id=claim.id,
        tags=claim.tags,
    )


async def claim_status_changed(
    *, session: AsyncSession, claim: Claim, new_status: DenialStatus
) -> None:
    """Announce a new denial status; call it before the claim's status is overwritten."""
    if claim.denial_status == new_status:
        return
    await record_event(
        session=session,
        type=EventType.claim_status_changed,
        data={
            "claim_id": claim.id,
            "old_status": claim.denial_status.value,
            "new_status": new_status.value,
        },
        claim_id=claim.id,
        tags=claim.tags,
    )


async def sighting_recorded(*, session: AsyncSession, sighting: Sighting, claim: Claim) -> None:
    """Announce a new sighting (its outlet set), and the official denial it may be."""
    shown = _sighting_data(sighting)
    common: dict[str, Any] = {"session": session, "claim_id": claim.id, "tags": claim.tags}
    await record_event(type=EventType.sighting_recorded, data={"sighting": shown}, **common)
    if rules.is_official_denial(sighting):
        await record_event(
            type=EventType.denial_recorded,
            # The claim's counters and status are about to change in this transaction, so
            # only its stable fields go here; claim.status_changed follows with the new status.
            data={
                "sighting": shown,
                "claim": {
                    "id": claim.id,
                    "statement": claim.statement,
                    "tags": claim.tags,
                    "variant_of": claim.variant_of,
                },
            },
            **common,
        )


async def claim_resurfaced(
    *, session: AsyncSession, claim: Claim, sighting_id: str, first_denial: Sighting, spread: int
) -> None:
    """Announce that a denied claim spreads again; `sighting_id` is the latest spreading one.

    Resurfacing is the moment `resurfaced` turns true: usually a new spreading sighting after a
    denial, but a denial recorded late, before sightings already known, does it too.
    """
    sighting = await session.scalar(
        select(Sighting).options(joinedload(Sighting.outlet)).where(Sighting.id == sighting_id)
    )
    assert sighting is not None
    await record_event(
        session=session,
        type=EventType.claim_resurfaced,
        data={
            "claim_id": claim.id,
            "sighting": _sighting_data(sighting),
            "first_denial_at": utc_z(first_denial.published_at),
            "sightings_after_denial": spread,
        },
        claim_id=claim.id,
        tags=claim.tags,
    )
