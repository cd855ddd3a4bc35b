"""Keyset (cursor) pagination: stable under concurrent inserts, index-backed at any depth."""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from sqlalchemy import Integer, Select, String, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db import UTCDateTime
from app.errors import Invalid
from app.input_guard import refused_character
from app.schemas import in_range

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


async def page_params(
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


# The largest value a BIGINT holds.
_MAX_INTEGER = 2**63 - 1


def _checked(key: SortKey, value: Any) -> Any:
    """A cursor's value for `key`, typed as its column is; ValueError when it cannot be.

    A cursor is client-held text, so each value is checked as strictly as a query parameter
    would be before it reaches SQL: the right type, a length the column holds, a time in range.
    """
    column_type = key.column.type
    if isinstance(column_type, UTCDateTime):
        if not isinstance(value, str):
            raise ValueError
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return in_range(moment)
    if isinstance(column_type, Integer):
        if type(value) is not int or not 0 <= value <= _MAX_INTEGER:
            raise ValueError
        return value
    if isinstance(column_type, String):
        if not isinstance(value, str) or len(value) > (column_type.length or 2000):
            raise ValueError
        if refused_character(value, allow_whitespace=False) is not None:
            raise ValueError
        return value
    raise ValueError


def _decode(cursor: str, keys: Sequence[SortKey]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise ValueError
        return [_checked(k, v) for k, v in zip(keys, raw, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise Invalid(
            "cursor is not one this list issued",
            loc=["cursor"],
            source="query",
            msg="invalid cursor",
        ) from exc


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
