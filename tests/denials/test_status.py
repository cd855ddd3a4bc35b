"""Denial status: each official outlet counts once, by its latest denial or confirmation."""

import httpx
import pytest

from tests.factories import claim, day, outlet, sighting


@pytest.fixture
async def story(client: httpx.AsyncClient) -> dict:
    await outlet(client, "rumour-mill", "anonymous_channel")
    await outlet(client, "ministry-a", "official", country="RU")
    await outlet(client, "ministry-b", "official", country="UA")
    await outlet(client, "checkers", "fact_checker")
    c = await claim(client, "A regiment was moved overnight")
    origin = await sighting(client, c["id"], "rumour-mill", day(1), "asserts")
    return {"claim": c, "origin": origin}


async def _status(client: httpx.AsyncClient, claim_id: str) -> dict:
    report = await client.get(f"/v1/claims/{claim_id}/denial")
    assert report.status_code == 200
    listed = (await client.get(f"/v1/claims/{claim_id}")).json()["denial_status"]
    assert listed == report.json()["status"], "the claim and its denial report must agree"
    return report.json()


async def test_no_official_word_is_none(client: httpx.AsyncClient, story: dict) -> None:
    report = await _status(client, story["claim"]["id"])
    assert report["status"] == "none"
    assert (report["first_denial"], report["denials"], report["denial_lag_seconds"]) == (
        None,
        [],
        None,
    )
    assert report["resurfaced"] is False


async def test_one_official_denial_is_denied(client: httpx.AsyncClient, story: dict) -> None:
    cid = story["claim"]["id"]
    denial = await sighting(
        client, cid, "ministry-a", day(3), "denies", cites=[story["origin"]["id"]]
    )

    report = await _status(client, cid)

    assert report["status"] == "denied"
    assert report["first_denial"]["id"] == denial["id"]
    assert report["first_denial"]["outlet"]["slug"] == "ministry-a"
    assert report["denial_lag_seconds"] == 2 * 86400
    assert report["resurfaced"] is False


async def test_confirmation_is_confirmed(client: httpx.AsyncClient, story: dict) -> None:
    cid = story["claim"]["id"]
    await sighting(client, cid, "ministry-b", day(2), "confirms")
    report = await _status(client, cid)
    assert report["status"] == "confirmed"
    assert [c["outlet"]["slug"] for c in report["confirmations"]] == ["ministry-b"]
    assert report["first_denial"] is None


async def test_officials_disagreeing_is_contested(client: httpx.AsyncClient, story: dict) -> None:
    cid = story["claim"]["id"]
    await sighting(client, cid, "ministry-a", day(3), "denies")
    await sighting(client, cid, "ministry-b", day(4), "confirms")
    assert (await _status(client, cid))["status"] == "contested"


async def test_an_official_counts_by_its_latest_word(
    client: httpx.AsyncClient, story: dict
) -> None:
    cid = story["claim"]["id"]
    first = await sighting(client, cid, "ministry-a", day(3), "denies")
    await sighting(client, cid, "ministry-a", day(6), "confirms")

    report = await _status(client, cid)

    assert report["status"] == "confirmed"
    # The denial happened all the same: it stays on record as the first one.
    assert report["first_denial"]["id"] == first["id"]
    assert len(report["denials"]) == 1 and len(report["confirmations"]) == 1


async def test_latest_word_is_by_publication_not_recording_order(
    client: httpx.AsyncClient, story: dict
) -> None:
    cid = story["claim"]["id"]
    await sighting(client, cid, "ministry-a", day(9), "denies")
    await sighting(client, cid, "ministry-a", day(5), "confirms")  # recorded late, said earlier
    assert (await _status(client, cid))["status"] == "denied"


async def test_fact_checker_debunks_are_listed_not_counted(
    client: httpx.AsyncClient, story: dict
) -> None:
    cid = story["claim"]["id"]
    debunk = await sighting(client, cid, "checkers", day(2), "debunks")
    await sighting(client, cid, "rumour-mill", day(3), "debunks", url="https://rumour.example/x")

    report = await _status(client, cid)

    assert report["status"] == "none"
    assert debunk["id"] in [f["id"] for f in report["fact_checks"]]
    assert len(report["fact_checks"]) == 2
    assert report["denials"] == []


async def test_spreading_after_the_denial_resurfaces(
    client: httpx.AsyncClient, story: dict
) -> None:
    cid = story["claim"]["id"]
    await outlet(client, "late-paper")
    await sighting(client, cid, "ministry-a", day(3), "denies")
    await sighting(client, cid, "late-paper", day(4), "questions")
    assert (await _status(client, cid))["resurfaced"] is False

    await sighting(client, cid, "late-paper", day(5), "reports", url="https://late.example/2")

    report = await _status(client, cid)
    assert report["sightings_after_denial"] == 1
    assert report["resurfaced"] is True


async def test_a_non_official_denial_does_not_count(client: httpx.AsyncClient, story: dict) -> None:
    cid = story["claim"]["id"]
    await outlet(client, "paper")
    await sighting(client, cid, "paper", day(3), "denies")
    assert (await _status(client, cid))["status"] == "none"


async def test_changing_an_outlets_kind_recomputes_status(
    client: httpx.AsyncClient, story: dict
) -> None:
    cid = story["claim"]["id"]
    await outlet(client, "press-office")
    await sighting(client, cid, "press-office", day(3), "denies")
    assert (await _status(client, cid))["status"] == "none"

    patched = await client.patch("/v1/outlets/press-office", json={"kind": "official"})

    assert patched.status_code == 200
    assert (await _status(client, cid))["status"] == "denied"


async def test_claims_filter_by_status_and_denials_list_newest_first(
    client: httpx.AsyncClient, story: dict
) -> None:
    cid = story["claim"]["id"]
    other = await claim(client, "A second unrelated rumour")
    await sighting(client, cid, "ministry-a", day(3), "denies")
    await sighting(client, other["id"], "ministry-b", day(7), "denies")
    await sighting(client, other["id"], "ministry-a", day(8), "confirms")

    denied = (await client.get("/v1/claims", params={"status": "denied"})).json()["items"]
    contested = (await client.get("/v1/claims", params={"status": "contested"})).json()["items"]
    denials = (await client.get("/v1/denials")).json()["items"]
    since = (await client.get("/v1/denials", params={"since": day(5)})).json()["items"]

    assert [c["id"] for c in denied] == [cid]
    assert [c["id"] for c in contested] == [other["id"]]
    assert [d["published_at"] for d in denials] == [day(7), day(3)]
    assert denials[0]["claim"]["id"] == other["id"]
    assert denials[0]["outlet"]["slug"] == "ministry-b"
    assert [d["claim"]["id"] for d in since] == [other["id"]]
