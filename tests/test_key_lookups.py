"""Looking up many composite keys at once: exactly the keys that have rows, found through the
table's index on SQLite rather than by reading the whole table (a batch's cost would otherwise
grow with every sighting recorded before it)."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import KEYS_PER_LOOKUP, insert_rows, keys_present, table_of
from app.enums import Stance
from app.network.models import OutletDay

DAY = datetime(2022, 8, 5, tzinfo=UTC)
KEY = [OutletDay.claim_id, OutletDay.outlet_id]


def _day(claim: int, outlet: int) -> dict[str, object]:
    return {
        "claim_id": f"claim-{claim}",
        "outlet_id": f"outlet-{outlet}",
        "day": DAY,
        "stance": Stance.reports,
        "sightings": 1,
        "after_denial": 0,
        "carried_first": 0,
    }


async def _store(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    # Claims 0-39 each carried by outlets 0-9: 400 rows.
    rows = [_day(claim, outlet) for claim in range(40) for outlet in range(10)]
    async with sessionmaker() as session, session.begin():
        await insert_rows(session, table_of(OutletDay), rows)


@pytest.mark.parametrize("asked", [1, 3, 17, KEYS_PER_LOOKUP, 2 * KEYS_PER_LOOKUP + 5])
async def test_only_the_keys_with_rows_are_found(
    idle_sessionmaker: async_sessionmaker[AsyncSession], asked: int
) -> None:
    await _store(idle_sessionmaker)
    # Every other key asked for has rows: outlets 0-9 do, outlets 10 and above do not.
    keys = [(f"claim-{n % 40}", f"outlet-{(n // 40) * 2 + (n % 2) * 10}") for n in range(asked)]
    expected = {key for key in keys if int(key[1].split("-")[1]) < 10}
    async with idle_sessionmaker() as session:
        found = await keys_present(session, KEY, keys)
    assert found == expected


async def test_sqlite_looks_each_key_up_in_the_index(
    idle_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _store(idle_sessionmaker)
    async with idle_sessionmaker() as session:
        engine = session.get_bind()
        if engine.dialect.name != "sqlite":
            pytest.skip("how SQLite plans a lookup of many keys")
        ran: list[tuple[str, Any]] = []

        def record(_conn: Any, _cursor: Any, statement: str, values: Any, *_: Any) -> None:
            ran.append((statement, values))

        event.listen(engine, "before_cursor_execute", record)
        try:
            keys = [(f"claim-{n}", f"outlet-{n}") for n in range(KEYS_PER_LOOKUP)]
            assert await keys_present(session, KEY, keys) == {
                (f"claim-{n}", f"outlet-{n}") for n in range(10)
            }
        finally:
            event.remove(engine, "before_cursor_execute", record)
        [(statement, values)] = ran
        connection = await session.connection()
        explained = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", values)
        plan = [str(row[3]) for row in list[Any](explained)]
    reads = [step for step in plan if "outlet_days" in step]
    assert reads, plan
    assert all(step.startswith("SEARCH") for step in reads), reads
