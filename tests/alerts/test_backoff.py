"""Back-off arithmetic and the receiver's Retry-After, without any network."""

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.alerts.delivery import (
    Answer,
    backoff_seconds,
    judge,
    payload,
    retry_after_seconds,
    send,
    signed_headers,
)
from app.alerts.models import AttemptOutcome
from app.config import Settings
from app.enums import EventType
from app.outbox.models import Event

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_default_schedule_grows_and_spans_about_a_day() -> None:
    delays = Settings().webhook_retry_delays
    assert delays == sorted(delays)
    assert 20 * 3600 <= sum(delays) <= 30 * 3600


def test_backoff_has_bounded_jitter_and_runs_out() -> None:
    rng = random.Random(7)
    delays = [10.0, 100.0]
    samples = [backoff_seconds(1, delays, rng) for _ in range(200)]
    assert all(s is not None and 8.0 <= s <= 12.0 for s in samples)
    assert len({round(s or 0, 3) for s in samples}) > 100
    second = backoff_seconds(2, delays, rng)
    assert second is not None and 80.0 <= second <= 120.0
    assert backoff_seconds(3, delays, rng) is None
    assert backoff_seconds(0, delays, rng) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Thu, 01 Jan 2026 00:01:00 GMT", 60.0),
        ("Wed, 31 Dec 2025 00:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


def test_judge() -> None:
    settings = Settings(webhook_retry_delays=[60, 600], webhook_max_retry_after_seconds=3600)
    ok = judge(Answer(204, None, 5), failures=0, settings=settings, now=NOW)
    assert ok.outcome == AttemptOutcome.succeeded and ok.next_attempt_at is None
    gone = judge(Answer(410, None, 5), failures=1, settings=settings, now=NOW)
    assert gone.outcome == AttemptOutcome.gone
    retry = judge(Answer(500, None, 5), failures=1, settings=settings, now=NOW)
    assert retry.outcome == AttemptOutcome.retrying and retry.next_attempt_at is not None
    assert timedelta(seconds=48) <= retry.next_attempt_at - NOW <= timedelta(seconds=72)
    waited = judge(Answer(429, None, 5, retry_after=7200), failures=1, settings=settings, now=NOW)
    assert waited.next_attempt_at == NOW + timedelta(seconds=3600)
    dead = judge(Answer(None, "refused", 5), failures=3, settings=settings, now=NOW)
    assert dead.outcome == AttemptOutcome.failed and dead.error == "refused"


async def test_send_reads_retry_after_on_429_and_503_only() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        status = int(request.url.path.strip("/"))
        return httpx.Response(status, headers={"retry-after": "30"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        for status, expected in ((429, 30.0), (503, 30.0), (500, None)):
            got = await send(
                http, url=f"http://receiver/{status}", body=b"{}", headers={}, seconds=1
            )
            assert (got.status_code, got.retry_after) == (status, expected)


def test_signature_is_over_id_timestamp_and_body() -> None:
    event = Event(
        id=42, type=EventType.claim_created, data={"a": "é"}, created_at=NOW, claim_id=None
    )
    body = payload(event)
    assert (
        body
        == '{"type":"claim.created","timestamp":"2026-01-01T00:00:00Z","data":{"a":"é"}}'.encode()
    )
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    first = signed_headers(secret=secret, message_id="42", body=body, now=NOW)
    later = signed_headers(
        secret=secret, message_id="42", body=body, now=NOW + timedelta(seconds=9)
    )
    assert first["webhook-id"] == later["webhook-id"] == "42"
    assert first["webhook-timestamp"] != later["webhook-timestamp"]
    assert first["webhook-signature"] != later["webhook-signature"]
