"""The outbox: every change's events, written in the change's own transaction.

Services call `emit` inside their transaction, so an event exists exactly when the change it
announces was committed. Whatever commits such a transaction commits it through `commit`, which
tells listeners the events are there.

Event ids must grow in commit order, or a reader that resumes after id N could miss an event
with a smaller id committed later. SQLite has one writer at a time, so that holds by itself, and
events are written as they are emitted. PostgreSQL hands out sequence values to concurrent
transactions in any order; there, a transaction's events are kept until it commits, then
written under an advisory lock held until the commit ends, so they take their ids in commit
order. The lock is the last one the transaction takes, so it cannot deadlock, and it is held
only for that insert and the commit. Events emitted in a savepoint that rolls back are dropped
with it, and whatever commits the transaction, through `commit` or not, writes them.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from app.db import EncodedJson, execute_many, table_of, unnested_insert, utcnow
from app.enums import EventType
from app.outbox.models import Event
from app.outbox.payloads import EventPayload

EVENTS_CHANNEL = "tracer_events"
# SQLite: how many events the transaction wrote. PostgreSQL: the events it will write at its
# commit, each with the innermost transaction it was emitted in.
_WRITTEN = "tracer.events_written"
_KEPT = "tracer.events_kept"
# An arbitrary constant naming the advisory lock that orders commits carrying events.
_ORDER_LOCK = 7_351_120_001

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


class Encoded(NamedTuple):
    """An announcement encoded: what its event's row holds but the moment it is written."""

    type: EventType
    data: EncodedJson
    claim_id: str | None
    tags: list[str]


def encode(announcement: Announcement) -> Encoded:
    """Encoded by pydantic, once: a dict of JSON-ready values would be encoded again."""
    event, claim_id, tags = announcement
    return Encoded(event.event_type, EncodedJson(event.model_dump_json()), claim_id, list(tags))


async def _write(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        # One writer at a time: ids are in commit order already, and none need be known.
        await execute_many(session, insert(table_of(Event)), rows)
        session.info[_WRITTEN] = session.info.get(_WRITTEN, 0) + len(rows)
        return
    sync_session = session.sync_session
    emitted_in = sync_session.get_nested_transaction() or sync_session.get_transaction()
    session.info.setdefault(_KEPT, []).extend((row, emitted_in) for row in rows)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    kept = session.info.get(_KEPT)
    if kept:
        kept[:] = [(row, at) for row, at in kept if not _within(at, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _forget_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEPT, None)
        session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "before_commit")
def _write_kept(session: Session) -> None:
    """Write a PostgreSQL transaction's events in commit order, whatever commits it."""
    if session.in_nested_transaction():
        return
    kept = session.info.pop(_KEPT, None)
    if not kept:
        return
    # Built before the lock, and the lock taken with the notification in one round trip: the
    # lock is held from there to the end of the commit, and every other committing writer
    # waits meanwhile. The notification goes out at the commit whenever it is asked for.
    statement, columns = unnested_insert(table_of(Event), [row for row, _ in kept], in_order=True)
    session.execute(
        text("SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, '')"),
        {"key": _ORDER_LOCK, "channel": EVENTS_CHANNEL},
    )
    session.execute(statement, columns)


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
    await emit_encoded(session=session, encoded=[encode(each) for each in announcements])


async def emit_encoded(*, session: AsyncSession, encoded: Sequence[Encoded]) -> None:
    """`emit_all` for announcements encoded already."""
    if not encoded:
        return
    now = utcnow()
    rows = [
        {"type": type, "data": data, "claim_id": claim_id, "tags": tags, "created_at": now}
        for type, data, claim_id, tags in encoded
    ]
    await _write(session, rows)


async def commit(session: AsyncSession) -> None:
    """Commit the session's transaction with its events in commit order, then wake listeners."""
    carries_events = bool(session.info.get(_KEPT) or session.info.get(_WRITTEN))
    await session.commit()
    if carries_events:
        for listener in list(_local_listeners):
            listener()


async def rollback(session: AsyncSession) -> None:
    """Roll the transaction back, forgetting the events it had written."""
    await session.rollback()
