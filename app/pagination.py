"""Keyset (cursor) pagination: stable under concurrent inserts, index-backed at any depth."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db import UTCDateTime
from app.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True)
class SortKey:
    column: InstrumentedAttribute[Any]
    descending: bool = False


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, keys: Sequence[SortKey]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return [
            datetime.fromisoformat(v) if _is_datetime(k) else v
            for k, v in zip(keys, raw, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid(
            "cursor is not one this list issued",
            loc=["cursor"],
            source="query",
            msg="invalid cursor",
        ) from exc


def _is_datetime(key: SortKey) -> bool:
    return isinstance(key.column.type, UTCDateTime)


def _after(keys: Sequence[SortKey], values: Sequence[Any]) -> Any:
    """Rows strictly after `values` in the sort order: (a > x) or (a = x and b > y) ..."""
    clauses = []
    for i, key in enumerate(keys):
        equal_prefix = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*equal_prefix, beyond))
    return or_(*clauses)


async def paginate(
    session: AsyncSession, statement: Select[T], keys: Sequence[SortKey], params: PageParams
) -> tuple[list[T], str | None]:
    """One page of `statement` in `keys` order, and the cursor of the next page if there is one."""
    if params.cursor:
        statement = statement.where(_after(keys, _decode(params.cursor, keys)))
    order = [k.column.desc() if k.descending else k.column.asc() for k in keys]
    rows = list((await session.scalars(statement.order_by(*order).limit(params.limit + 1))).all())
    if len(rows) <= params.limit:
        return rows, None
    rows = rows[: params.limit]
    last = rows[-1]
    return rows, _encode([getattr(last, k.column.key) for k in keys])
