"""Each HTTP request watched to its end once, for the access log and the metrics alike: the
status it was answered with and the seconds it took."""

import time
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Observer = Callable[[Scope, int, float], None]
"""Told of every answered request: its scope, its status and its duration in seconds."""


class ObserveRequests:
    def __init__(self, app: ASGIApp, observers: Sequence[Observer]) -> None:
        self.app = app
        self.observers = observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # What a request that raised before answering is counted as.
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            for observe in self.observers:
                observe(scope, status, elapsed)
