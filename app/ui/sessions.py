"""Browser sessions: an API key exchanged once for a random cookie, stored hashed, that expires."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.auth.service import Principal
from app.db import utcnow
from app.ui.models import UiSession


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    *, session: AsyncSession, principal: Principal, lifetime: timedelta
) -> tuple[str, UiSession]:
    """A new session for this principal; the clear token is returned once, for the cookie."""
    now = utcnow()
    # Expired sessions are dropped as new ones open, so the table stays the size of its use.
    await session.execute(delete(UiSession).where(UiSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    row = UiSession(
        token_hash=_digest(token),
        key_id=principal.key_id,
        key_name=principal.name,
        scope=principal.scope,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return token, row


async def load(*, session: AsyncSession, token: str) -> UiSession | None:
    """The live session behind a cookie: unexpired, and its key not revoked since."""
    statement = (
        select(UiSession)
        .outerjoin(ApiKey, ApiKey.id == UiSession.key_id)
        .where(
            UiSession.token_hash == _digest(token),
            UiSession.expires_at > utcnow(),
            or_(UiSession.key_id.is_(None), ApiKey.revoked_at.is_(None)),
        )
    )
    found: UiSession | None = await session.scalar(statement)
    return found


async def close(*, session: AsyncSession, token: str) -> None:
    """End the session behind a cookie; ending an unknown one is harmless."""
    await session.execute(delete(UiSession).where(UiSession.token_hash == _digest(token)))


def principal_of(row: UiSession) -> Principal:
    return Principal(key_id=row.key_id, name=row.key_name, scope=row.scope)
