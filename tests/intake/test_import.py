"""`tracer import FILE`: CSV, NDJSON and ClaimReview JSON-LD, rerunnable, never half-silent."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.intake import importer
from app.sightings.models import Sighting
from tests.story import TROOPS

SAMPLE = Path(__file__).parents[2] / "examples" / "sightings.csv"


def sightings(settings: Settings) -> list[tuple[str, str, str]]:
    async def fetch() -> list[tuple[str, str, str]]:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                rows = await session.execute(
                    select(Sighting.url, Sighting.stance, Sighting.recorded_by).order_by(
                        Sighting.url
                    )
                )
                return [(url, stance.value, by) for url, stance, by in rows]
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


def count(settings: Settings) -> int:
    async def fetch() -> int:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                return await session.scalar(select(func.count()).select_from(Sighting)) or 0
        finally:
            await engine.dispose()

    return asyncio.run(fetch())


def test_sample_csv_imports_once_and_a_rerun_creates_nothing(
    tracer: Any, settings: Settings
) -> None:
    first = tracer("import", SAMPLE)
    assert first.exit_code == 0, first.output
    assert "9 created, 0 duplicates, 0 errors" in first.output
    stored = sightings(settings)
    assert len(stored) == 9
    assert {by for _, _, by in stored} == {"import:sightings.csv"}

    again = tracer("import", SAMPLE)
    assert again.exit_code == 0, again.output
    assert "0 created, 9 duplicates, 0 errors" in again.output
    assert sightings(settings) == stored


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("notes.txt", b"Dear desk,\nplease check this.\n", "not CSV"),
        ("latin1.csv", "outlet,url\ncaf\xe9".encode("latin-1"), "UTF-8"),
        ("sheet.csv", b"outlet,url,published_at,stance,claim,colour\n", "'colour'"),
        ("sheet2.csv", b"outlet,url,claim\n", "missing column(s): published_at, stance"),
        ("feed.ndjson", b'{"outlet": "a"}\n{"outlet": \n', "line 2 is not JSON"),
        ("feed.json", b'{"@type": "ClaimReview", ', "not valid JSON"),
        ("other.jsonld", b'{"@type": "NewsArticle", "headline": "x"}', "no schema.org ClaimReview"),
    ],
)
def test_a_file_that_cannot_be_read_stores_nothing(
    tracer: Any, settings: Settings, tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = tracer("import", path)
    assert result.exit_code == 2
    assert reason in result.output
    assert "nothing was stored" in result.output
    assert count(settings) == 0


def test_ndjson_rows_with_bad_values_are_reported_by_line_and_the_rest_recorded(
    tracer: Any, settings: Settings, tmp_path: Path
) -> None:
    good = {
        "claim": {"statement": TROOPS},
        "outlet": {"slug": "asia-times", "name": "Asia Times", "kind": "news_outlet"},
        "url": "https://asiatimes.com/a",
        "published_at": "2022-08-05T00:00:00Z",
        "stance": "reports",
    }
    lines = [
        json.dumps({**good, "ref": "a"}),
        "",
        json.dumps({**good, "url": "https://asiatimes.com/b", "stance": "shouts"}),
        json.dumps({**good, "url": "https://asiatimes.com/c", "colour": "red"}),
        json.dumps([1, 2]),
        json.dumps({**good, "url": "https://asiatimes.com/d", "ref": "d", "cites_refs": ["a"]}),
    ]
    path = tmp_path / "desk.ndjson"
    path.write_text("\n".join(lines) + "\n")

    result = tracer("import", path, "--recorded-by", "desk")

    assert result.exit_code == 1
    assert "2 created, 0 duplicates, 3 errors" in result.output
    assert "line 3: stance:" in result.output
    assert "line 4: colour:" in result.output
    assert "line 5: is not a JSON object" in result.output
    assert [(url, by) for url, _, by in sightings(settings)] == [
        ("https://asiatimes.com/a", "desk"),
        ("https://asiatimes.com/d", "desk"),
    ]


CLAIMREVIEW_FEED = {
    "@context": "https://schema.org",
    "@graph": [
        {
            "@type": "ClaimReview",
            "url": "https://www.stopfake.org/en/fake-north-korea-100000-troops/",
            "claimReviewed": TROOPS,
            "datePublished": "2022-08-12",
            "author": {
                "@type": "Organization",
                "name": "StopFake",
                "url": "https://www.stopfake.org/",
            },
            "reviewRating": {"@type": "Rating", "ratingValue": 1, "alternateName": "Fake"},
            "itemReviewed": {
                "@type": "Claim",
                "author": {"@type": "Organization", "name": "Kremlin Laundress"},
                "datePublished": "2022-08-01",
                "firstAppearance": {
                    "@type": "CreativeWork",
                    "url": "https://t.me/kremlin_laundress/2022",
                },
            },
        },
        {
            "@type": "ClaimReview",
            "url": "https://example.org/review-without-claim",
            "datePublished": "2022-08-13",
            "author": {"@type": "Organization", "name": "Somebody"},
        },
    ],
}


def test_claimreview_feed_records_reviews_and_reports_incomplete_ones(
    tracer: Any, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(CLAIMREVIEW_FEED))

    result = tracer("import", path)

    assert "ClaimReview JSON-LD" in result.output
    assert "2 created, 0 duplicates, 1 errors" in result.output
    assert "review 2: missing or unreadable: claimReviewed" in result.output
    assert result.exit_code == 1
    assert sightings(settings) == [
        ("https://t.me/kremlin_laundress/2022", "asserts", "import:feed.json"),
        (
            "https://www.stopfake.org/en/fake-north-korea-100000-troops/",
            "debunks",
            "import:feed.json",
        ),
    ]
    again = tracer("import", path)
    assert "0 created, 2 duplicates, 1 errors" in again.output
    assert count(settings) == 2


def test_a_semicolon_sheet_with_bare_dates_is_read_to_the_day(
    tracer: Any, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "claim;outlet;outlet_name;outlet_kind;url;published_at;stance;title\n"
        f'"{TROOPS}";asia-times;Asia Times;news_outlet;https://asiatimes.com/a;2022-08-05;'
        'reports;"He said ""100,000""; then more"\n'
        f'"{TROOPS}";asia-times;;;https://asiatimes.com/b;2022-08-05T10:00:00;reports;\n'
    )

    result = tracer("import", path)

    assert "1 created, 0 duplicates, 1 errors" in result.output
    assert "row 3: published_at:" in result.output

    async def fetch() -> tuple[str, str, str | None]:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                row = (
                    await session.execute(
                        select(
                            Sighting.published_at, Sighting.published_at_precision, Sighting.title
                        )
                    )
                ).one()
                return row[0].isoformat(), row[1].value, row[2]
        finally:
            await engine.dispose()

    assert asyncio.run(fetch()) == (
        "2022-08-05T00:00:00+00:00",
        "day",
        'He said "100,000"; then more',
    )


def test_claimreviews_wrapped_in_a_data_feed_are_found(
    tracer: Any, settings: Settings, tmp_path: Path
) -> None:
    review = CLAIMREVIEW_FEED["@graph"][0]
    feed = {
        "@context": "https://schema.org",
        "@type": "DataFeed",
        "dataFeedElement": [{"@type": "DataFeedItem", "item": [review]}],
    }
    path = tmp_path / "feed.jsonld"
    path.write_text(json.dumps(feed))

    result = tracer("import", path)

    assert result.exit_code == 0, result.output
    assert "2 created, 0 duplicates, 0 errors" in result.output


def test_an_import_that_breaks_off_says_where_and_a_rerun_finishes_it(
    tracer: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = 0
    record_item = importer.record_item

    async def failing_on_the_fourth(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise ConnectionError("the database went away")
        return await record_item(**kwargs)

    monkeypatch.setattr(importer, "CHUNK", 2)
    monkeypatch.setattr(importer, "record_item", failing_on_the_fourth)
    broken = tracer("import", SAMPLE)

    assert broken.exit_code == 1
    assert "stopped at row 4: ConnectionError: the database went away" in broken.output
    assert "2 created" in broken.output
    assert count(settings) == 2

    monkeypatch.setattr(importer, "record_item", record_item)
    rerun = tracer("import", SAMPLE)
    assert "7 created, 2 duplicates, 0 errors" in rerun.output
    assert count(settings) == 9


def test_control_characters_in_a_file_are_refused_on_their_line(
    tracer: Any, settings: Settings, tmp_path: Path
) -> None:
    row = {
        "claim": {"statement": TROOPS},
        "outlet": {"slug": "asia-times", "name": "Asia Times", "kind": "news_outlet"},
        "url": "https://asiatimes.com/a",
        "published_at": "2022-08-05T00:00:00Z",
        "stance": "reports",
    }
    lines = [
        json.dumps(row),
        json.dumps({**row, "url": "https://asiatimes.com/b", "title": "a\u0000b"}),
    ]
    path = tmp_path / "desk.ndjson"
    path.write_text("\n".join(lines) + "\n")

    result = tracer("import", path)

    assert result.exit_code == 1
    assert "1 created, 0 duplicates, 1 errors" in result.output
    assert "line 2: title: " in result.output and "control characters" in result.output
    assert count(settings) == 1


def test_a_file_streamed_in_chunks_cites_rows_of_earlier_chunks_and_reruns_as_duplicates(
    tracer: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = {
        "claim": {"statement": TROOPS},
        "outlet": {"slug": "asia-times", "name": "Asia Times", "kind": "news_outlet"},
        "stance": "reports",
    }
    lines = [
        json.dumps(
            {
                **row,
                "ref": f"r{n}",
                "url": f"https://asiatimes.com/{n}",
                "published_at": f"2022-08-0{n + 1}T00:00:00Z",
                **({"cites_refs": ["r0"]} if n else {}),
            }
        )
        for n in range(5)
    ] + [
        json.dumps(
            {
                **row,
                "ref": "r1",
                "url": "https://asiatimes.com/x",
                "published_at": "2022-08-09T00:00:00Z",
            }
        )
    ]
    path = tmp_path / "desk.ndjson"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(importer, "CHUNK", 2)

    first = tracer("import", path)
    again = tracer("import", path)

    assert "5 created, 0 duplicates, 1 errors" in first.output, first.output
    assert "line 6: ref: ref 'r1' is already used by an earlier item" in first.output
    assert "0 created, 5 duplicates, 1 errors" in again.output, again.output
    assert count(settings) == 5
