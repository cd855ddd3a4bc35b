"""Chains, traces and spreads of a past moment, and the turns heavy reads take."""

import asyncio
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import httpx
from fastapi import FastAPI

from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem


async def _answers(client: httpx.AsyncClient, reads: list[str]) -> tuple[str, dict[str, Any]]:
    await asyncio.sleep(0.002)
    moment = datetime.now(UTC).isoformat()
    answers = {}
    for path in reads:
        response = await client.get(path)
        assert response.status_code == 200, (path, response.text)
        answers[path] = response.json()
    await asyncio.sleep(0.002)
    return moment, answers


async def test_a_past_chain_spread_and_trace_equal_what_was_answered_then(
    writer: httpx.AsyncClient,
) -> None:
    await outlet(writer, "ministry", kind="official", country="RU")
    for slug in ("wire", "daily", "blog"):
        await outlet(writer, slug, country="DE")
    viral = await claim(writer, "A claim that travels and is then corrected")
    other = await claim(writer, "A claim its sightings are moved to")
    origin = await sighting(writer, viral["id"], "blog", day(1), stance="asserts")
    relay = await sighting(writer, viral["id"], "wire", day(2), cites=[origin["id"]])
    echo = await sighting(writer, viral["id"], "daily", day(3), cites=[relay["id"]])
    late = await sighting(writer, viral["id"], "daily", day(5), url="https://d.example/late")
    denial = await sighting(
        writer, viral["id"], "ministry", day(4), stance="denies", cites=[echo["id"]]
    )
    chain = f"/v1/claims/{viral['id']}"
    reads = [
        f"{chain}/chain",
        f"{chain}/chain?shape=compact",
        f"{chain}/spread",
        f"{chain}/spread?bucket=hour",
        f"/v1/sightings/{origin['id']}/trace?direction=downstream",
        f"/v1/sightings/{denial['id']}/trace",
    ]
    snapshots = [await _answers(writer, reads)]
    corrections: list[tuple[str, str, dict[str, Any]]] = [
        ("PATCH", f"/v1/sightings/{late['id']}", {"cites": [denial["id"]]}),
        ("PATCH", f"/v1/sightings/{echo['id']}", {"stance": "questions", "title": "Now asked"}),
        ("PATCH", f"/v1/sightings/{denial['id']}", {"published_at": "2022-08-03T18:00:00Z"}),
        ("PATCH", f"/v1/sightings/{relay['id']}", {"claim_id": other["id"]}),
        ("PATCH", f"/v1/claims/{viral['id']}", {"statement": "A claim, reworded"}),
        ("DELETE", f"/v1/sightings/{late['id']}", {}),
    ]
    for method, path, change in corrections:
        if method == "DELETE":
            response = await writer.delete(path, params={"reason": "recorded in error"})
        else:
            response = await writer.patch(path, json={**change, "reason": "a correction"})
        assert response.status_code in (200, 204), response.text
        snapshots.append(await _answers(writer, reads))

    # Every step changed some answer, so each moment below is told apart from the next.
    for (_, before), (_, after) in pairwise(snapshots):
        assert before != after
    for moment, answers in snapshots:
        await _replayed_equal(writer, moment, answers)


async def _replayed_equal(writer: httpx.AsyncClient, moment: str, answers: dict[str, Any]) -> None:
    for path, body in answers.items():
        joiner = "&" if "?" in path else "?"
        replayed = await writer.get(f"{path}{joiner}as_of={moment.replace('+', '%2B')}")
        assert replayed.status_code == 200, (moment, path, replayed.text)
        assert replayed.json() == body, (moment, path)


async def test_a_past_chain_has_its_outlets_and_citations_as_they_stood_then(
    writer: httpx.AsyncClient,
) -> None:
    for slug in ("wire", "agency", "blog"):
        await outlet(writer, slug, country="DE")
    viral = await claim(writer, "A claim denied by an outlet that became official later")
    other = await claim(writer, "A claim one of whose sightings joins the first")
    origin = await sighting(writer, viral["id"], "wire", day(1), stance="asserts")
    await sighting(writer, viral["id"], "agency", day(2), stance="denies", cites=[origin["id"]])
    elsewhere = await sighting(writer, other["id"], "wire", day(1), url="https://w.example/o")
    # A citation across claims is no edge of either chain, until both ends share one.
    await sighting(writer, viral["id"], "blog", day(3), cites=[elsewhere["id"]])
    chain = f"/v1/claims/{viral['id']}"
    reads = [
        f"{chain}/chain",
        f"{chain}/spread",
        f"{chain}/spread?bucket=week",
        # A trace walks across claims.
        f"/v1/sightings/{elsewhere['id']}/trace?direction=downstream",
    ]
    snapshots = [await _answers(writer, reads)]
    corrections = [
        # The denial becomes an official one, from another country.
        ("/v1/outlets/agency", {"kind": "official", "country": "RU"}),
        (f"/v1/sightings/{elsewhere['id']}", {"claim_id": viral["id"]}),
    ]
    for path, change in corrections:
        response = await writer.patch(path, json={**change, "reason": "a correction"})
        assert response.status_code == 200, response.text
        snapshots.append(await _answers(writer, reads))

    first, official, joined = (answers[f"{chain}/spread"] for _, answers in snapshots)
    assert first["metrics"]["first_denial_at"] is None
    assert official["metrics"]["first_denial_at"] is not None
    assert len(joined["flows"]) == len(official["flows"]) + 1
    for moment, answers in snapshots:
        await _replayed_equal(writer, moment, answers)


async def test_heavy_reads_wait_their_turn_and_others_go_on(
    app: FastAPI, writer: httpx.AsyncClient
) -> None:
    await outlet(writer, "wire")
    viral = await claim(writer, "A claim read by many dashboards at once")
    first = await sighting(writer, viral["id"], "wire", day(1))
    app.state.settings.heavy_read_wait_seconds = 0.2
    turns: asyncio.Semaphore = app.state.heavy_reads
    taken = 0
    while not turns.locked():
        await turns.acquire()
        taken += 1
    try:
        for path in (
            f"/v1/claims/{viral['id']}/spread",
            f"/v1/claims/{viral['id']}/chain",
            f"/v1/sightings/{first['id']}/trace",
        ):
            busy = await writer.get(path)
            assert_problem(busy, 503)
            assert int(busy.headers["Retry-After"]) >= 1
        # Reads sized by a page go on while every turn is taken.
        assert (await writer.get(f"/v1/claims/{viral['id']}")).status_code == 200
        assert (await writer.get(f"/v1/sightings/{first['id']}")).status_code == 200
        # A read that waits gets the turn a finished one gives back.
        waiting = asyncio.create_task(writer.get(f"/v1/claims/{viral['id']}/spread"))
        await asyncio.sleep(0.05)
        turns.release()
        taken -= 1
        assert (await waiting).status_code == 200
    finally:
        for _ in range(taken):
            turns.release()
    assert (await writer.get(f"/v1/claims/{viral['id']}/chain")).status_code == 200
