import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.service import Action, Actor, Target
from app.auth.models import ApiKey
from app.db import utcnow
from app.enums import Scope
from app.errors import NotFound
from app.pagination import PageParams, SortKey, paginate

KEY_PREFIX = "trk_"
BOOTSTRAP_NAME = "bootstrap-admin"
_RANK = {Scope.read: 0, Scope.write: 1, Scope.admin: 2}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (None for the bootstrap key), its name and its scope."""

    key_id: str | None
    name: str
    scope: Scope

    def may(self, needed: Scope) -> bool:
        return _RANK[self.scope] >= _RANK[needed]

    @property
    def idempotency_scope(self) -> str:
        return self.key_id or BOOTSTRAP_NAME


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


# Changes made from the `tracer` command carry no key; the audit log names the command line.
COMMAND_LINE = Principal(key_id=None, name="command line", scope=Scope.admin)


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


async def authenticate(
    *, session: AsyncSession, presented: str, bootstrap_key: str | None
) -> Principal | None:
    """The principal behind a presented key, or None when it is unknown or revoked."""
    digest = hash_key(presented)
    if bootstrap_key and hmac.compare_digest(digest, hash_key(bootstrap_key)):
        return Principal(key_id=None, name=BOOTSTRAP_NAME, scope=Scope.admin)
    api_key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
    )
    if api_key is None:
        return None
    return Principal(key_id=api_key.id, name=api_key.name, scope=api_key.scope)


async def any_key_exists(*, session: AsyncSession) -> bool:
    """Whether any key was ever created, revoked ones included."""
    return (await session.scalar(select(ApiKey.id).limit(1))) is not None
