"""`?as_of=` replays any past answer exactly: every read, after every kind of change."""

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx

from tests.factories import claim, day, record_worked_example, sighting
from tests.problems import assert_problem

Snapshot = tuple[str, dict[str, tuple[int, object]]]


async def _read_everything(client: httpx.AsyncClient, paths: list[str]) -> Snapshot:
    # The moment is taken once every answer of the step was given, as a client would note it.
    await asyncio.sleep(0.002)
    moment = datetime.now(UTC).isoformat()
    answers = {}
    for path in paths:
        response = await client.get(path)
        answers[path] = (response.status_code, response.json())
    await asyncio.sleep(0.002)
    return moment, answers


async def test_every_read_replays_exactly_as_it_was_answered(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(writer)
    troops = recorded["laundress"]["claim_id"]
    workers = recorded["daily-nk"]["claim_id"]
    duplicate = await claim(writer, "Kim offers Putin 100 000 soldiers for Donbas")
    duplicate_sighting = await sighting(
        writer, duplicate["id"], "asia-times", day(5), stance="reports", title="Kim's offer"
    )
    ids = [s["id"] for s in recorded.values()] + [duplicate_sighting["id"]]
    paths = [
        "/v1/claims",
        "/v1/claims?status=denied",
        "/v1/claims?tag=dprk",
        f"/v1/claims/{troops}",
        f"/v1/claims/{workers}",
        f"/v1/claims/{duplicate['id']}",
        f"/v1/claims/{troops}/chain",
        f"/v1/claims/{troops}/chain?include_variants=true",
        f"/v1/claims/{troops}/denial",
        f"/v1/claims/{workers}/denial",
        f"/v1/claims/{troops}/claimreview",
        "/v1/denials",
        f"/v1/sightings?claim_id={troops}",
        "/v1/sightings?outlet=asia-times",
        "/v1/outlets",
        "/v1/outlets?kind=official",
        "/v1/outlets/russian-mfa",
        f"/v1/sightings/{recorded['laundress']['id']}/trace?direction=downstream",
        f"/v1/sightings/{recorded['neo-troops']['id']}/trace?direction=upstream",
        *(f"/v1/sightings/{sighting_id}" for sighting_id in ids),
    ]
    snapshots = [await _read_everything(writer, paths)]

    async def step(response: httpx.Response, status: int = 200) -> None:
        assert response.status_code == status, response.text
        snapshots.append(await _read_everything(writer, paths))

    await step(
        await writer.patch(
            f"/v1/sightings/{recorded['talk-show']['id']}",
            json={
                "published_at": "2022-08-02T19:00:00+03:00",
                "published_at_precision": "exact",
                "reason": "broadcast time found",
            },
        )
    )
    await step(
        await writer.patch(
            f"/v1/claims/{troops}", json={"tags": ["dprk", "donbas"], "reason": "tagged"}
        )
    )
    await step(
        await writer.delete(
            f"/v1/sightings/{recorded['after-denial']['id']}",
            params={"reason": "not about this claim"},
        ),
        204,
    )
    await step(
        await writer.post(
            f"/v1/claims/{duplicate['id']}/merge", json={"into": troops, "reason": "duplicate"}
        )
    )
    await step(
        await writer.patch(
            "/v1/outlets/russian-mfa", json={"kind": "news_outlet", "reason": "kind test"}
        )
    )
    await step(
        await writer.patch(
            f"/v1/sightings/{recorded['daily-nk']['id']}",
            json={"claim_id": troops, "reason": "moved for the test"},
        )
    )
    await step(
        await writer.patch(
            "/v1/outlets/russian-mfa", json={"kind": "official", "reason": "kind restored"}
        )
    )

    statuses = {answer[0] for _, answers in snapshots for answer in answers.values()}
    assert {200, 308, 410} <= statuses, "the scenario reaches every kind of answer"
    for moment, answers in snapshots:
        for path, (status, body) in answers.items():
            joiner = "&" if "?" in path else "?"
            replayed = await writer.get(f"{path}{joiner}as_of={quote(moment)}")
            assert (replayed.status_code, replayed.json()) == (status, body), (moment, path)


async def test_as_of_before_a_record_existed_is_404_and_future_is_refused(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    before = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.002)
    recorded = await record_worked_example(writer)
    troops = recorded["laundress"]["claim_id"]
    assert_problem(await writer.get(f"/v1/claims/{troops}", params={"as_of": before}), 404)
    early = await writer.get("/v1/claims", params={"as_of": before})
    assert early.json() == {"items": [], "next_cursor": None}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert_problem(await writer.get(f"/v1/claims/{troops}", params={"as_of": future}), 422, "as_of")
    naive = await writer.get("/v1/claims", params={"as_of": "2022-08-01T00:00:00"})
    assert_problem(naive, 422, "as_of")
