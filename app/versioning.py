"""System-versioned tables, in the manner of SQL:2011 temporal tables.

Each versioned table keeps only the current row of every record, so reads of today stay as fast
as before. Its twin `*_versions` table holds each earlier state of a row with the span of
recording time it was current, `[valid_from, valid_to)`. The one way to change a versioned row
is to `archive` it first, then write it with `valid_from` set to the change's moment; reading
the ledger at a past moment is the union of both tables, filtered on that span.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Enum,
    Index,
    Integer,
    String,
    Subquery,
    Table,
    and_,
    insert,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.dml import Insert

from app.db import Base, UTCDateTime, utcnow


class Revised:
    """Who changed a record last, and when; and since when its current row has stood.

    `revision` counts corrections a reader can see. `valid_from` moves with every change of the
    row, derived counters included, since a past moment must be replayed with those too.
    """

    revision: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    revised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revised_by: Mapped[str] = mapped_column(String(200))
    revised_by_key_id: Mapped[str | None] = mapped_column(String(36))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def _plain(column: Column[Any]) -> Any:
    # History keeps values, not rules: an enum's CHECK constraint belongs to the live table.
    if isinstance(column.type, Enum):
        return String(column.type.length)
    return column.type


# Every versioned model and its history table, filled as each domain declares its history.
_HISTORIES: dict[type[Base], Table] = {}


def history_of(model: type[Base], name: str, *, indexed: Sequence[str] = ()) -> Table:
    """The history table of `model`: the same columns, keyed by its key and `valid_from`.

    Declaring it registers the model as versioned, which is how reads of a past moment
    (`app.ledger`) learn where its earlier rows are kept.
    """
    table = model.__table__
    assert isinstance(table, Table)
    key = {c.name for c in table.primary_key.columns} | {"valid_from"}
    history = Table(
        name,
        table.metadata,
        *(
            Column(c.name, _plain(c), primary_key=c.name in key, nullable=c.nullable)
            for c in table.columns
        ),
        Column("valid_to", UTCDateTime(), nullable=False),
        *(Index(None, column) for column in indexed),
    )
    _HISTORIES[model] = history
    return history


def history_table(model: type[Base]) -> Table:
    """The history table `model` registered with `history_of`."""
    try:
        return _HISTORIES[model]
    except KeyError:
        raise LookupError(
            f"{model.__name__} is not versioned: declare it with history_of"
        ) from None


async def lock_rows(session: AsyncSession, model: type[Base], where: ColumnElement[bool]) -> None:
    """Lock these rows for the rest of the transaction, changing nothing.

    An UPDATE rather than SELECT ... FOR UPDATE, because on SQLite only a write takes the
    database's write lock, and a transaction that read first and wrote later could find its
    snapshot overtaken and fail instead of waiting.
    """
    table = model.__table__
    assert isinstance(table, Table)
    await session.execute(update(table).where(where).values(valid_from=table.c.valid_from))


async def archive(
    session: AsyncSession,
    model: type[Base],
    history: Table,
    where: ColumnElement[bool],
    now: datetime,
) -> None:
    """Copy the rows matching `where` into history as they stand, current until `now`.

    A row whose version began at `now` was already changed by this same transaction: its
    in-between state was never visible to anyone, so it is overwritten rather than kept.
    """
    await session.execute(archiving(model, history, where, now))


def archiving(
    model: type[Base], history: Table, where: ColumnElement[bool], now: datetime
) -> Insert:
    """The statement `archive` runs, for a caller that runs it together with the change."""
    table = model.__table__
    assert isinstance(table, Table)
    names = [c.name for c in table.columns]
    return insert(history).from_select(
        [*names, "valid_to"],
        select(*table.columns, literal(now, UTCDateTime())).where(where, table.c.valid_from < now),
    )


# A condition on a table's columns, written once for the live table and its history alike.
RowFilter = Callable[[Table], ColumnElement[bool]]


def parts_at_moment(
    table: Table, history: Table, moment: datetime, where: RowFilter | None = None
) -> list[tuple[Table, ColumnElement[bool]]]:
    """The tables holding the rows of `table` at `moment`, each with the condition its rows
    meet then: the halves of `at_moment`, for a statement that must reach each table's own
    indexes (a recursive walk joined to a union reaches neither on SQLite)."""
    current = table.c.valid_from <= moment
    past = and_(history.c.valid_from <= moment, history.c.valid_to > moment)
    if where is not None:
        current, past = and_(current, where(table)), and_(past, where(history))
    return [(table, current), (history, past)]


def at_moment(
    table: Table, history: Table, moment: datetime, where: RowFilter | None = None
) -> Subquery:
    """The rows of `table` as they stood at `moment`, with the live table's columns.

    `where` narrows both halves of the union before they are joined: a condition on the union
    as a whole reaches neither table's indexes once the union is joined to another (SQLite then
    builds the whole past of every table the statement names, PostgreSQL plans a scan of it).
    """
    halves = [
        select(*(source.c[c.name] for c in table.columns)).where(condition)
        for source, condition in parts_at_moment(table, history, moment, where)
    ]
    return union_all(*halves).subquery(f"{table.name}_at_moment")
