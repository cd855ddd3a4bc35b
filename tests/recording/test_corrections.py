"""Corrections as a fact-checker makes them: nothing overwritten, every change explained."""

import asyncio
import os
import subprocess
import sys

import httpx
import pytest

from app.config import Settings
from tests.factories import claim, day, outlet, record_worked_example, sighting
from tests.problems import assert_problem


async def _events(client: httpx.AsyncClient, type: str) -> list[dict]:
    response = await client.get("/v1/events", params={"type": type, "limit": 500})
    items: list[dict] = response.json()["items"]
    return items


async def test_a_corrected_date_is_a_new_revision_with_its_history(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    talk_show = recorded["talk-show"]
    assert talk_show["revision"] == 1
    assert talk_show["revised_by"] == talk_show["recorded_by"]

    corrected = await writer.patch(
        f"/v1/sightings/{talk_show['id']}",
        json={
            "published_at": "2022-08-02T19:40:00+03:00",
            "published_at_precision": "exact",
            "reason": "broadcast time found in the programme archive",
        },
    )
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert corrected.headers["etag"] == '"2"'
    assert body["revision"] == 2
    assert body["published_at"] == "2022-08-02T16:40:00Z"
    assert body["published_at_precision"] == "exact"
    assert body["revised_by"] == "desk"
    assert body["recorded_by"] == talk_show["recorded_by"]
    assert body["recorded_at"] == talk_show["recorded_at"]
    assert body["cites"] == talk_show["cites"]

    history = (await writer.get(f"/v1/sightings/{talk_show['id']}/history")).json()["items"]
    assert [(h["revision"], h["action"]) for h in history] == [(2, "corrected"), (1, "created")]
    assert history[0]["reason"] == "broadcast time found in the programme archive"
    assert history[0]["by"] == "desk"
    assert history[0]["changes"] == {
        "published_at": {"from": "2022-08-02T00:00:00Z", "to": "2022-08-02T16:40:00Z"},
        "published_at_precision": {"from": "approximate", "to": "exact"},
    }
    events = await _events(client, "sighting.corrected")
    assert [e["data"]["sighting"]["id"] for e in events] == [talk_show["id"]]
    assert events[0]["data"]["changes"] == history[0]["changes"]
    assert events[0]["data"]["revision"] == 2


async def test_a_stale_if_match_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    path = f"/v1/sightings/{recorded['asia-times']['id']}"
    first = await writer.patch(
        path,
        json={"title": "Asia Times piece", "reason": "title added"},
        headers={"If-Match": '"1"'},
    )
    assert first.status_code == 200
    stale = await writer.patch(
        path, json={"stance": "asserts", "reason": "re-read"}, headers={"If-Match": '"1"'}
    )
    assert_problem(stale, 412)
    now = (await writer.get(path)).json()
    assert now["revision"] == 2 and now["stance"] == "reports"
    garbled = await writer.patch(
        path, json={"stance": "asserts", "reason": "re-read"}, headers={"If-Match": "two"}
    )
    assert_problem(garbled, 422, "If-Match")


@pytest.mark.parametrize(
    ("patch", "field", "status"),
    [
        ({"published_at": "2022-08-20T00:00:00Z"}, "published_at", 422),  # after its citer
        ({"published_at": "2022-07-01T00:00:00Z"}, "published_at", 422),  # before what it cites
        ({"cites": ["no-such-sighting"]}, "cites", 422),
        ({"outlet": "no-such-outlet"}, "outlet", 422),
        ({"claim_id": "no-such-claim"}, "claim_id", 422),
        ({"url": None}, "url", 422),
        ({"published_at": "2022-08-06T00:00:00"}, "published_at", 422),  # no offset
        ({"published_at": "2999-01-01T00:00:00Z"}, "published_at", 422),
        ({"stance": "shouts"}, "stance", 422),
        ({"surprise": 1}, "surprise", 422),
        ({}, "reason", 422),  # the reason is required
    ],
)
async def test_a_refused_correction_changes_nothing(
    client: httpx.AsyncClient,
    writer: httpx.AsyncClient,
    patch: dict,
    field: str,
    status: int,
) -> None:
    recorded = await record_worked_example(client)
    target = recorded["ukraine"]
    body = {"reason": "checking"} | patch if field != "reason" else {}
    refused = await writer.patch(f"/v1/sightings/{target['id']}", json=body)
    assert_problem(refused, status, field)
    after = (await writer.get(f"/v1/sightings/{target['id']}")).json()
    assert after == target
    history = (await writer.get(f"/v1/sightings/{target['id']}/history")).json()["items"]
    assert len(history) == 1
    assert await _events(client, "sighting.corrected") == []


async def test_a_correction_cannot_close_a_loop(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await outlet(client, "one")
    await outlet(client, "two")
    topic = await claim(client, "A loop is not a chain")
    first = await sighting(client, topic["id"], "one", day(3))
    second = await sighting(client, topic["id"], "two", day(3), cites=[first["id"]])
    refused = await writer.patch(
        f"/v1/sightings/{first['id']}", json={"cites": [second["id"]], "reason": "loop"}
    )
    assert_problem(refused, 422, "cites")
    itself = await writer.patch(
        f"/v1/sightings/{first['id']}", json={"cites": [first["id"]], "reason": "self"}
    )
    assert_problem(itself, 422, "cites")


async def test_moving_to_a_duplicate_place_is_a_conflict(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await outlet(client, "paper")
    topic = await claim(client, "Duplicates are refused")
    first = await sighting(client, topic["id"], "paper", day(3), url="https://paper.example/a")
    second = await sighting(client, topic["id"], "paper", day(4), url="https://paper.example/b")
    clash = await writer.patch(
        f"/v1/sightings/{second['id']}",
        json={"url": "https://paper.example/a", "reason": "same page"},
    )
    assert assert_problem(clash, 409)["existing_id"] == first["id"]


async def test_a_correction_that_makes_an_official_denial_announces_it(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await outlet(client, "ministry", kind="official")
    await outlet(client, "channel", kind="anonymous_channel")
    topic = await claim(client, "The ministry spoke")
    await sighting(client, topic["id"], "channel", day(1), stance="asserts")
    statement = await sighting(client, topic["id"], "ministry", day(5), stance="reports")
    assert (await client.get(f"/v1/claims/{topic['id']}")).json()["denial_status"] == "none"
    await writer.patch(
        f"/v1/sightings/{statement['id']}", json={"stance": "denies", "reason": "it was a denial"}
    )
    assert (await client.get(f"/v1/claims/{topic['id']}")).json()["denial_status"] == "denied"
    denials = await _events(client, "denial.recorded")
    assert [e["data"]["sighting"]["id"] for e in denials] == [statement["id"]]
    changed = await _events(client, "claim.status_changed")
    assert [(e["data"]["old_status"], e["data"]["new_status"]) for e in changed] == [
        ("none", "denied")
    ]


async def test_moving_a_sighting_recounts_both_claims(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await outlet(client, "paper")
    first = await claim(client, "First telling")
    second = await claim(client, "Second telling")
    moved = await sighting(client, first["id"], "paper", day(3))
    answer = await writer.patch(
        f"/v1/sightings/{moved['id']}", json={"claim_id": second["id"], "reason": "wrong claim"}
    )
    assert answer.json()["claim_id"] == second["id"]
    assert (await client.get(f"/v1/claims/{first['id']}")).json()["sightings_count"] == 0
    assert (await client.get(f"/v1/claims/{second['id']}")).json()["sightings_count"] == 1
    history = (await client.get(f"/v1/sightings/{moved['id']}/history")).json()["items"]
    assert history[0]["action"] == "moved"
    assert history[0]["changes"] == {"claim_id": {"from": first["id"], "to": second["id"]}}


async def test_withdrawing_a_cited_sighting_needs_relink(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    asia, ukraine = recorded["asia-times"], recorded["ukraine"]
    path = f"/v1/sightings/{asia['id']}"
    refused = await writer.delete(path, params={"reason": "logged twice"})
    assert assert_problem(refused, 409)["cited_by"] == [ukraine["id"]]
    assert (await writer.get(path)).status_code == 200

    withdrawn = await writer.delete(path, params={"reason": "logged twice", "relink": "true"})
    assert withdrawn.status_code == 204
    gone = assert_problem(await writer.get(path), 410)
    assert gone["reason"] == "logged twice"
    assert gone["withdrawn_by"] == "desk"
    assert gone["withdrawn_at"].endswith("Z")
    relinked = (await writer.get(f"/v1/sightings/{ukraine['id']}")).json()
    assert relinked["cites"] == asia["cites"]
    assert relinked["revision"] == 2
    chain = (await writer.get(f"/v1/claims/{asia['claim_id']}/chain")).json()
    assert asia["id"] not in {n["id"] for n in chain["nodes"]}
    assert chain["metrics"]["sightings"] == len(chain["nodes"])
    listed = (await writer.get("/v1/sightings", params={"claim_id": asia["claim_id"]})).json()
    assert asia["id"] not in {s["id"] for s in listed["items"]}
    counted = (await writer.get(f"/v1/claims/{asia['claim_id']}")).json()
    assert counted["sightings_count"] == len(chain["nodes"])
    history = (await writer.get(f"{path}/history")).json()["items"]
    assert [h["action"] for h in history] == ["withdrawn", "created"]
    assert_problem(await writer.delete(path, params={"reason": "again"}), 410)
    assert_problem(await writer.patch(path, json={"reason": "x", "title": "t"}), 410)
    events = await _events(client, "sighting.withdrawn")
    assert [e["data"]["sighting_id"] for e in events] == [asia["id"]]


async def test_withdrawing_needs_a_reason(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    path = f"/v1/sightings/{recorded['after-denial']['id']}"
    assert_problem(await writer.delete(path), 422, "reason")
    assert_problem(await writer.delete(path, params={"reason": ""}), 422, "reason")
    assert (await writer.get(path)).status_code == 200


async def test_a_merged_claim_redirects_to_its_survivor(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await outlet(client, "paper")
    await outlet(client, "radio", kind="broadcaster")
    survivor = await claim(client, "North Korea offered 100,000 troops")
    duplicate = await claim(client, "Pyongyang offers a hundred thousand soldiers")
    kept = await sighting(client, survivor["id"], "paper", day(2), url="https://paper.example/1")
    twin = await sighting(client, duplicate["id"], "paper", day(2), url="https://paper.example/1")
    moved = await sighting(client, duplicate["id"], "radio", day(3), cites=[twin["id"]])
    subscription = await client.post(
        "/v1/subscriptions",
        json={
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["sighting.recorded"],
            "claim_ids": [duplicate["id"]],
        },
    )

    merged = await writer.post(
        f"/v1/claims/{duplicate['id']}/merge",
        json={"into": survivor["id"], "reason": "same rumour, two wordings"},
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["id"] == survivor["id"]
    assert merged.json()["sightings_count"] == 2

    redirected = await writer.get(
        f"/v1/claims/{duplicate['id']}/chain", params={"include_variants": "false"}
    )
    assert redirected.status_code == 308
    assert redirected.headers["location"].endswith(
        f"/v1/claims/{survivor['id']}/chain?include_variants=false"
    )
    assert (await writer.get(f"/v1/claims/{duplicate['id']}")).status_code == 308
    history = await writer.get(f"/v1/claims/{duplicate['id']}/history")
    assert history.status_code == 200
    assert history.json()["items"][0]["action"] == "merged"

    now = (await writer.get(f"/v1/sightings/{moved['id']}")).json()
    assert now["claim_id"] == survivor["id"]
    assert now["cites"] == [kept["id"]]
    assert_problem(await writer.get(f"/v1/sightings/{twin['id']}"), 410)
    followed = (await client.get(f"/v1/subscriptions/{subscription.json()['id']}")).json()
    assert followed["claim_ids"] == [survivor["id"]]
    merges = await _events(client, "claim.merged")
    assert [e["data"]["claim_id"] for e in merges] == [duplicate["id"]]
    assert merges[0]["data"]["sightings_moved"] == 1
    assert merges[0]["data"]["sightings_withdrawn"] == 1
    into_itself = await writer.post(
        f"/v1/claims/{survivor['id']}/merge", json={"into": survivor["id"], "reason": "x"}
    )
    assert_problem(into_itself, 422, "into")


async def test_claim_corrections_keep_statements_unique(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    first = await claim(client, "North Korea offered troops", tags=["korea"])
    second = await claim(client, "Construction workers to Donbass")
    clash = await writer.patch(
        f"/v1/claims/{second['id']}",
        json={"statement": "north korea, offered troops!", "reason": "typo"},
    )
    assert assert_problem(clash, 409)["existing_id"] == first["id"]
    corrected = await writer.patch(
        f"/v1/claims/{first['id']}",
        json={"statement": "North Korea offered 100,000 troops", "tags": ["dprk"], "reason": "n"},
    )
    assert corrected.status_code == 200
    assert corrected.json()["revision"] == 2
    by_tag = (await writer.get("/v1/claims", params={"tag": "dprk"})).json()["items"]
    assert [c["id"] for c in by_tag] == [first["id"]]
    assert (await writer.get("/v1/claims", params={"tag": "korea"})).json()["items"] == []
    loop = await writer.patch(
        f"/v1/claims/{first['id']}", json={"variant_of": first["id"], "reason": "x"}
    )
    assert_problem(loop, 422, "variant_of")
    assert_problem(
        await writer.patch(f"/v1/claims/{first['id']}", json={"tags": []}), 422, "reason"
    )


async def test_an_outlet_kind_correction_recomputes_status_and_is_versioned(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    claim_id = recorded["denial"]["claim_id"]
    assert (await client.get(f"/v1/claims/{claim_id}")).json()["denial_status"] == "denied"
    changed = await writer.patch(
        "/v1/outlets/russian-mfa", json={"kind": "news_outlet", "reason": "test kind"}
    )
    assert changed.json()["revision"] == 2
    assert changed.headers["etag"] == '"2"'
    assert (await client.get(f"/v1/claims/{claim_id}")).json()["denial_status"] == "none"
    history = (await client.get("/v1/outlets/russian-mfa/history")).json()["items"]
    assert history[0]["changes"] == {"kind": {"from": "official", "to": "news_outlet"}}


async def test_concurrent_corrections_lose_nothing(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    path = f"/v1/sightings/{recorded['after-denial']['id']}"
    title, excerpt = (
        writer.patch(path, json={"title": "A thread", "reason": "title"}),
        writer.patch(path, json={"excerpt": "Still spreading", "reason": "excerpt"}),
    )
    answers = await asyncio.gather(title, excerpt)
    assert [a.status_code for a in answers] == [200, 200]
    final = (await writer.get(path)).json()
    assert (final["title"], final["excerpt"], final["revision"]) == (
        "A thread",
        "Still spreading",
        3,
    )
    guarded = await asyncio.gather(
        *(
            writer.patch(
                path,
                json={"attribution": f"take {n}", "reason": "race"},
                headers={"If-Match": '"3"'},
            )
            for n in range(2)
        )
    )
    assert sorted(a.status_code for a in guarded) == [200, 412]
    assert (await writer.get(path)).json()["revision"] == 4


async def test_the_audit_log_is_for_admins_and_lists_every_change(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(writer)
    await writer.patch(
        f"/v1/sightings/{recorded['laundress']['id']}", json={"title": "Post", "reason": "title"}
    )
    key = (await client.post("/v1/keys", json={"name": "temp", "scope": "read"})).json()
    await client.delete(f"/v1/keys/{key['id']}")
    assert_problem(await reader.get("/v1/audit"), 403)
    assert_problem(await writer.get("/v1/audit"), 403)
    entries = (await client.get("/v1/audit", params={"limit": 500})).json()["items"]
    actions = [(e["action"], e["target_type"]) for e in entries]
    assert actions[:3] == [("revoked", "key"), ("created", "key"), ("corrected", "sighting")]
    assert entries[2]["reason"] == "title" and entries[2]["key_name"] == "desk"
    assert all(e["request_id"] for e in entries)
    corrected = (await client.get("/v1/audit", params={"action": "corrected"})).json()["items"]
    assert [e["target_id"] for e in corrected] == [recorded["laundress"]["id"]]
    methods = (await client.get("/openapi.json")).json()["paths"]["/v1/audit"]
    assert list(methods) == ["get"]


def _cli_history(settings: Settings, record_id: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACER_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", "history", record_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_command_line_prints_a_readable_history(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, settings: Settings
) -> None:
    recorded = await record_worked_example(client)
    talk_show = recorded["talk-show"]["id"]
    await writer.patch(
        f"/v1/sightings/{talk_show}",
        json={"published_at_precision": "day", "reason": "date confirmed to the day"},
    )
    shown = await asyncio.to_thread(_cli_history, settings, talk_show)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"sighting {talk_show}, newest first:"
    assert "revision 2  corrected" in lines[1] and "by desk: date confirmed to the day" in lines[1]
    assert lines[2].split() == ["published_at_precision:", "approximate", "->", "day"]
    assert "revision 1  created" in lines[3]
    unknown = await asyncio.to_thread(_cli_history, settings, "no-such-id")
    assert unknown.returncode == 1
    assert "no-such-id" in unknown.stderr


async def test_every_event_payload_is_documented_under_webhooks(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    webhooks = document["webhooks"]
    assert set(webhooks) == {
        "claim.created",
        "sighting.recorded",
        "denial.recorded",
        "claim.status_changed",
        "claim.resurfaced",
        "sighting.corrected",
        "sighting.withdrawn",
        "claim.corrected",
        "claim.merged",
        "evidence.captured",
        "source.changed",
        "source.gone",
    }
    body = webhooks["sighting.corrected"]["post"]["requestBody"]["content"]["application/json"]
    schema = document["components"]["schemas"][body["schema"]["$ref"].split("/")[-1]]
    data = document["components"]["schemas"][schema["properties"]["data"]["$ref"].split("/")[-1]]
    assert {"sighting", "revision", "reason", "changes"} <= set(data["required"])


async def test_a_withdrawn_sighting_stops_finding_its_claim(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await outlet(client, "paper")
    topic = await claim(client, "The harbour bridge will close for repairs in spring")
    wording = "Зелёные слоны танцуют вальс на обратной стороне Луны"
    logged = await sighting(client, topic["id"], "paper", day(3), excerpt=wording)

    async def score() -> float:
        found = await writer.post("/v1/claims/match", json={"text": wording})
        items = [i for i in found.json()["items"] if i["claim"]["id"] == topic["id"]]
        return float(items[0]["score"]) if items else 0.0

    before = await score()
    assert before > 0.5
    withdrawn = await writer.delete(f"/v1/sightings/{logged['id']}", params={"reason": "wrong"})
    assert withdrawn.status_code == 204
    assert await score() < before / 2
