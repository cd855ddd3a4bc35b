"""Server-Sent Events: the event feed, live, resuming from `Last-Event-ID`."""

import json
import time
from collections.abc import AsyncIterator, Sequence

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts import service
from app.alerts.schemas import Event as EventOut
from app.alerts.wakeup import Wakeup
from app.config import Settings
from app.enums import EventType
from app.outbox.models import Event

BATCH = 200
# Browsers reconnect after this many milliseconds when the connection drops.
RECONNECT_MS = 3000


def format_event(event: Event) -> str:
    data = json.dumps(EventOut.model_validate(event).model_dump(mode="json"), ensure_ascii=False)
    return f"id: {event.id}\nevent: {event.type.value}\ndata: {data}\n\n"


async def event_stream(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    wakeup: Wakeup,
    after: int,
    types: Sequence[EventType],
    claim_id: str | None,
    heartbeat_seconds: float,
    poll_seconds: float,
) -> AsyncIterator[str]:
    """Every event after `after`, then each new one as it commits, with heartbeat comments."""
    yield f"retry: {RECONNECT_MS}\n\n"
    last_id = after
    last_sent = time.monotonic()
    while True:
        ticket = wakeup.ticket()
        async with sessionmaker() as session:
            events = await service.events_after(
                session=session, after=last_id, limit=BATCH, types=types, claim_id=claim_id
            )
        for event in events:
            yield format_event(event)
            last_id = event.id
        if events:
            last_sent = time.monotonic()
            continue
        quiet_for = time.monotonic() - last_sent
        if quiet_for >= heartbeat_seconds:
            # A comment line: ignored by clients, but it keeps proxies from closing the stream.
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
            quiet_for = 0.0
        await wakeup.wait(ticket, min(poll_seconds, heartbeat_seconds - quiet_for))


def stream_response(
    request: Request, *, after: int, types: Sequence[EventType], claim_id: str | None
) -> StreamingResponse:
    """The live event stream as an answer, served by the API and by the pages alike."""
    settings: Settings = request.app.state.settings
    body = event_stream(
        sessionmaker=request.app.state.sessionmaker,
        wakeup=request.app.state.wakeup,
        after=after,
        types=types,
        claim_id=claim_id,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        poll_seconds=settings.stream_poll_seconds,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        # Proxies must pass each event on as it comes rather than buffer the stream.
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
