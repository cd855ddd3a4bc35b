"""The canonical-URL revision on a database holding sightings: every row gets its canonical URL,
and rows the new duplicate rule finds repeating each other are reported and kept, not merged."""

import asyncio
import logging
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db import create_engine
from app.migrate import alembic_config, upgrade_to_head
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database

REVISION = "3b6f1d9e2a48"
STAMP = "'2022-08-01 00:00:00'"
REVISED = f"1, {STAMP}, 't', {STAMP}"
ROWS = [
    "INSERT INTO outlets (id, slug, name, kind, aliases, search_text, created_at, updated_at,"
    f" recorded_by, revision, revised_at, revised_by, valid_from) VALUES ('o1', 'times', 'T',"
    f" 'news_outlet', '[]', 't', {STAMP}, {STAMP}, 't', {REVISED})",
    "INSERT INTO claims (id, statement, normalized, fingerprint, tags, created_at, updated_at,"
    " denial_status, sightings_count, outlets_count, recorded_by, revision, revised_at,"
    " revised_by, valid_from) VALUES ('c1', 'Troops were offered', 'troops were offered', 'f',"
    f" '[]', {STAMP}, {STAMP}, 'none', 3, 1, 't', {REVISED})",
    *(
        "INSERT INTO sightings (id, claim_id, outlet_id, url, published_at,"
        " published_at_precision, stance, recorded_at, recorded_by, revision, revised_at,"
        f" revised_by, valid_from) VALUES ('{sid}', 'c1', 'o1', '{url}', {STAMP}, 'exact',"
        f" 'reports', '2022-08-0{n} 00:00:00', 't', {REVISED})"
        for n, (sid, url) in enumerate(
            [
                ("s1", "https://www.times.example/a?utm_source=tg"),
                ("s2", "http://times.example/a#top"),
                ("s3", "https://times.example/b"),
            ],
            start=1,
        )
    ),
    "INSERT INTO sighting_versions (id, claim_id, outlet_id, url, published_at,"
    " published_at_precision, stance, recorded_at, recorded_by, revision, revised_at,"
    f" revised_by, valid_from, valid_to) VALUES ('s3', 'c1', 'o1', 'https://m.times.example/b/amp/',"
    f" {STAMP}, 'exact', 'reports', {STAMP}, 't', {REVISED}, '2022-08-03 00:00:00')",
]


async def _migrate_with_rows(url: str) -> dict[str, tuple[str, str | None]]:
    engine = create_engine(Settings(database_url=url))
    before = ScriptDirectory.from_config(alembic_config()).get_revision(REVISION).down_revision

    def upgrade(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), str(before))

    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade)
            for statement in ROWS:
                await connection.execute(text(statement))
        await upgrade_to_head(engine)
        async with engine.begin() as connection:
            # The rule holds from now on, for the rows that were not found repeating another.
            with pytest.raises(IntegrityError):
                async with connection.begin_nested():
                    await connection.execute(
                        text(
                            "UPDATE sightings SET canonical_url = 'https://times.example/a'"
                            " WHERE id = 's3'"
                        )
                    )
            rows = await connection.execute(
                text(
                    "SELECT id, canonical_url, duplicate_of FROM sightings UNION ALL "
                    "SELECT id || '@history', canonical_url, duplicate_of FROM sighting_versions"
                )
            )
            return {row.id: (row.canonical_url, row.duplicate_of) for row in rows}
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_existing_sightings_get_canonical_urls_and_repeats_are_reported(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tracer.migrate")
    if backend == "sqlite":
        found = asyncio.run(_migrate_with_rows(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"))
    else:
        url = create_postgres_database()
        try:
            found = asyncio.run(_migrate_with_rows(url))
        finally:
            drop_postgres_database(url)
    assert found == {
        "s1": ("https://times.example/a", None),
        "s2": ("https://times.example/a", "s1"),
        "s3": ("https://times.example/b", None),
        "s3@history": ("https://times.example/b/", None),
    }
    reports = [r.getMessage() for r in caplog.records if r.name == "tracer.migrate"]
    assert len(reports) == 2, reports
    assert "sighting s2 (http://times.example/a#top) repeats sighting s1" in reports[0]
    assert "1 sighting(s) repeat another" in reports[1]
