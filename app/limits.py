"""Request body size limits, enforced before the body reaches a route."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_response

MiB = 1024 * 1024
DEFAULT_LIMIT = 1 * MiB
BATCH_LIMIT = 10 * MiB


def limit_for(path: str) -> int:
    return BATCH_LIMIT if path.rstrip("/").endswith("/batch") else DEFAULT_LIMIT


class BodySizeLimit:
    """Refuses bodies over the limit with 413, whether or not Content-Length was sent.

    The body is read up front (routes read it whole anyway): a limit tripped halfway through
    a route's own read would surface as the framework's generic 400 instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"request bodies here are limited to {limit // MiB} MiB")
        await problem_response(error.problem())(scope, receive, send)
