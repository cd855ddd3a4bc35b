"""Documents derived from a claim's records (its denial report, chain, spread), kept in memory
by each process and answered again, with an `ETag`, until the outbox says the claim changed.

Dashboards poll the same few documents over and over. Building one takes a snapshot and
several queries; answering a kept one takes only the check that it is still current
(app.derived.freshness). A request is answered from memory only after a check that began after
the request arrived, so a change committed before a request is never hidden from it. Requests
arriving together share one check: its cost is a small query per batch of requests, not per
request.
"""

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.derived.freshness import OutboxWatch
from app.enums import EventType

# Events whose effects stay within the claim they name: only that claim's documents go. Any
# other event (a merge, a correction that may move a sighting to another claim, a type added
# later) drops every document, which is never wrong, only slower.
WITHIN_ITS_CLAIM = frozenset(
    event_type.value
    for event_type in (
        EventType.claim_created,
        EventType.sighting_recorded,
        EventType.denial_recorded,
        EventType.claim_status_changed,
        EventType.claim_resurfaced,
        EventType.claim_corrected,
        EventType.sighting_withdrawn,
    )
)
# Claims remembered as dropped since a document began to be built; past it, all count.
MAX_DROPPED = 10_000
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: `If-None-Match` named the document's current `ETag`."}
}


@dataclass(frozen=True)
class _Kept:
    claim_id: str
    body: bytes
    etag: str
    # The route that built it, for the metrics of answers given before routing.
    route: Any


Key = tuple[str, bytes]
"""A document is known by the path and query it was asked for."""


def _key(scope: Scope) -> Key:
    return scope["path"], scope["query_string"]


class DerivedDocuments:
    """The documents this process built lately, by request, for as long as they are current."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        max_bytes: int,
        max_document_bytes: int,
        media_type: str = "application/json",
    ) -> None:
        self.max_bytes = max_bytes
        self.max_document_bytes = max_document_bytes
        self.media_type = media_type
        self._watch = OutboxWatch(engine, self._drop)
        self._kept: OrderedDict[Key, _Kept] = OrderedDict()
        self._by_claim: dict[str, set[Key]] = {}
        self._size = 0
        # The check that last dropped each claim's documents, or every claim's: a document
        # built after an earlier check may already be out of date, and is not kept.
        self._dropped_at: dict[str, int] = {}
        self._all_dropped_at = 0

    def keeps(self, scope: Scope) -> bool:
        """Whether a document was kept for this request (current or not: the check says)."""
        return _key(scope) in self._kept

    async def kept(self, scope: Scope) -> Response | None:
        """The kept answer to this request once a check says it is current, else None."""
        key = _key(scope)
        if await self._watch.current() is None:
            return None
        kept = self._kept.get(key)
        if kept is None:
            return None
        self._kept.move_to_end(key)
        scope["route"] = kept.route
        return self._reply(scope, kept.body, kept.etag)

    async def close(self) -> None:
        """Give back the connection the checks hold."""
        await self._watch.close()

    async def answer(
        self, request: Request, *, claim_id: str, build: Callable[[], AsyncIterator[bytes]]
    ) -> Response:
        """The claim's document this request asks for: kept, or built by `build` and kept; 304
        when its `If-None-Match` names it. One too large to keep is streamed as it is built.

        The route decides what is kept: a document that other claims' changes would change
        too is built anew every time instead.
        """
        scope = request.scope
        check = await self._watch.current()
        kept = self._kept.get(_key(scope)) if check is not None else None
        if kept is not None:
            self._kept.move_to_end(_key(scope))
            return self._reply(scope, kept.body, kept.etag)
        parts = build()
        buffered: list[bytes] = []
        size = 0
        async for part in parts:
            buffered.append(part)
            size += len(part)
            if size > self.max_document_bytes:
                return StreamingResponse(_rest(buffered, parts), media_type=self.media_type)
        body = b"".join(buffered)
        etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
        if check is not None:
            self._keep(check, _key(scope), _Kept(claim_id, body, etag, scope.get("route")))
        return self._reply(scope, body, etag)

    def _reply(self, scope: Scope, body: bytes, etag: str) -> Response:
        headers = {"ETag": etag}
        if _names(Headers(scope=scope).get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=self.media_type, headers=headers)

    def _keep(self, check: int, key: Key, kept: _Kept) -> None:
        if max(self._all_dropped_at, self._dropped_at.get(kept.claim_id, 0)) > check:
            return
        if len(kept.body) > self.max_bytes:
            return
        self._forget(key)
        self._kept[key] = kept
        self._by_claim.setdefault(kept.claim_id, set()).add(key)
        self._size += len(kept.body)
        while self._size > self.max_bytes:
            self._forget(next(iter(self._kept)))

    def _forget(self, key: Key) -> None:
        kept = self._kept.pop(key, None)
        if kept is None:
            return
        self._size -= len(kept.body)
        keys = self._by_claim.get(kept.claim_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_claim[kept.claim_id]

    def _drop(self, check: int, events: list[Any], everything: bool) -> None:
        """What the events since the last check change, dropped as of check `check`."""
        claims = set()
        for _, _, event_type, claim_id, _ in events:
            if event_type not in WITHIN_ITS_CLAIM or claim_id is None:
                everything = True
                break
            claims.add(claim_id)
        if everything or len(self._dropped_at) + len(claims) > MAX_DROPPED:
            self._kept.clear()
            self._by_claim.clear()
            self._size = 0
            self._dropped_at.clear()
            self._all_dropped_at = check
            return
        for claim_id in claims:
            self._dropped_at[claim_id] = check
            for key in list(self._by_claim.get(claim_id, ())):
                self._forget(key)


class AnswerKept:
    """Answers a GET of a kept document before routing, once a check says it is current.

    A document is kept only after its route answered 200 to the same path and query for an
    admitted key (every key may read), so routing and the route's own checks would decide
    the same again: a dashboard's poll skips them, and the session, and goes to the check
    shared with the requests beside it. Anything not kept, or no longer current, goes on.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        documents: DerivedDocuments | None = getattr(scope["app"].state, "derived", None)
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and documents is not None
            and documents.keeps(scope)
        ):
            response = await documents.kept(scope)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _rest(buffered: list[bytes], parts: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(buffered)
    async for part in parts:
        yield part


def _names(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, RFC 9110)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in tags or "*" in tags
