"""Every request's id: taken from `X-Request-ID` when the client sends a sane one, else made.

It is echoed in the response and kept in a context variable, so whatever the request writes
(audit entries, log lines) can name the request without being handed it.
"""

import re
from contextvars import ContextVar
from random import getrandbits

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._:\-]{1,200}$")


def new_request_id() -> str:
    """A random (version 4) UUID's 32 hex digits, made once a request without a UUID object
    or a system call: the process's own generator is enough for an id that names, not guards."""
    bits = getrandbits(128) & ~(0xF << 76 | 0x3 << 62) | 0x4 << 76 | 0x2 << 62
    return f"{bits:032x}"


current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER, b"")
        request_id = sent.decode() if _SANE.match(sent) else new_request_id()
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
