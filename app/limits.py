"""Request body size limits, enforced before the body reaches a route."""

from collections.abc import Sequence

import anyio
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge, problem_body, problem_response

MiB = 1024 * 1024
DEFAULT_LIMIT = 1 * MiB
BATCH_LIMIT = 10 * MiB
# Evidence uploads: a 50 MiB file and its multipart framing.
UPLOAD_LIMIT = 51 * MiB


def limit_for(path: str) -> int:
    path = path.rstrip("/")
    if path.endswith("/batch"):
        return BATCH_LIMIT
    if path.startswith(("/v1/sightings/", "/ui/sightings/")) and path.endswith("/captures"):
        return UPLOAD_LIMIT
    return DEFAULT_LIMIT


_BODILESS = ("GET", "HEAD", "OPTIONS", "DELETE")
# A body up to this size has mostly arrived with its headers (uvicorn buffers as much before
# it stops reading); reading it costs nothing worth a second walk through the routes.
SMALL_BODY = 64 * 1024


def _large_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    if b"transfer-encoding" in headers:
        return True
    declared = headers.get(b"content-length", b"0")
    return not declared.isdigit() or int(declared) > SMALL_BODY


class UnknownRoutes:
    """Answers 404 to a request with a large body for a path no route serves, unread.

    The body would be read only to be thrown away: twenty 10 MiB uploads to a path ending in
    /batch cost the process 150 MB before their 404s. Other requests find their route, or
    their 404, the usual way.
    """

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _large_body(scope) or self._served(scope):
            await self.app(scope, receive, send)
            return
        body = problem_body(404, "not-found", "Not Found", "Not Found")
        await problem_response(body)(scope, receive, send)

    def _served(self, scope: Scope) -> bool:
        path: str = scope["path"]
        # The router redirects a path with a stray or missing trailing slash to the route's.
        twin = path.rstrip("/") if path.endswith("/") else path + "/"
        return any(
            route.matches({**scope, "path": candidate})[0] is not Match.NONE
            for candidate in (path, twin)
            for route in self.routes
        )


class BodySizeLimit:
    """Refuses bodies over the limit with 413, whether or not Content-Length was sent.

    The body is read up front (routes read it whole anyway): a limit tripped halfway through
    a route's own read would surface as the framework's generic 400 instead.
    """

    def __init__(self, app: ASGIApp, *, read_timeout: float = 30.0) -> None:
        self.app = app
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODILESS:
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        messages: list[Message] = []
        size = 0
        # A client that trickles its body holds a connection and a buffer; past this time it
        # is told so and dropped.
        with anyio.move_on_after(self.read_timeout) as reading:
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
        if reading.cancelled_caught:
            body = problem_body(
                408,
                "request-timeout",
                "Request timeout",
                f"the body did not arrive within {self.read_timeout:g} seconds",
            )
            await problem_response(body, {"Connection": "close"})(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"request bodies here are limited to {limit // MiB} MiB")
        await problem_response(error.problem())(scope, receive, send)


class CancelOnDisconnect:
    """Stops a read as soon as its client goes away, cancelling the query it is waiting on.

    A long read (a deep trace, a large chain) would otherwise run to its end for nobody and
    keep its database connection all along. Writes are left to finish: stopping one midway
    would leave the client unsure whether it was stored.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        first = await receive()
        if first["type"] == "http.disconnect":
            return
        pending: list[Message] = [first]
        gone = anyio.Event()

        async def replay() -> Message:
            if pending:
                return pending.pop()
            await gone.wait()
            return {"type": "http.disconnect"}

        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                gone.set()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            await self.app(scope, replay, send)
            group.cancel_scope.cancel()
