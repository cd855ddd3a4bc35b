"""The audit log: one entry per change, written in the change's own transaction."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.db import insert_rows, table_of
from app.errors import NotFound
from app.pagination import PageParams, SortKey, paginate
from app.request_ids import current_request_id


class Action(StrEnum):
    created = "created"
    corrected = "corrected"
    withdrawn = "withdrawn"
    merged = "merged"
    moved = "moved"
    revoked = "revoked"
    updated = "updated"
    deleted = "deleted"


class Target(StrEnum):
    outlet = "outlet"
    claim = "claim"
    sighting = "sighting"
    key = "key"
    subscription = "subscription"


class Actor(Protocol):
    """Whoever made a change: an API key (its id and name) or the command line."""

    @property
    def key_id(self) -> str | None: ...

    @property
    def name(self) -> str: ...


def entry(
    *,
    actor: Actor,
    action: Action,
    target_type: Target,
    target_id: str,
    at: datetime,
    revision: int | None = None,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit row's values, for `write` to add with others in one statement."""
    return {
        "at": at,
        "action": action,
        "key_id": actor.key_id,
        "key_name": actor.name,
        "target_type": target_type,
        "target_id": target_id,
        "revision": revision,
        "reason": reason,
        "changes": changes or {},
        "request_id": current_request_id.get(),
    }


async def write(*, session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Append these entries to the log."""
    if entries:
        await insert_rows(session, table_of(AuditEntry), entries)


async def log(*, session: AsyncSession, **fields: Any) -> None:
    """Append one entry; takes the arguments of `entry`."""
    await write(session=session, entries=[entry(**fields)])


async def history(
    *, session: AsyncSession, target_type: Target, target_id: str, page: PageParams
) -> tuple[list[AuditEntry], str | None]:
    """One record's revisions, newest first."""
    statement = select(AuditEntry).where(
        AuditEntry.target_type == target_type,
        AuditEntry.target_id == target_id,
        AuditEntry.revision.is_not(None),
    )
    return await paginate(session, statement, [SortKey(AuditEntry.id, descending=True)], page)


async def list_entries(
    *,
    session: AsyncSession,
    page: PageParams,
    since: datetime | None = None,
    key_id: str | None = None,
    action: str | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """Every change, newest first, filtered by start time, key and action."""
    statement = select(AuditEntry)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if key_id is not None:
        statement = statement.where(AuditEntry.key_id == key_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    return await paginate(session, statement, [SortKey(AuditEntry.id, descending=True)], page)


async def history_page(
    *, session: AsyncSession, target_type: Target, target_id: str, page: PageParams
) -> tuple[list[AuditEntry], str | None]:
    """A record's history, or a 404 when nothing was ever recorded under that id."""
    rows, next_cursor = await history(
        session=session, target_type=target_type, target_id=target_id, page=page
    )
    if not rows and page.cursor is None:
        raise NotFound(f"no {target_type.value} with id {target_id!r} was ever recorded")
    return rows, next_cursor


async def record_history(*, session: AsyncSession, target_id: str) -> list[AuditEntry]:
    """Every revision of the sighting or claim with this id, newest first, for the command line."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.target_type.in_([Target.sighting, Target.claim]),
            AuditEntry.target_id == target_id,
            AuditEntry.revision.is_not(None),
        )
        .order_by(AuditEntry.id.desc())
        .limit(10_000)
    )
    return list(rows)
