"""Request body size limits, enforced before the body reaches a route."""

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_response

MiB = 1024 * 1024
DEFAULT_LIMIT = 1 * MiB
BATCH_LIMIT = 10 * MiB


class _TooLarge(Exception):
    pass


def limit_for(path: str) -> int:
    return BATCH_LIMIT if path.rstrip("/").endswith("/batch") else DEFAULT_LIMIT


class BodySizeLimit:
    """Refuses bodies over the limit with 413, whether or not Content-Length was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error: Any = PayloadTooLarge(f"request bodies here are limited to {limit // MiB} MiB")
        await problem_response(error.problem())(scope, receive, send)
