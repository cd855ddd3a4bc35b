"""The migrations build exactly the schema the models describe, on both engines."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from app.claims.matching import terms_of
from app.config import Settings
from app.db import Base, create_engine
from app.migrate import alembic_config, is_at_head, upgrade_to_head
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database


def _columns(index: Any) -> list[str]:
    return [str(getattr(column, "element", column).name) for column in index.expressions]


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = list(compare_metadata(context, Base.metadata))
    if connection.dialect.name != "sqlite":
        return differences
    # SQLite reads an index back without its columns' DESC: the same index then shows as one
    # removed and one added under its name, on the same columns.
    added = {d[1].name: _columns(d[1]) for d in differences if d[0] == "add_index"}
    removed = {d[1].name: _columns(d[1]) for d in differences if d[0] == "remove_index"}
    same = {name for name, columns in added.items() if removed.get(name) == columns}
    return [
        d for d in differences if not (d[0] in ("add_index", "remove_index") and d[1].name in same)
    ]


async def _upgrade_and_compare(url: str) -> list[object]:
    engine = create_engine(Settings(database_url=url))
    try:
        assert not await is_at_head(engine)
        await upgrade_to_head(engine)
        assert await is_at_head(engine)
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_models(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        assert (
            asyncio.run(_upgrade_and_compare(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")) == []
        )
        return
    url = create_postgres_database()
    try:
        assert asyncio.run(_upgrade_and_compare(url)) == []
    finally:
        drop_postgres_database(url)


async def _backfill_case(url: str) -> tuple[int, set[str], list[tuple[str, int, str]], int]:
    """Upgrade to the alerts revision, store a resurfaced claim, then finish: what was filled in."""
    engine = create_engine(Settings(database_url=url))

    def upgrade(connection: Connection, revision: str) -> None:
        command.upgrade(alembic_config(connection), revision)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade, "47cef44db7c6")
            for statement in (
                "INSERT INTO outlets (id, slug, name, kind, aliases, search_text, created_at,"
                " updated_at) VALUES ('o1', 'channel', 'C', 'anonymous_channel', '[]', 'c',"
                " '2022-08-01 00:00:00', '2022-08-01 00:00:00'),"
                " ('o2', 'ministry', 'M', 'official', '[]', 'm',"
                " '2022-08-01 00:00:00', '2022-08-01 00:00:00')",
                "INSERT INTO claims (id, statement, normalized, fingerprint, tags, created_at,"
                " updated_at, denial_status, sightings_count, outlets_count) VALUES"
                " ('c1', 'Troops were offered', 'troops were offered', 'f', '[]',"
                " '2022-08-01 00:00:00', '2022-08-01 00:00:00', 'denied', 3, 2)",
                "INSERT INTO sightings (id, claim_id, outlet_id, url, published_at,"
                " published_at_precision, stance, recorded_at, recorded_by) VALUES"
                " ('s1', 'c1', 'o1', 'https://a/1', '2022-08-01 00:00:00', 'exact', 'asserts',"
                " '2022-08-01 00:00:00', 't'),"
                " ('s2', 'c1', 'o2', 'https://a/2', '2022-08-11 00:00:00', 'exact', 'denies',"
                " '2022-08-01 00:00:00', 't'),"
                " ('s3', 'c1', 'o1', 'https://a/3', '2022-08-12 00:00:00', 'exact', 'reports',"
                " '2022-08-01 00:00:00', 't')",
            ):
                await connection.execute(text(statement))
        # Later revisions run as `tracer migrate` runs them, on a database already holding data.
        await upgrade_to_head(engine)
        async with engine.connect() as connection:
            backfilled = await connection.scalar(
                text("SELECT sightings_after_denial FROM claims WHERE id = 'c1'")
            )
            terms = await connection.scalars(
                text("SELECT term FROM claim_terms WHERE claim_id = 'c1'")
            )
            revisions = await connection.execute(
                text(
                    "SELECT id, revision, revised_by FROM sightings UNION ALL "
                    "SELECT id, revision, revised_by FROM claims ORDER BY id"
                )
            )
            created = await connection.scalar(
                text("SELECT count(*) FROM audit_log WHERE action = 'created'")
            )
            return int(backfilled), set(terms), [tuple(r) for r in revisions], created
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_later_revisions_backfill_what_they_add_for_existing_claims(
    backend: str, tmp_path: Path
) -> None:
    """What later revisions add is filled in for records stored before them.

    Resurfacing counts and the matching index; and every record becomes revision 1 of itself,
    its history starting with its creation, with none of its rows lost on the way.
    """
    revisions = [("c1", 1, "t"), ("s1", 1, "t"), ("s2", 1, "t"), ("s3", 1, "t")]
    expected = (1, terms_of("Troops were offered"), revisions, 6)
    if backend == "sqlite":
        assert asyncio.run(_backfill_case(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")) == expected
        return
    url = create_postgres_database()
    try:
        assert asyncio.run(_backfill_case(url)) == expected
    finally:
        drop_postgres_database(url)
