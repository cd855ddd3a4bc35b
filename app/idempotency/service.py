"""`Idempotency-Key` for POSTs: a retried request gets the first answer and records nothing new."""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.deps import current_principal
from app.auth.service import Principal
from app.db import insert_or_ignore
from app.errors import TracerError
from app.idempotency.models import IdempotencyRecord
from app.transactions import SessionDep


class KeyReused(TracerError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused"

    def __init__(self) -> None:
        super().__init__(
            "this Idempotency-Key was first sent with a different request body",
            errors=[{"loc": ["header", "Idempotency-Key"], "msg": "reused with a different body"}],
        )


@dataclass
class IdempotencyGuard:
    session: AsyncSession
    principal: str
    key: str | None
    request_hash: str

    async def _replay(self) -> JSONResponse | None:
        """The first response when this key was used before; None when this request owns it.

        The key's row is inserted first, inside the request's transaction: a concurrent retry
        waits on it and then sees the committed answer, while a failed first attempt rolls the
        row back and leaves the key free for the next try.
        """
        if self.key is None:
            return None
        values = {"principal": self.principal, "key": self.key, "request_hash": self.request_hash}
        owned = await insert_or_ignore(
            self.session, IdempotencyRecord, values, ["principal", "key"]
        )
        if owned is not None:
            return None
        record = await self.session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.principal == self.principal, IdempotencyRecord.key == self.key
            )
        )
        assert record is not None and record.status_code is not None
        if record.request_hash != self.request_hash:
            raise KeyReused()
        return JSONResponse(
            record.response_body,
            status_code=record.status_code,
            headers={"Idempotent-Replayed": "true"},
        )

    async def respond(
        self, status_code: int, produce: Callable[[], Awaitable[BaseModel]]
    ) -> JSONResponse:
        """Replay the first answer to this key, or produce, remember and return a new one."""
        if (replayed := await self._replay()) is not None:
            return replayed
        body = (await produce()).model_dump(mode="json", by_alias=True)
        await self._remember(status_code, body)
        return JSONResponse(body, status_code=status_code)

    async def _remember(self, status_code: int, body: Any) -> None:
        """Keep the response this request is about to give, for its retries."""
        if self.key is None:
            return
        record = await self.session.get(IdempotencyRecord, (self.principal, self.key))
        assert record is not None
        record.status_code = status_code
        record.response_body = body
        await self.session.flush()


def _canonical_hash(method: str, path: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


async def idempotency_guard(
    request: Request,
    session: SessionDep,
    principal: Annotated[Principal, Depends(current_principal)],
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=255,
            description="Makes a retried POST safe: the same key and body return the first answer.",
        ),
    ] = None,
) -> IdempotencyGuard:
    # Hashed only when there is a key to hold it against: canonicalising a batch of 1,000
    # items is a decode and an encode of the whole body.
    request_hash = ""
    if idempotency_key is not None:
        request_hash = _canonical_hash(request.method, request.url.path, await request.body())
    return IdempotencyGuard(
        session=session,
        principal=principal.idempotency_scope,
        key=idempotency_key,
        request_hash=request_hash,
    )


IdempotencyDep = Annotated[IdempotencyGuard, Depends(idempotency_guard)]
