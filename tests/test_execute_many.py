"""Rows written many at a time read back as written one at a time, on both engines."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import db
from app.db import EncodedJson, execute_many, table_of
from app.enums import EventType
from app.outbox.models import Event

KYIV = timezone(timedelta(hours=2))


def _rows(claim: str) -> list[dict[str, object]]:
    return [
        {
            "type": EventType.claim_created,
            "claim_id": claim,
            "tags": ["grain", "коридор"],
            "data": {"n": n, "text": "«100 000» troops"},
            # Any offset, and the ends of the calendar: stored as UTC and read back so.
            "created_at": at,
        }
        for n, at in enumerate(
            [
                datetime(2022, 8, 5, 1, 30, tzinfo=KYIV),
                datetime(1, 1, 1, tzinfo=UTC),
                datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            ]
        )
    ]


async def _read(session: AsyncSession, claim: str) -> list[tuple[object, ...]]:
    found = await session.execute(
        select(Event.type, Event.tags, Event.data, Event.created_at)
        .where(Event.claim_id == claim)
        .order_by(Event.created_at)
    )
    return [tuple(row) for row in found]


async def test_rows_written_together_read_back_as_written_one_by_one(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with idle_sessionmaker() as session, session.begin():
        await execute_many(session, insert(table_of(Event)), _rows("together"))
        for row in _rows("alone"):
            await session.execute(insert(table_of(Event)).values(**row))
    async with idle_sessionmaker() as session:
        together, alone = await _read(session, "together"), await _read(session, "alone")
        # Stored times compare as times: the earliest first, whatever offset they came in.
        later = await session.scalar(
            select(Event.created_at)
            .where(
                Event.claim_id == "together",
                Event.created_at > datetime(2022, 8, 4, 23, 0, tzinfo=UTC),
            )
            .order_by(Event.created_at)
            .limit(1)
        )
    assert together == alone
    assert later == datetime(2022, 8, 4, 23, 30, tzinfo=UTC)


async def test_a_statement_with_values_of_its_own_is_run_for_every_row(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with idle_sessionmaker() as session, session.begin():
        await execute_many(session, insert(table_of(Event)), _rows("before"))
        ids = list(await session.scalars(select(Event.id).where(Event.claim_id == "before")))
        moved = (
            update(table_of(Event))
            .where(table_of(Event).c.id == bindparam("key"))
            .values(claim_id=literal("after"))
        )
        await execute_many(session, moved, [{"key": event_id, "data": {}} for event_id in ids])
    async with idle_sessionmaker() as session:
        after = await session.scalars(select(Event.data).where(Event.claim_id == "after"))
        assert list(after) == [{}, {}, {}]


async def test_shared_and_merely_equal_values_are_each_stored_as_given(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    shared = {"text": "one object for every row"}
    at = datetime(2022, 8, 5, tzinfo=UTC)
    # Equal in Python, written differently as JSON: none may stand in for another.
    alike: list[object] = [1, True, 1.0]

    def rows(claim: str, data: list[object]) -> list[dict[str, object]]:
        return [
            {
                "type": EventType.claim_created,
                "claim_id": claim,
                "tags": [],
                "data": value,
                "created_at": at,
            }
            for value in data
        ]

    async with idle_sessionmaker() as session, session.begin():
        # The same statement twice: its second run takes the first one's compiled form.
        await execute_many(session, insert(table_of(Event)), rows("shared", [shared] * 3))
        await execute_many(
            session, insert(table_of(Event)), rows("alike", [{"n": n} for n in alike])
        )
    async with idle_sessionmaker() as session:
        stored = await session.scalars(
            select(Event.data).where(Event.claim_id == "shared").order_by(Event.id)
        )
        assert list(stored) == [shared] * 3
        written = await session.scalars(
            select(Event.data).where(Event.claim_id == "alike").order_by(Event.id)
        )
        assert [type(data["n"]) for data in written] == [int, bool, float]


async def test_json_encoded_already_is_stored_as_the_value_it_encodes(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    row = {"type": EventType.claim_created, "tags": [], "created_at": datetime.now(UTC)}
    encoded = EncodedJson('{"text":"«100 000» troops","n":[1,2]}')
    async with idle_sessionmaker() as session, session.begin():
        await execute_many(
            session, insert(table_of(Event)), [{**row, "claim_id": "many", "data": encoded}]
        )
        await session.execute(insert(table_of(Event)).values(**row, claim_id="one", data=encoded))
    async with idle_sessionmaker() as session:
        stored = await session.scalars(select(Event.data).order_by(Event.claim_id))
        assert list(stored) == [{"text": "«100 000» troops", "n": [1, 2]}] * 2


async def test_more_rows_than_one_statement_binds_all_go_in_in_their_order(
    idle_sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Room for two rows of five values a statement: seven rows take three statements of two
    # rows and one of one on SQLite.
    monkeypatch.setattr(db, "_SQLITE_VARIABLES", 10)
    monkeypatch.setattr(db, "_ROWS_PER_STATEMENT", (4, 2, 1))
    at = datetime(2022, 8, 5, tzinfo=UTC)
    rows = [
        {"type": EventType.claim_created, "claim_id": "split", "tags": [], "data": {"n": n}}
        | {"created_at": at}
        for n in range(7)
    ]
    async with idle_sessionmaker() as session, session.begin():
        await execute_many(session, insert(table_of(Event)), rows)
    async with idle_sessionmaker() as session:
        stored = await session.scalars(
            select(Event.data).where(Event.claim_id == "split").order_by(Event.id)
        )
        assert list(stored) == [{"n": n} for n in range(7)]


async def test_batches_of_every_size_share_a_few_statements(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # The driver keeps each statement it prepares: one for each number of rows ever written
    # would hold a connection's memory for every size a batch happened to have.
    texts: set[str] = set()

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("INSERT INTO events"):
            texts.add(statement)

    async with idle_sessionmaker() as session, session.begin():
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            for count in range(1, 300, 7):
                await execute_many(session, insert(table_of(Event)), _rows("sizes") * count)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
    assert 1 <= len(texts) <= len(db._ROWS_PER_STATEMENT)
