"""What matching keeps of each claim: vectors kept current, rebuilt, and done without."""

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import COMMAND_LINE
from app.claims import embeddings, matching
from app.claims import service as claims
from app.claims.models import ClaimTerm, ClaimVector
from app.claims.schemas import ClaimCreate
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.sightings.models import Sighting
from tests.conftest import make_client, started
from tests.story import ASIA_TIMES, TROOPS, WORKERS

# Told in Ukrainian, so that only the sentence vectors can make it "same" as the English record.
UKRAINIAN_TROOPS = "Північна Корея запропонувала ДНР і ЛНР до 100 тисяч військових"


async def _match(http: httpx.AsyncClient, text: str) -> list[dict[str, Any]]:
    response = await http.post("/v1/claims/match", json={"text": text})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_claim_recorded_by_another_process_is_matched_by_its_vector(
    settings: Settings,
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    indexed: Callable[[], Awaitable[None]],
) -> None:
    await writer.post("/v1/claims", json={"statement": WORKERS})
    await indexed()
    assert [i["claim"]["statement"] for i in await _match(reader, UKRAINIAN_TROOPS)] != [TROOPS]

    # Another process: its own engine, writing while this one holds its vectors in memory.
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            troops = await claims.create(
                session=session, data=ClaimCreate(statement=TROOPS), actor=COMMAND_LINE
            )
    finally:
        await engine.dispose()
    await indexed()

    items = await _match(reader, UKRAINIAN_TROOPS)
    assert items[0]["claim"]["id"] == troops.id
    assert items[0]["match"] == "same"


async def test_a_batch_of_sightings_of_one_claim_embeds_it_once(
    writer: httpx.AsyncClient,
    indexed: Callable[[], Awaitable[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    embedded: list[int] = []
    encode = embeddings.encode

    async def counting(texts: list[str], *, is_query: bool) -> Any:
        if not is_query:
            embedded.append(len(texts))
        return await encode(texts, is_query=is_query)

    monkeypatch.setattr(embeddings, "encode", counting)
    items = [
        {
            "claim": {"statement": TROOPS},
            "outlet": ASIA_TIMES,
            "url": f"https://asiatimes.com/2022/08/troops-{n}/",
            "published_at": "2022-08-05T00:00:00Z",
            "stance": "reports",
            "title": f"North Korea's offer of troops to Donbass, part {n}",
        }
        for n in range(40)
    ]

    response = await writer.post("/v1/sightings/batch", json={"items": items})
    assert embedded == []
    await indexed()

    assert [r["status"] for r in response.json()["results"]] == ["created"] * 40
    # One claim, its wordings all English: one text, embedded once for the whole batch.
    assert embedded == [1]


async def test_a_sighting_that_leaves_its_claims_wordings_as_they_were_embeds_nothing(
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    indexed: Callable[[], Awaitable[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    embedded: list[list[str]] = []
    encode = embeddings.encode

    async def counting(texts: list[str], *, is_query: bool) -> Any:
        if not is_query:
            embedded.append(texts)
        return await encode(texts, is_query=is_query)

    monkeypatch.setattr(embeddings, "encode", counting)

    async def record(n: int, title: str) -> None:
        sighting = {
            "claim": {"statement": TROOPS},
            "outlet": ASIA_TIMES,
            "url": f"https://asiatimes.com/2022/08/troops-{n}/",
            "published_at": f"2022-08-0{n}T00:00:00Z",
            "stance": "reports",
            "title": title,
        }
        response = await writer.post("/v1/sightings", json=sighting)
        assert response.status_code == 201, response.text
        await indexed()

    await record(1, "North Korea offers Russia 100,000 troops")
    assert len(embedded) == 1
    # The same title again: the claim's wordings, and so its vector, are as they were.
    await record(2, "North Korea offers Russia 100,000 troops")
    assert len(embedded) == 1
    # A new title that makes the claim's text half as long again (`vectors.GROWTH`).
    await record(3, "Pyongyang is ready to send volunteers to Donbas, state television says")
    assert len(embedded) == 2 and "Pyongyang" in embedded[1][0]
    items = await _match(reader, UKRAINIAN_TROOPS)
    assert items[0]["claim"]["statement"] == TROOPS and items[0]["match"] == "same"


async def test_reindexing_a_corrected_claim_forgets_its_old_wording(
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    wrong = "Mosquito swarms closed a ski resort in Lapland"
    recorded = await writer.post(
        "/v1/sightings",
        json={
            "claim": {"statement": "Finland closed all eight border crossings with Russia"},
            "outlet": ASIA_TIMES,
            "url": "https://asiatimes.com/2023/11/finland-border/",
            "published_at": "2023-11-28T00:00:00Z",
            "stance": "reports",
            "title": wrong,
        },
    )
    claim_id = recorded.json()["claim_id"]
    before = await _match(reader, wrong)
    assert [(i["claim"]["id"], i["score"], i["match"]) for i in before] == [(claim_id, 1.0, "same")]

    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Sighting)
            .where(Sighting.claim_id == claim_id)
            .values(title="Finland shuts its border with Russia")
        )
        await matching.reindex_claim(session=session, claim_id=claim_id)

    # Only what the claim itself says about Finland's border is left to liken it to the query.
    after = await _match(reader, wrong)
    assert all(i["match"] == "similar" and i["score"] < 0.6 for i in after)
    assert [i["claim"]["id"] for i in await _match(reader, "Finland shuts border")] == [claim_id]


async def _terms(sessionmaker: async_sessionmaker[AsyncSession], claim_id: str) -> set[str]:
    async with sessionmaker() as session:
        found = await session.scalars(select(ClaimTerm.term).where(ClaimTerm.claim_id == claim_id))
        return set(found)


async def test_a_claim_holds_the_words_of_its_first_sightings_as_a_reindex_keeps_them(
    writer: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    def told(n: int, title: str) -> dict[str, Any]:
        return {
            "claim": {"statement": TROOPS},
            "outlet": ASIA_TIMES,
            "url": f"https://asiatimes.com/2022/08/troops-{n}/",
            "published_at": f"2022-08-05T{n // 60:02d}:{n % 60:02d}:00Z",
            "stance": "reports",
            "title": title,
        }

    first = [told(n, f"Pyongyang volunteers for Donbass, report {n}") for n in range(199)]
    recorded = await writer.post("/v1/sightings/batch", json={"items": first})
    assert {r["status"] for r in recorded.json()["results"]} == {"created"}
    last_indexed = await writer.post("/v1/sightings", json=told(199, "Kangaroo brigade rumour"))
    claim_id = last_indexed.json()["claim_id"]
    assert {"_ka", "kan", "roo"} <= await _terms(sessionmaker, claim_id)

    # The claim has its 200 sightings: the next one's words are not the claim's any more.
    await writer.post("/v1/sightings", json=told(200, "Quokka regiment rumour"))
    kept = await _terms(sessionmaker, claim_id)
    assert not {"_qu", "quo", "okk"} & kept
    async with sessionmaker() as session, session.begin():
        await matching.reindex_claim(session=session, claim_id=claim_id, embed=False)
    assert await _terms(sessionmaker, claim_id) == kept


def _reindex(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACER_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", "reindex"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


async def test_tracer_reindex_rebuilds_missing_vectors(
    settings: Settings,
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for statement in (TROOPS, WORKERS):
        await writer.post("/v1/claims", json={"statement": statement})
    # As a database upgraded from before vectors were kept would be.
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(ClaimVector))
    assert (await _match(reader, UKRAINIAN_TROOPS))[0]["match"] == "similar"

    done = await asyncio.to_thread(_reindex, settings)

    assert "reindexed 2 claims" in done.stdout
    items = await _match(reader, UKRAINIAN_TROOPS)
    assert (items[0]["claim"]["statement"], items[0]["match"]) == (TROOPS, "same")


async def test_without_the_model_matching_is_lexical_and_readyz_says_so(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "model.bin"
    broken.write_bytes(b"not a model at all")
    app = create_app(settings.model_copy(update={"embedding_model_path": broken}))
    with caplog.at_level(logging.ERROR, logger="app.claims.embeddings"):
        async with started(app), make_client(app) as http:
            created = await http.post("/v1/claims", json={"statement": TROOPS})
            await http.post("/v1/claims", json={"statement": WORKERS})
            ready = await http.get("/readyz")
            items = await _match(http, "north korea offers 100k troops to the LPR")

    assert created.status_code == 201
    assert ready.status_code == 200
    assert ready.json()["matcher"] == "lexical"
    assert "failed to load model" in ready.json()["reason"]
    assert items[0]["claim"]["statement"] == TROOPS
    assert {item["match"] for item in items} == {"similar"}
    assert "embedding model unavailable" in caplog.text


async def test_readyz_says_matching_uses_the_model(anonymous: httpx.AsyncClient) -> None:
    ready = await anonymous.get("/readyz")
    assert ready.json() == {
        "status": "ready",
        "matcher": "hybrid",
        "model": "multilingual-e5-small-q4",
    }


def test_the_rarest_trigrams_are_read_while_their_rows_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(matching, "POSTINGS_READ", 100)

    assert matching._rarest({"_po": 90, "zap": 3, "ion": 40, "hzh": 0}) == ["hzh", "zap", "ion"]
    # However common the query's words, the rarest of them is read.
    assert matching._rarest({"_po": 500, "ion": 400}) == ["ion"]


async def test_a_claim_is_found_by_trigrams_this_process_counted_before_any_claim_held_them(
    settings: Settings, tmp_path: Path
) -> None:
    # Without the model, only the trigrams can find the claim.
    broken = tmp_path / "model.bin"
    broken.write_bytes(b"not a model at all")
    app = create_app(settings.model_copy(update={"embedding_model_path": broken}))
    query = "shelling at the Zaporizhzhia nuclear plant"
    async with started(app), make_client(app) as http:
        before = await _match(http, query)
        created = await http.post(
            "/v1/claims", json={"statement": "The Zaporizhzhia nuclear plant was shelled again"}
        )
        after = await _match(http, query)

    assert before == []
    assert after[0]["claim"]["id"] == created.json()["id"]
