"""Writers that collide in the database are run again by the server, not by the client.

Two transactions that lock the same rows in opposite orders (a merge and a correction of one of
its sightings, say) can deadlock, and PostgreSQL then fails one of them; a serialization
conflict fails one the same way. Either failure means only "run me again": the request's
transaction was rolled back whole. So a request whose transaction lost such a collision is run
again from the start, a few times, after a short random wait that lets the winner finish. A
"database unavailable" answer is left for the database really being away.
"""

import asyncio
import logging
import random

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import is_retryable
from app.errors import unavailable_response

log = logging.getLogger("tracer.collisions")

ATTEMPTS = 6
# The first wait is up to this long; each further one doubles it.
FIRST_WAIT_SECONDS = 0.02


class RetryCollisions:
    def __init__(self, app: ASGIApp, *, retry_after_seconds: int) -> None:
        self.app = app
        self.retry_after_seconds = retry_after_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The body is kept to be sent again; it was read whole and bounded already (limits).
        body: list[Message] = []
        if scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            while True:
                message = await receive()
                body.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        for attempt in range(1, ATTEMPTS + 1):
            try:
                await self.app(scope, _replaying(body, receive), sending)
                return
            except Exception as exc:
                if started or not is_retryable(exc):
                    raise
                log.info(
                    "transaction collided; running the request again",
                    extra={"attempt": attempt, "error": type(exc).__name__},
                )
            if attempt < ATTEMPTS:
                await asyncio.sleep(random.uniform(0, FIRST_WAIT_SECONDS * 2 ** (attempt - 1)))
        await unavailable_response(self.retry_after_seconds)(scope, receive, send)


def _replaying(body: list[Message], receive: Receive) -> Receive:
    """The body as first received, then whatever the client sends next (a disconnect)."""
    waiting = list(body)

    async def next_message() -> Message:
        return waiting.pop(0) if waiting else await receive()

    return next_message
