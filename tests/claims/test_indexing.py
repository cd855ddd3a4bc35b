"""Sentence vectors follow a recording after its commit: found by its words at once, by its
meaning once indexed, and never lost to an indexer that stopped half way."""

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.claims import indexing, vectors
from app.claims.models import ClaimVector, IndexCursor
from app.config import Settings
from app.main import create_app
from app.outbox.models import Event
from app.worker import SLOW_WORK_PROCESS_NAME
from tests.conftest import make_client, started
from tests.story import ASIA_TIMES, TROOPS

UKRAINIAN_TROOPS = "Північна Корея запропонувала ДНР і ЛНР до 100 тисяч військових"
SIGHTING = {
    "claim": {"statement": TROOPS},
    "outlet": ASIA_TIMES,
    "url": "https://asiatimes.com/2022/08/troops/",
    "published_at": "2022-08-05T00:00:00Z",
    "stance": "reports",
}


async def _top(http: httpx.AsyncClient, text: str) -> tuple[str | None, str | None]:
    items = (await http.post("/v1/claims/match", json={"text": text})).json()["items"]
    return (items[0]["claim"]["statement"], items[0]["match"]) if items else (None, None)


async def _vectors(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(ClaimVector)) or 0


async def test_a_new_claim_is_found_by_its_words_at_once_and_by_its_meaning_once_indexed(
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    indexed: Callable[[], Awaitable[None]],
) -> None:
    assert (await writer.post("/v1/sightings", json=SIGHTING)).status_code == 201

    assert await _vectors(sessionmaker) == 0
    assert await _top(reader, TROOPS.lower().replace(",", "")) == (TROOPS, "same")
    assert (await _top(reader, UKRAINIAN_TROOPS))[1] != "same"

    await indexed()

    assert await _top(reader, UKRAINIAN_TROOPS) == (TROOPS, "same")


async def test_an_indexer_that_failed_half_way_leaves_the_work_to_the_next_round(
    writer: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (await writer.post("/v1/sightings", json=SIGHTING)).status_code == 201
    embed = vectors.embed

    async def dies(plan: vectors.Plan) -> Any:
        raise RuntimeError("the process died while embedding")

    monkeypatch.setattr(vectors, "embed", dies)
    with pytest.raises(RuntimeError):
        await indexing.index_round(sessionmaker)
    assert await _vectors(sessionmaker) == 0

    monkeypatch.setattr(vectors, "embed", embed)
    await indexing.catch_up(sessionmaker)

    assert await _vectors(sessionmaker) == 1
    assert await _top(reader, UKRAINIAN_TROOPS) == (TROOPS, "same")
    # Caught up: a further round finds nothing to do.
    assert await indexing.index_round(sessionmaker) == 0


async def _embedded_text(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
    """How long the text the only vector was embedded from was, and that text's digest."""
    async with sessionmaker() as session:
        row = (await session.execute(select(ClaimVector.chars, ClaimVector.digest))).one()
    assert row.chars is not None and row.digest is not None
    return row.chars, row.digest


async def test_later_sightings_refine_a_claims_vector_in_steps_and_a_correction_at_once(
    writer: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    indexed: Callable[[], Awaitable[None]],
) -> None:
    claim_id = (await writer.post("/v1/sightings", json=SIGHTING)).json()["claim_id"]
    await indexed()
    assert await _embedded_text(sessionmaker) == (len(TROOPS), vectors.digest(TROOPS))

    async def told(title: str, day: int) -> str:
        sighting = {
            **SIGHTING,
            "claim_id": claim_id,
            "claim": None,
            "url": f"https://asiatimes.com/2022/08/troops/{day}",
            "published_at": f"2022-08-{day:02}T00:00:00Z",
            "title": title,
        }
        del sighting["claim"]
        answer = await writer.post("/v1/sightings", json=sighting)
        assert answer.status_code == 201, answer.text
        await indexed()
        return str(answer.json()["id"])

    # Less than half as long again: the vector of the claim's first words still stands.
    short = await told("Troops offer reported", 6)
    assert await _embedded_text(sessionmaker) == (len(TROOPS), vectors.digest(TROOPS))

    # Past it: embedded again, from the whole text.
    await told("Pyongyang denies any plan to send soldiers to Ukraine", 7)
    grown = "\n".join(
        [TROOPS, "Troops offer reported", "Pyongyang denies any plan to send soldiers to Ukraine"]
    )
    assert await _embedded_text(sessionmaker) == (len(grown), vectors.digest(grown))

    # A corrected wording changes what the vector was embedded from, not only what follows it.
    reason = {"reason": "the headline was misread"}
    answer = await writer.patch(
        f"/v1/sightings/{short}", json={"title": "Troop offer told", **reason}
    )
    assert answer.status_code == 200, answer.text
    await indexed()
    corrected = grown.replace("Troops offer reported", "Troop offer told")
    assert await _embedded_text(sessionmaker) == (len(corrected), vectors.digest(corrected))


async def _matched_across_languages(http: httpx.AsyncClient) -> bool:
    """Whether the Ukrainian wording finds the claim by meaning, once the background has run;
    bounded, not timed: the contract's 10 seconds are measured as bench/intake's match lag."""
    for _ in range(600):
        if await _top(http, UKRAINIAN_TROOPS) == (TROOPS, "same"):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_the_server_indexes_in_the_background(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"index_in_app": True}))
    async with started(app), make_client(app) as http:
        assert (await http.post("/v1/sightings", json=SIGHTING)).status_code == 201
        assert await _matched_across_languages(http)


async def _slow_worker(other_than: int | None = None) -> multiprocessing.Process:
    """The serving process's child for slow work, once it has started."""
    for _ in range(600):
        for child in multiprocessing.active_children():
            if child.name == SLOW_WORK_PROCESS_NAME and child.pid not in (None, other_than):
                return child
        await asyncio.sleep(0.1)
    raise AssertionError("no process for slow work")


async def test_the_server_indexes_again_after_its_indexing_process_is_killed(
    settings: Settings,
) -> None:
    app = create_app(settings.model_copy(update={"index_in_app": True}))
    async with started(app):
        first = await _slow_worker()
        assert first.pid is not None and first.pid != os.getpid()
        os.kill(first.pid, signal.SIGKILL)
        async with make_client(app) as http:
            # Recorded while nothing indexes: the work waits in the database for the next process.
            assert (await http.post("/v1/sightings", json=SIGHTING)).status_code == 201
            assert await _matched_across_languages(http)
        await _slow_worker(other_than=first.pid)


async def test_the_indexing_process_embeds_with_the_model_the_server_matches_with(
    settings: Settings, tmp_path: Path
) -> None:
    # A model that cannot be loaded: the server matches by words alone, and so must its child,
    # rather than store vectors of the bundled model that matching would never read.
    unloadable = tmp_path / "no-such-model.bin"
    app = create_app(
        settings.model_copy(update={"index_in_app": True, "embedding_model_path": unloadable})
    )
    async with started(app), make_client(app) as http:
        assert (await http.post("/v1/sightings", json=SIGHTING)).status_code == 201
        await _slow_worker()
        sessionmaker = app.state.sessionmaker
        async with sessionmaker() as session:
            last_event = await session.scalar(select(func.max(Event.id)))
        for _ in range(600):
            async with sessionmaker() as session:
                read = await session.scalar(
                    select(IndexCursor.event_id).where(IndexCursor.name == indexing.CURSOR)
                )
            if read is not None and read >= (last_event or 0):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the indexer never read the new claim's events")
        assert await _vectors(sessionmaker) == 0
        assert (await _top(http, UKRAINIAN_TROOPS))[1] != "same"
