"""What every versioned record shares: its revision stamp, its ETag, and the one way a change
of it is written: the revision, its audit entry and its events together."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Table, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.audit import service as audit
from app.audit.models import AuditEntry
from app.audit.service import Action, Actor, Target
from app.db import Base, UTCDateTime
from app.errors import PreconditionFailed
from app.request_ids import current_request_id
from app.schemas import utc_z
from app.versioning import archive


def revised_values(actor: Actor, now: datetime, *, revision: int) -> dict[str, Any]:
    """The stamp of a new revision, written by `actor` at `now`."""
    return {
        "revision": revision,
        "revised_at": now,
        "revised_by": actor.name,
        "revised_by_key_id": actor.key_id,
        "valid_from": now,
    }


Announce = Callable[[Any], Iterable[outbox.Announcement]]
"""The events a change makes, built from the record as the change leaves it."""


async def _announce(session: AsyncSession, announce: Announce | None, record: Any) -> None:
    if announce is not None:
        await outbox.emit_all(session=session, announcements=list(announce(record)))


@dataclass
class Journal:
    """Audit entries and events of new records, kept in order and written together.

    A batch records hundreds of rows: writing what it kept in two statements when it finishes,
    rather than two or three per row, is most of what makes it faster than one-by-one.
    """

    entries: list[dict[str, Any]] = field(default_factory=list)
    # Encoded as they are kept: a batch's event payloads would otherwise all be alive until it
    # finishes, and every sweep of the garbage collector meanwhile would walk them.
    events: list[outbox.Encoded] = field(default_factory=list)

    def created(
        self,
        *,
        target: Target,
        record_id: str,
        actor: Actor,
        now: datetime,
        announcements: Iterable[outbox.Announcement] = (),
    ) -> None:
        """Keep a new record's first revision and the events it makes."""
        self.entries.append(
            audit.entry(
                actor=actor,
                action=Action.created,
                target_type=target,
                target_id=record_id,
                at=now,
                revision=1,
            )
        )
        self.events.extend(map(outbox.encode, announcements))

    async def write(self, session: AsyncSession) -> None:
        """Write what was kept, in the order it was kept, and start again."""
        await audit.write(session=session, entries=self.entries)
        await outbox.emit_encoded(session=session, encoded=self.events)
        self.entries = []
        self.events = []


async def created(
    session: AsyncSession,
    *,
    target: Target,
    record_id: str,
    actor: Actor,
    now: datetime,
    announcements: Iterable[outbox.Announcement] = (),
) -> None:
    """Log a new record's first revision and write the events it makes."""
    journal = Journal()
    journal.created(
        target=target, record_id=record_id, actor=actor, now=now, announcements=announcements
    )
    await journal.write(session)


async def revise(
    session: AsyncSession,
    record: Any,
    history: Table,
    *,
    values: dict[str, Any],
    actor: Actor,
    now: datetime,
    target: Target,
    action: Action,
    reason: str | None,
    changes: dict[str, Any],
    announce: Announce | None = None,
) -> None:
    """Write `values` as the record's next revision: the old row to history, the change logged
    and announced in the same transaction."""
    model = type(record)
    await archive(session, model, history, model.id == record.id, now)
    for name, value in (values | revised_values(actor, now, revision=record.revision + 1)).items():
        setattr(record, name, value)
    await session.flush()
    await audit.log(
        session=session,
        actor=actor,
        action=action,
        target_type=target,
        target_id=record.id,
        at=now,
        revision=record.revision,
        reason=reason,
        changes=changes,
    )
    await _announce(session, announce, record)


async def revise_all(
    session: AsyncSession,
    model: type[Base],
    history: Table,
    where: ColumnElement[bool],
    *,
    values: dict[str, Any],
    actor: Actor,
    now: datetime,
    target: Target,
    action: Action,
    reason: str | None,
    changes: dict[str, Any],
) -> int:
    """Write `values` as the next revision of every row matching `where`, in three statements
    whatever their number; returns how many rows were revised."""
    table = model.__table__
    assert isinstance(table, Table)
    await session.execute(
        insert(AuditEntry).from_select(
            list(_AUDIT_COLUMNS),
            select(
                literal(now, UTCDateTime()),
                literal(action.value),
                literal(actor.key_id, String()),
                literal(actor.name),
                literal(target.value),
                table.c.id,
                table.c.revision + 1,
                literal(reason, String()),
                literal(changes, JSON()),
                literal(current_request_id.get(), String()),
            ).where(where),
        )
    )
    await archive(session, model, history, where, now)
    stamp = {k: v for k, v in revised_values(actor, now, revision=0).items() if k != "revision"}
    result = await session.execute(
        update(table).where(where).values(**values, **stamp, revision=table.c.revision + 1)
    )
    return int(getattr(result, "rowcount", 0) or 0)


_AUDIT_COLUMNS = (
    "at",
    "action",
    "key_id",
    "key_name",
    "target_type",
    "target_id",
    "revision",
    "reason",
    "changes",
    "request_id",
)


async def retire(
    session: AsyncSession,
    record: Any,
    history: Table,
    *,
    actor: Actor,
    now: datetime,
    target: Target,
    action: Action,
    reason: str | None,
    changes: dict[str, Any] | None = None,
    announce: Announce | None = None,
) -> int:
    """End a record: its row goes to history and leaves the current ledger, the change logged
    and announced as its last revision, which is returned."""
    model = type(record)
    await archive(session, model, history, model.id == record.id, now)
    await session.execute(delete(model).where(model.id == record.id))
    session.expunge(record)
    revision: int = record.revision + 1
    await audit.log(
        session=session,
        actor=actor,
        action=action,
        target_type=target,
        target_id=record.id,
        at=now,
        revision=revision,
        reason=reason,
        changes=changes or {},
    )
    await _announce(session, announce, record)
    return revision


def check_revision(current: int, expected: int | None) -> None:
    """Refuse a change made against a revision that is no longer the latest (If-Match)."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"the record is at revision {current}, not {expected}; read it again and retry"
        )


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_z(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def changed_fields(record: object, sent: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`{field: {"from", "to"}}` for each field whose value `sent` would change."""
    changes: dict[str, dict[str, Any]] = {}
    for name, new in sent.items():
        old = jsonable(getattr(record, name))
        if old != jsonable(new):
            changes[name] = {"from": old, "to": jsonable(new)}
    return changes


def etag(revision: int) -> dict[str, str]:
    """The header naming a record's revision, sent with every answer about one record."""
    return {"ETag": f'"{revision}"'}
