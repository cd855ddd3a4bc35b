"""One webhook attempt: the signed request, the receiver's answer, and when to try again."""

import asyncio
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from standardwebhooks import Webhook

from app import netguard
from app.alerts.models import AttemptOutcome
from app.config import Settings
from app.outbox.models import Event
from app.schemas import utc_z

# Enough of the receiver's answer to see that it ended; the rest is never read.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Tracer-Webhooks/1"
JITTER = 0.2


def build_client(settings: Settings) -> httpx.AsyncClient:
    """The client every webhook goes through; redirects are not followed, proxies not read,
    and connections go only to addresses checked as they are made."""
    limits = httpx.Limits(max_connections=max(settings.dispatch_concurrency, 1) * 2)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
        transport=netguard.PinnedTransport(
            allow_private=settings.webhook_allow_private, limits=limits
        ),
    )


def payload(event: Event) -> bytes:
    """The body every attempt of this event sends, byte for byte."""
    body = {
        "type": event.type.value,
        "timestamp": utc_z(event.created_at),
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(*, secret: str, message_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers; the timestamp is the attempt's, so retries are not stale."""
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=now, data=body.decode())
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header, in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


async def send(
    client: httpx.AsyncClient, *, url: str, body: bytes, headers: dict[str, str], seconds: float
) -> Answer:
    """POST once; any failure becomes an Answer, never an exception."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        # The overall limit also bounds a receiver that trickles its answer byte by byte.
        async with (
            asyncio.timeout(seconds),
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            read = 0
            async for chunk in response.aiter_bytes():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
            retry_after = None
            if response.status_code in (429, 503):
                retry_after = retry_after_seconds(
                    response.headers.get("retry-after"), datetime.now(UTC)
                )
            return Answer(response.status_code, None, elapsed(), retry_after)
    except TimeoutError:
        return Answer(None, f"no answer within {seconds:g} s", elapsed())
    except httpx.HTTPError as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500], elapsed())


def backoff_seconds(
    failures: int, delays: list[float], rng: random.Random | None = None
) -> float | None:
    """The wait after the `failures`-th failure in a row, with jitter; None once they run out."""
    if failures < 1 or failures > len(delays):
        return None
    spread = (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return float(delays[failures - 1]) * spread


@dataclass(frozen=True)
class Verdict:
    outcome: AttemptOutcome
    next_attempt_at: datetime | None
    error: str | None


def judge(answer: Answer, *, failures: int, settings: Settings, now: datetime) -> Verdict:
    """What an answer means for the delivery; `failures` counts this one if it failed."""
    if answer.ok:
        return Verdict(AttemptOutcome.succeeded, None, None)
    error = answer.error or f"the receiver answered {answer.status_code}"
    if answer.status_code == 410:
        return Verdict(AttemptOutcome.gone, None, error)
    wait = backoff_seconds(failures, settings.webhook_retry_delays)
    if wait is None:
        return Verdict(AttemptOutcome.failed, None, error)
    if answer.retry_after is not None:
        wait = min(answer.retry_after, settings.webhook_max_retry_after_seconds)
    return Verdict(AttemptOutcome.retrying, now + timedelta(seconds=wait), error)
