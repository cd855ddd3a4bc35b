"""Signed webhooks reach a real receiver, with retries, back-off and the receiver's wishes."""

import asyncio
import time

import httpx
import standardwebhooks

from tests.alerts.conftest import FAST_RETRIES, record_sighting, subscribe, wait_for_attempts
from tests.alerts.receiver import Receiver, Reply, eventually


async def test_official_denial_reaches_receiver_signed(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    subscription = await subscribe(client, receiver.url)
    assert subscription["secret"].startswith("whsec_")
    sighting = await record_sighting(writer, statement="North Korea offered 100,000 troops")

    await eventually(lambda: len(receiver.requests) == 1)
    received = receiver.requests[0]
    verified = standardwebhooks.Webhook(subscription["secret"]).verify(
        received.body, received.headers
    )
    assert verified["type"] == "denial.recorded"
    assert verified["timestamp"].endswith("Z")
    assert verified["data"]["sighting"]["id"] == sighting["id"]
    assert verified["data"]["claim"]["statement"] == "North Korea offered 100,000 troops"
    assert received.headers["webhook-signature"].startswith("v1,")

    events = (await client.get("/v1/events", params={"type": "denial.recorded"})).json()["items"]
    assert received.webhook_id == str(events[0]["id"])
    # Nothing the subscription did not ask for: the claim and sighting events stay home.
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 1


async def test_three_failures_then_success(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.script = lambda n, _h: Reply(500 if n <= 3 else 204)
    subscription = await subscribe(client, receiver.url)
    await record_sighting(writer)

    await eventually(lambda: len(receiver.succeeded()) == 1)
    await asyncio.sleep(0.3)
    assert [r.status for r in receiver.requests] == [500, 500, 500, 204]
    assert len({r.webhook_id for r in receiver.requests}) == 1
    for received in receiver.requests:
        standardwebhooks.Webhook(subscription["secret"]).verify(received.body, received.headers)

    logged = await wait_for_attempts(client, subscription["id"], 4)
    assert [a["attempt"] for a in logged] == [1, 2, 3, 4]
    assert [a["status_code"] for a in logged] == [500, 500, 500, 204]
    assert [a["outcome"] for a in logged] == ["retrying"] * 3 + ["succeeded"]
    assert all(a["next_retry_at"] for a in logged[:3]) and logged[3]["next_retry_at"] is None
    assert logged[0]["error"] == "the receiver answered 500"
    assert {a["event_id"] for a in logged} == {int(receiver.requests[0].webhook_id)}


async def test_gone_disables_the_subscription(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.script = lambda _n, _h: Reply(410)
    subscription = await subscribe(client, receiver.url)
    await record_sighting(writer)
    await eventually(lambda: len(receiver.requests) == 1)

    async def disabled() -> bool:
        shown = (await client.get(f"/v1/subscriptions/{subscription['id']}")).json()
        return bool(shown["status"] == "disabled")

    for _ in range(100):
        if await disabled():
            break
        await asyncio.sleep(0.02)
    assert await disabled()
    await record_sighting(writer)
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 1


async def test_retry_after_is_honoured(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.script = lambda n, _h: Reply(503, {"retry-after": "1"}) if n == 1 else Reply(200)
    await subscribe(client, receiver.url)
    await record_sighting(writer)
    await eventually(lambda: len(receiver.requests) == 2)
    waited = receiver.requests[1].at - receiver.requests[0].at
    assert waited >= 0.9, waited


async def test_persistent_failure_marks_failing_then_redelivery_recovers(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    broken = True
    receiver.script = lambda _n, _h: Reply(500 if broken else 200)
    subscription = await subscribe(client, receiver.url)
    path = f"/v1/subscriptions/{subscription['id']}"
    await record_sighting(writer)
    await eventually(lambda: len(receiver.requests) == len(FAST_RETRIES) + 1)
    for _ in range(100):
        shown = (await client.get(path)).json()
        if shown["status"] == "failing":
            break
        await asyncio.sleep(0.02)
    assert shown["status"] == "failing", shown
    attempts = (await client.get(f"{path}/deliveries")).json()["items"]
    assert attempts[0]["outcome"] == "failed"
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == len(FAST_RETRIES) + 1

    broken = False
    event_id = attempts[0]["event_id"]
    redelivered = await client.post(f"{path}/deliveries/{event_id}/redeliver")
    assert redelivered.status_code == 202, redelivered.text
    assert redelivered.json()["status"] == "pending"
    await eventually(lambda: len(receiver.succeeded()) == 1)
    assert receiver.succeeded()[0].webhook_id == str(event_id)
    for _ in range(100):
        if (await client.get(path)).json()["status"] == "active":
            break
        await asyncio.sleep(0.02)
    assert (await client.get(path)).json()["status"] == "active"


async def test_redelivering_an_unknown_event_is_404(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    subscription = await subscribe(client, receiver.url)
    response = await client.post(
        f"/v1/subscriptions/{subscription['id']}/deliveries/999999/redeliver"
    )
    assert response.status_code == 404


async def test_filters_by_claim_and_tag(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    first = await record_sighting(writer, stance="asserts", kind="anonymous_channel")
    await subscribe(client, receiver.url, claim_ids=[first["claim_id"]])
    await subscribe(client, receiver.url, tags=["korea"])
    await record_sighting(writer)  # another claim, untagged: nobody wants it
    await record_sighting(writer, claim_id=first["claim_id"])
    await record_sighting(writer, tags=["korea", "troops"])
    await eventually(lambda: len(receiver.requests) == 2)
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 2


async def test_slow_receiver_times_out_and_is_retried(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver, app: object
) -> None:
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    app.state.settings.webhook_timeout_seconds = 0.3
    receiver.script = lambda n, _h: Reply(200, delay=2.0 if n == 1 else 0.0)
    subscription = await subscribe(client, receiver.url)
    started = time.monotonic()
    await record_sighting(writer)
    await eventually(lambda: len(receiver.requests) >= 2, seconds=5)
    attempts = (await client.get(f"/v1/subscriptions/{subscription['id']}/deliveries")).json()
    first = attempts["items"][-1]
    assert first["status_code"] is None
    assert "no answer within" in first["error"]
    assert time.monotonic() - started < 5


async def test_redirects_are_not_followed_and_big_answers_not_read(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.script = lambda n, _h: (
        Reply(307, {"location": receiver.url + "/elsewhere"})
        if n == 1
        else Reply(200, body=b"x" * 5_000_000)
    )
    subscription = await subscribe(client, receiver.url)
    await record_sighting(writer)
    await eventually(lambda: len(receiver.succeeded()) == 1)
    assert len(receiver.requests) == 2
    attempts = await wait_for_attempts(client, subscription["id"], 2)
    assert [a["status_code"] for a in attempts] == [307, 200]


async def test_a_slow_receiver_does_not_hold_up_the_others(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    receiver.script = lambda _n, _h: Reply(200, delay=2.5)
    fast = Receiver()
    await fast.start()
    try:
        slow_claim = await record_sighting(writer, stance="asserts", kind="anonymous_channel")
        fast_claim = await record_sighting(writer, stance="asserts", kind="anonymous_channel")
        await subscribe(client, receiver.url, claim_ids=[slow_claim["claim_id"]])
        await subscribe(client, fast.url, claim_ids=[fast_claim["claim_id"]])
        await record_sighting(writer, claim_id=slow_claim["claim_id"])
        await eventually(lambda: receiver.arrived == 1)
        sent = time.monotonic()
        await record_sighting(writer, claim_id=fast_claim["claim_id"])
        await eventually(lambda: len(fast.succeeded()) == 1)
        assert time.monotonic() - sent < 1.5
        assert receiver.succeeded() == []  # still waiting for its answer
        await eventually(lambda: len(receiver.succeeded()) == 1)
    finally:
        await fast.stop()


async def test_deleting_a_subscription_mid_delivery_costs_the_others_nothing(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    other = Receiver()
    await other.start()
    try:
        receiver.script = other.script = lambda _n, _h: Reply(200, delay=0.5)
        doomed = await subscribe(client, receiver.url)
        kept = await subscribe(client, other.url)
        await record_sighting(writer)
        await eventually(lambda: receiver.arrived == 1 and other.arrived == 1)
        assert (await client.delete(f"/v1/subscriptions/{doomed['id']}")).status_code == 204
        attempts = await wait_for_attempts(client, kept["id"], 1)
        assert [a["outcome"] for a in attempts] == ["succeeded"]
        await asyncio.sleep(0.5)
        assert other.arrived == 1
    finally:
        await other.stop()
