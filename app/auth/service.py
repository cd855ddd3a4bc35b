"""Who is calling: keys checked against their stored hashes, and the scopes they carry."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import ApiKey
from app.enums import Scope

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


def bootstrap_principal(digest: str, bootstrap_key: str | None) -> Principal | None:
    """The bootstrap admin, when `digest` is the hash of the bootstrap key."""
    if bootstrap_key and hmac.compare_digest(digest, hash_key(bootstrap_key)):
        return Principal(key_id=None, name=BOOTSTRAP_NAME, scope=Scope.admin)
    return None


async def authenticate(
    *, session: AsyncSession, presented: str, bootstrap_key: str | None
) -> Principal | None:
    """The principal behind a presented key, or None when it is unknown or revoked."""
    digest = hash_key(presented)
    return bootstrap_principal(digest, bootstrap_key) or await principal_of_hash(
        session=session, digest=digest
    )


async def principal_of_hash(*, session: AsyncSession, digest: str) -> Principal | None:
    """The principal behind a stored key hash, or None when it is unknown or revoked."""
    api_key = await session.scalar(
        select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
    )
    if api_key is None:
        return None
    return Principal(key_id=api_key.id, name=api_key.name, scope=api_key.scope)


async def any_key_exists(*, session: AsyncSession) -> bool:
    """Whether any key was ever created, revoked ones included."""
    return (await session.scalar(select(ApiKey.id).limit(1))) is not None
