"""The door of the API: who is calling and how much, settled before a body is read.

A request under `/v1` is authenticated here, from its headers alone, and counted against its
key's rate limit; a request without a valid key is counted against its address's limit for
failed authentication. So a stranger's 10 MiB body is never read, a guesser of keys meets 429,
and a routine reader learns from `RateLimit-*` headers how much room it has left.
"""

import logging
import time

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.service import BOOTSTRAP_NAME, Principal, authenticate
from app.config import Settings
from app.db import is_transient
from app.errors import Unauthorized, problem_body, problem_response, unavailable_response
from app.ratelimit import Counter, Quota

PROTECTED_PREFIX = "/v1/"
log = logging.getLogger("tracer.gate")


def _presented_key(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Gate:
    """Authenticates and rate-limits every `/v1` request before its body is read."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        counter: Counter,
    ) -> None:
        self.app = app
        self.settings = settings
        self.counter = counter
        # Addresses over their failed-authentication limit, and until when (time.monotonic()):
        # refused at once, so a guesser's keys are not even looked up.
        self._blocked: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        address = _client(scope)
        blocked_until = self._blocked.get(address)
        if blocked_until is not None:
            if blocked_until > time.monotonic():
                retry = max(1, int(blocked_until - time.monotonic()))
                await _too_many(retry, None)(scope, receive, send)
                return
            del self._blocked[address]
        sessionmaker: async_sessionmaker[AsyncSession] = scope["app"].state.sessionmaker
        presented = _presented_key(Headers(scope=scope))
        try:
            async with sessionmaker() as session:
                principal = None
                if presented is not None:
                    principal = await authenticate(
                        session=session, presented=presented, bootstrap_key=self._bootstrap()
                    )
                quota = None
                if principal is None:
                    quota = await self.counter.hit(
                        session,
                        f"addr:{address}",
                        self.settings.auth_failure_limit,
                    )
                elif self.settings.rate_limit > 0:
                    quota = await self.counter.hit(
                        session,
                        f"key:{principal.key_id or BOOTSTRAP_NAME}",
                        self.settings.rate_limit,
                    )
                await session.commit()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("database unavailable", extra={"error": type(exc).__name__})
            await unavailable_response(self.settings.unavailable_retry_after_seconds)(
                scope, receive, send
            )
            return
        if principal is None:
            assert quota is not None
            await self._refuse(scope, receive, send, address, quota, presented is None)
            return
        scope.setdefault("state", {})["principal"] = principal
        if quota is None:
            await self.app(scope, receive, send)
            return
        if quota.exceeded:
            await _too_many(quota.reset_seconds, quota)(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send, quota))

    def _bootstrap(self) -> str | None:
        key = self.settings.bootstrap_admin_key
        return key.get_secret_value() if key else None

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        address: str,
        quota: Quota,
        missing: bool,
    ) -> None:
        if quota.exceeded:
            self._blocked[address] = time.monotonic() + quota.reset_seconds
            await _too_many(quota.reset_seconds, quota)(scope, receive, send)
            return
        error = Unauthorized(
            "an API key is required: send `Authorization: Bearer <key>`"
            if missing
            else "the API key is unknown or revoked"
        )
        response = problem_response(
            error.problem(), {"WWW-Authenticate": "Bearer", **quota.headers()}
        )
        await response(scope, receive, send)


def _too_many(retry_after: int, quota: Quota | None) -> JSONResponse:
    body = problem_body(
        429,
        "rate-limited",
        "Too many requests",
        f"too many requests; retry after {retry_after} seconds",
    )
    headers = {"Retry-After": str(retry_after), **(quota.headers() if quota else {})}
    return problem_response(body, headers)


def _with_headers(send: Send, quota: Quota) -> Send:
    extra = [(k.lower().encode(), v.encode()) for k, v in quota.headers().items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return sending


def principal_of(scope: Scope) -> Principal | None:
    """The principal the gate let in, if this request went through it."""
    principal = scope.get("state", {}).get("principal")
    return principal if isinstance(principal, Principal) else None
