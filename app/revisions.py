"""What every versioned record shares: its revision stamp, its ETag, and how a change is told."""

import re
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from fastapi import Depends, Header
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.service import Action, Actor, Target
from app.errors import Invalid, PreconditionFailed
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
) -> None:
    """Write `values` as the record's next revision: the old row to history, the change logged."""
    model = type(record)
    await archive(session, model, history, model.id == record.id, now)
    for field, value in (values | revised_values(actor, now, revision=record.revision + 1)).items():
        setattr(record, field, value)
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
    for field, new in sent.items():
        old = jsonable(getattr(record, field))
        if old != jsonable(new):
            changes[field] = {"from": old, "to": jsonable(new)}
    return changes


_ENTITY_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            max_length=100,
            description='`"<revision>"`: refuse the change (412) if the record has moved on.',
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ENTITY_TAG.match(if_match)
    if found is None:
        raise Invalid(
            'If-Match must be "*" or an ETag this service gave, like "3"',
            loc=["If-Match"],
            source="header",
        )
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(_if_match)]


def etag(revision: int) -> dict[str, str]:
    """The header naming a record's revision, sent with every answer about one record."""
    return {"ETag": f'"{revision}"'}
