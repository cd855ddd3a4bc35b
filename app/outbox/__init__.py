"""The outbox: every change's events, written in the change's own transaction.

Services call `emit` inside their transaction, so an event exists exactly when the change it
announces was committed. Whatever commits such a transaction commits it through `commit`, which
puts the transaction's events in commit order and tells listeners they are there.

Event ids must grow in commit order, or a reader that resumes after id N could miss an event
with a smaller id committed later. SQLite has one writer at a time, so that holds by itself.
PostgreSQL hands out sequence values to concurrent transactions in any order; there, just
before commit, each transaction takes an advisory lock and moves its events to fresh ids. The
lock is the last one the transaction takes, so it cannot deadlock, and it is held only for
that update and the commit.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Select, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import execute_many, table_of, utcnow
from app.enums import EventType
from app.outbox.models import Event
from app.outbox.payloads import EventPayload

EVENTS_CHANNEL = "tracer_events"
_PENDING = "tracer.pending_event_ids"
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

_local_listeners: set[Callable[[], None]] = set()


def listen_locally(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener` after each commit in this process that carried events; returns the undo."""
    _local_listeners.add(listener)
    return lambda: _local_listeners.discard(listener)


class Announcement(NamedTuple):
    """An event to write, with the claim it concerns and that claim's tags (for filtering)."""

    event: EventPayload
    claim_id: str | None = None
    tags: Iterable[str] = ()


def _row(
    type: EventType, data: dict[str, Any], claim_id: str | None, tags: Iterable[str], at: datetime
) -> dict[str, Any]:
    return {"type": type, "data": data, "claim_id": claim_id, "tags": list(tags), "created_at": at}


async def _write(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        # One writer at a time: ids are in commit order already, and none need be known.
        # Without RETURNING the rows go in in one statement rather than one each.
        await execute_many(session, insert(table_of(Event)), rows)
        session.info.setdefault(_PENDING, []).extend([0] * len(rows))
        return
    statement = insert(Event).returning(Event.id, sort_by_parameter_order=True)
    event_ids = list(await session.scalars(statement, rows))
    # These ids are provisional: the events get their final ones in `commit`.
    session.info.setdefault(_PENDING, []).extend(event_ids)


def first_after(event_id: int | None) -> Select[int]:
    """The first event after `event_id`, for a reader that polls for anything new.

    In id order, so that it is found through the key: asked for any one, PostgreSQL scanned
    the table from its start, and every poll of an idle reader grew with the events ever
    written.
    """
    return select(Event.id).where(Event.id > (event_id or 0)).order_by(Event.id).limit(1)


async def emit(
    *,
    session: AsyncSession,
    event: EventPayload,
    claim_id: str | None = None,
    tags: Iterable[str] = (),
) -> None:
    """Write one typed event into the current transaction."""
    await emit_all(session=session, announcements=[Announcement(event, claim_id, tags)])


async def emit_all(*, session: AsyncSession, announcements: Sequence[Announcement]) -> None:
    """Write these typed events into the current transaction in one statement, in order."""
    if not announcements:
        return
    now = utcnow()
    rows = [
        _row(event.event_type, event.model_dump(mode="json"), claim_id, tags, now)
        for event, claim_id, tags in announcements
    ]
    await _write(session, rows)


async def commit(session: AsyncSession) -> None:
    """Commit the session's transaction with its events in commit order, then wake listeners."""
    pending: list[int] = session.info.pop(_PENDING, [])
    if pending and session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDER_LOCK})
        await session.execute(_RENUMBER, {"ids": pending})
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": EVENTS_CHANNEL})
    await session.commit()
    if pending:
        for listener in list(_local_listeners):
            listener()


async def rollback(session: AsyncSession) -> None:
    """Roll the transaction back, forgetting the events it had written."""
    session.info.pop(_PENDING, None)
    await session.rollback()
