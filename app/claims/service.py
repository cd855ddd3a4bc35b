from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import events as alert_events
from app.claims import matching
from app.claims.models import Claim, ClaimTag
from app.claims.normalize import fingerprint, normalize_statement
from app.claims.schemas import ClaimCreate
from app.db import insert_or_ignore
from app.enums import DenialStatus
from app.errors import Conflict, Invalid, NotFound
from app.pagination import PageParams, SortKey, paginate


async def get(*, session: AsyncSession, claim_id: str) -> Claim | None:
    """The claim with this id, if any."""
    return await session.get(Claim, claim_id)


async def get_or_404(*, session: AsyncSession, claim_id: str) -> Claim:
    """The claim with this id, or a 404."""
    claim = await get(session=session, claim_id=claim_id)
    if claim is None:
        raise NotFound(f"no claim with id {claim_id!r}")
    return claim


async def _insert(
    session: AsyncSession, data: ClaimCreate, loc: list[str | int]
) -> tuple[str | None, str]:
    if data.variant_of is not None and await get(session=session, claim_id=data.variant_of) is None:
        raise Invalid(f"variant_of: no claim with id {data.variant_of!r}", loc=[*loc, "variant_of"])
    normalized = normalize_statement(data.statement)
    if not normalized:
        raise Invalid(
            "statement has no words once punctuation is stripped", loc=[*loc, "statement"]
        )
    tags = list(dict.fromkeys(data.tags))
    values: dict[str, Any] = {
        **data.model_dump(exclude={"tags"}),
        "tags": tags,
        "normalized": normalized,
        "fingerprint": fingerprint(normalized),
    }
    new_id = await insert_or_ignore(session, Claim, values, ["fingerprint"])
    if new_id is not None:
        session.add_all(ClaimTag(claim_id=new_id, tag=tag) for tag in tags)
        await session.flush()
        await matching.index_wordings(
            session=session, claim_id=new_id, texts=[data.statement, data.summary]
        )
        await alert_events.claim_created(session=session, claim_id=new_id)
    return new_id, values["fingerprint"]


async def _by_fingerprint(session: AsyncSession, digest: str) -> Claim:
    claim = await session.scalar(select(Claim).where(Claim.fingerprint == digest))
    assert claim is not None, "the conflicting claim exists once the insert has waited for it"
    return claim


async def create(*, session: AsyncSession, data: ClaimCreate) -> Claim:
    """Create a claim; one whose normalised statement exists already is a conflict."""
    new_id, digest = await _insert(session, data, [])
    if new_id is None:
        existing = await _by_fingerprint(session, digest)
        raise Conflict("a claim with the same normalised statement exists", existing_id=existing.id)
    await matching.embed_pending(session=session)
    return await get_or_404(session=session, claim_id=new_id)


async def get_or_create(
    *, session: AsyncSession, data: ClaimCreate, loc: list[str | int]
) -> tuple[Claim, bool]:
    """The claim with this normalised statement, created when new; and whether it was."""
    new_id, digest = await _insert(session, data, loc)
    if new_id is None:
        return await _by_fingerprint(session, digest), False
    return await get_or_404(session=session, claim_id=new_id), True


def _filtered(q: str | None, status: DenialStatus | None, tag: str | None) -> Select[Claim]:
    statement = select(Claim)
    if q:
        needle = normalize_statement(q)
        statement = statement.where(Claim.normalized.contains(needle, autoescape=True))
    if status is not None:
        statement = statement.where(Claim.denial_status == status)
    if tag:
        statement = statement.where(
            Claim.id.in_(select(ClaimTag.claim_id).where(ClaimTag.tag == tag))
        )
    return statement


async def list_claims(
    *,
    session: AsyncSession,
    page: PageParams,
    q: str | None = None,
    status: DenialStatus | None = None,
    tag: str | None = None,
) -> tuple[list[Claim], str | None]:
    """Claims, newest first, filtered by text, denial status and tag."""
    keys = [SortKey(Claim.created_at, descending=True), SortKey(Claim.id, descending=True)]
    return await paginate(session, _filtered(q, status, tag), keys, page)
