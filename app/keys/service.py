"""Managing API keys: creating, listing and revoking them, each change in the audit log."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.service import Action, Actor, Target
from app.auth.models import ApiKey
from app.auth.service import generate_key, hash_key
from app.db import utcnow
from app.enums import Scope
from app.errors import NotFound
from app.pagination import PageParams, SortKey, paginate


async def create_key(
    *, session: AsyncSession, name: str, scope: Scope, actor: Actor
) -> tuple[ApiKey, str]:
    """Create a key; the clear key is returned once and never stored."""
    clear = generate_key()
    api_key = ApiKey(name=name, scope=scope, key_hash=hash_key(clear), prefix=clear[:12])
    session.add(api_key)
    await session.flush()
    await audit.log(
        session=session,
        actor=actor,
        action=Action.created,
        target_type=Target.key,
        target_id=api_key.id,
        at=api_key.created_at,
    )
    return api_key, clear


async def list_keys(*, session: AsyncSession, page: PageParams) -> tuple[list[ApiKey], str | None]:
    """Every key ever created, newest first, revoked ones included."""
    keys = [SortKey(ApiKey.created_at, descending=True), SortKey(ApiKey.id, descending=True)]
    return await paginate(session, select(ApiKey), keys, page)


async def revoke_key(*, session: AsyncSession, key_id: str, actor: Actor) -> None:
    """Revoke a key; revoking twice is harmless."""
    api_key = await session.get(ApiKey, key_id)
    if api_key is None:
        raise NotFound(f"no API key with id {key_id!r}")
    if api_key.revoked_at is None:
        api_key.revoked_at = utcnow()
        await session.flush()
        await audit.log(
            session=session,
            actor=actor,
            action=Action.revoked,
            target_type=Target.key,
            target_id=api_key.id,
            at=api_key.revoked_at,
        )
