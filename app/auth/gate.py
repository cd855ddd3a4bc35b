"""The door of the API: who is calling and how much, settled before a body is read.

A request under `/v1` is authenticated here, from its headers alone, and counted against its
key's rate limit; a request without a valid key is counted against its address's limit for
failed key checks. So a stranger's 10 MiB body is never read, a guesser of keys meets 429, and
a routine reader learns from `RateLimit-*` headers how much room it has left. A valid key is
always let in, whatever others at its address failed: one guesser behind a newsroom's shared
address must not lock the newsroom out.
"""

import logging
import math
import time

from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.cache import VerifiedKeys
from app.auth.service import BOOTSTRAP_NAME, Principal, bootstrap_principal, hash_key
from app.auth.service import principal_of_hash as stored_principal
from app.config import Settings
from app.db import is_transient
from app.errors import Unauthorized, problem_body, problem_response, unavailable_response
from app.ratelimit import Counter, Quota, SessionSource

PROTECTED_PREFIX = "/v1/"
log = logging.getLogger("tracer.gate")


def _presented_key(headers: Headers) -> str | None:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def client_address(scope: Scope) -> str:
    """The caller's address, as the server took it (from trusted proxies' X-Forwarded-For)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class FailedKeyChecks:
    """Failed key checks counted per address, by the API's gate and the sign-in page alike.

    An address past its limit is refused until its window ends; what it sends meanwhile is
    not even counted, so a flood of guesses costs no writes. A valid key is checked first and
    never meets this limit.
    """

    def __init__(self, *, counter: Counter, limit: int) -> None:
        self.counter = counter
        self.limit = limit
        # Addresses over the limit, and until when (time.monotonic()).
        self._blocked: dict[str, float] = {}

    def blocked_for(self, address: str) -> int | None:
        """Seconds the address stays refused, or None when it is not."""
        until = self._blocked.get(address)
        if until is None:
            return None
        if until <= time.monotonic():
            del self._blocked[address]
            return None
        return max(1, math.ceil(until - time.monotonic()))

    async def count(self, session: SessionSource, address: str) -> Quota:
        """Count one failed check from `address`; past the limit it is refused for a while."""
        quota = await self.counter.hit(session, f"addr:{address}", self.limit)
        if quota.exceeded:
            if len(self._blocked) > 100_000:
                now = time.monotonic()
                self._blocked = {a: t for a, t in self._blocked.items() if t > now}
            self._blocked[address] = time.monotonic() + quota.reset_seconds
        return quota


class _OnDemand:
    """A session opened only when something needs the database: most requests present a key
    verified moments ago and are counted in memory, and opening a session for nothing costs
    a read as much as its own query."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None

    def __call__(self) -> AsyncSession:
        if self._session is None:
            self._session = self._sessionmaker()
        return self._session

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class Gate:
    """Authenticates and rate-limits every `/v1` request before its body is read."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        counter: Counter,
        failures: FailedKeyChecks,
        keys: VerifiedKeys,
    ) -> None:
        self.app = app
        self.settings = settings
        self.counter = counter
        self.failures = failures
        self.keys = keys
        bootstrap = settings.bootstrap_admin_key
        self._bootstrap = bootstrap.get_secret_value() if bootstrap else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        presented = _presented_key(Headers(scope=scope))
        blocked = self.failures.blocked_for(address)
        session = _OnDemand(scope["app"].state.sessionmaker)
        try:
            try:
                principal = await self._principal(session, presented)
                quota = None
                if principal is None and blocked is None:
                    quota = await self.failures.count(session, address)
                elif principal is not None and self.settings.rate_limit > 0:
                    quota = await self.counter.hit(
                        session,
                        f"key:{principal.key_id or BOOTSTRAP_NAME}",
                        self.settings.rate_limit,
                    )
                await session.commit()
            finally:
                await session.close()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("database unavailable", extra={"error": type(exc).__name__})
            await unavailable_response(self.settings.unavailable_retry_after_seconds)(
                scope, receive, send
            )
            return
        if principal is None:
            if quota is None or quota.exceeded:
                await too_many(quota.reset_seconds if quota else blocked or 1, quota)(
                    scope, receive, send
                )
                return
            await self._refuse(scope, receive, send, quota, presented is None)
            return
        scope.setdefault("state", {})["principal"] = principal
        if quota is None:
            await self.app(scope, receive, send)
            return
        if quota.exceeded:
            await too_many(quota.reset_seconds, quota)(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send, quota))

    async def _principal(self, session: SessionSource, presented: str | None) -> Principal | None:
        """Who presents this key: from memory when it was verified moments ago."""
        if presented is None:
            return None
        digest = hash_key(presented)
        principal = bootstrap_principal(digest, self._bootstrap) or self.keys.get(digest)
        if principal is None:
            principal = await stored_principal(session=session(), digest=digest)
            if principal is not None:
                self.keys.keep(digest, principal)
        return principal

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        quota: Quota,
        missing: bool,
    ) -> None:
        error = Unauthorized(
            "an API key is required: send `Authorization: Bearer <key>`"
            if missing
            else "the API key is unknown or revoked"
        )
        response = problem_response(
            error.problem(), {"WWW-Authenticate": "Bearer", **quota.headers()}
        )
        await response(scope, receive, send)


def too_many(retry_after: int, quota: Quota | None) -> JSONResponse:
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
