"""Writers colliding in the database are run again by the server: no 5xx, a consistent end."""

import asyncio

import httpx
from sqlalchemy.exc import DBAPIError
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app.collisions import RetryCollisions
from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem

ROUNDS = 8


async def _round(client: httpx.AsyncClient, n: int) -> None:
    merged = await claim(client, f"Round {n}: the troops were moved overnight")
    survivor = await claim(client, f"Round {n}: troops moved to the border at night")
    first = await sighting(client, merged["id"], f"a-{n}", day(1), url=f"https://a.test/{n}/1")
    ids = [first["id"]]
    for k in range(2, 6):
        cited = await sighting(
            client,
            merged["id"],
            f"b-{n}",
            day(k),
            url=f"https://b.test/{n}/{k}",
            cites=[ids[-1]],
        )
        ids.append(cited["id"])
    reason = {"reason": "merged while being corrected"}
    changes = [
        client.post(f"/v1/claims/{merged['id']}/merge", json={"into": survivor["id"], **reason}),
        *(
            client.patch(f"/v1/sightings/{i}", json={"title": f"Title {i}", **reason})
            for i in ids[:3]
        ),
        *(
            client.patch(f"/v1/sightings/{i}", json={"claim_id": survivor["id"], **reason})
            for i in ids[3:]
        ),
    ]
    answers = await asyncio.gather(*changes)
    assert [a.status_code for a in answers if a.status_code >= 500] == [], [
        a.text for a in answers if a.status_code >= 500
    ]
    assert all(a.status_code in (200, 308) for a in answers), [a.text for a in answers]
    redirected = await client.get(f"/v1/claims/{merged['id']}", follow_redirects=False)
    assert redirected.status_code == 308
    for i in ids:
        assert (await client.get(f"/v1/sightings/{i}")).json()["claim_id"] == survivor["id"]
    chain = (await client.get(f"/v1/claims/{survivor['id']}/chain")).json()
    assert sorted(node["id"] for node in chain["nodes"]) == sorted(ids)


async def test_corrections_racing_a_merge_end_consistent_without_a_5xx(
    client: httpx.AsyncClient,
) -> None:
    for n in range(ROUNDS):
        await outlet(client, f"a-{n}", "anonymous_channel")
        await outlet(client, f"b-{n}")
        await _round(client, n)


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_request_that_lost_a_deadlock_is_run_again_with_its_body() -> None:
    """The transaction is rolled back whole by the database; the server sends it again."""
    seen: list[bytes] = []

    async def collides_twice(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        seen.append(message["body"])
        if len(seen) <= 2:
            raise DBAPIError("UPDATE claims ...", None, _Deadlock())
        await JSONResponse({"body": message["body"].decode()})(scope, receive, send)

    app = RetryCollisions(collides_twice, retry_after_seconds=2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tracer.test"
    ) as http:
        answer = await http.post("/v1/anything", content=b'{"x": 1}')
    assert answer.status_code == 200
    assert answer.json() == {"body": '{"x": 1}'}
    assert seen == [b'{"x": 1}'] * 3


async def test_a_request_that_keeps_colliding_is_answered_503_not_500() -> None:
    async def always_collides(scope: Scope, receive: Receive, send: Send) -> None:
        raise DBAPIError("UPDATE claims ...", None, _Deadlock())

    app = RetryCollisions(always_collides, retry_after_seconds=2)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tracer.test"
    ) as http:
        answer = await http.patch("/v1/sightings/x", json={"reason": "r"})
    assert_problem(answer, 503)
    assert answer.headers["retry-after"] == "2"
