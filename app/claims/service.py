from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.audit.service import Action, Actor, Target
from app.claims import events as claim_events
from app.claims import matching
from app.claims.models import Claim, ClaimMerge, ClaimTag, claim_versions
from app.claims.normalize import fingerprint, normalize_statement
from app.claims.schemas import Claim as ClaimOut
from app.claims.schemas import ClaimCreate, ClaimUpdate
from app.db import insert_new, insert_or_ignore, utcnow
from app.enums import DenialStatus
from app.errors import Conflict, Invalid, NotFound
from app.ledger import LedgerView, as_of
from app.pagination import PageParams, SortKey, paginate
from app.portable import json_array_contains
from app.revisions import (
    Journal,
    changed_fields,
    check_revision,
    created,
    revise,
    revised_values,
)
from app.sightings.models import Sighting
from app.versioning import lock_rows

# A variant_of chain longer than this is refused rather than walked.
MAX_VARIANT_DEPTH = 100


async def get(*, session: AsyncSession, claim_id: str) -> Claim | None:
    """The current claim with this id, if any."""
    return await session.get(Claim, claim_id)


async def get_or_404(
    *, session: AsyncSession, claim_id: str, moment: datetime | None = None
) -> Claim:
    """The claim with this id (as it stood at `moment`, if given), or a 404."""
    if moment is None:
        claim = await get(session=session, claim_id=claim_id)
    else:
        view = as_of(moment)
        claim = await session.scalar(
            select(view[Claim])
            .where(view[Claim].id == claim_id)
            .execution_options(populate_existing=True)
        )
    if claim is None:
        raise NotFound(f"no claim with id {claim_id!r}")
    return claim


async def merged_into(
    *, session: AsyncSession, claim_id: str, moment: datetime | None = None
) -> str | None:
    """The survivor this claim was merged into (by `moment`, if given); None if it was not."""
    statement = select(ClaimMerge.into_id).where(ClaimMerge.merged_id == claim_id)
    if moment is not None:
        statement = statement.where(ClaimMerge.merged_at <= moment)
    return await session.scalar(statement)


def _variant_check(loc: list[str | int]) -> list[str | int]:
    return [*loc, "variant_of"]


async def _check_variant_of(
    session: AsyncSession, claim_id: str | None, parent_id: str, loc: list[str | int]
) -> None:
    """`variant_of` must name an existing claim and must not lead back to this one."""
    if await get(session=session, claim_id=parent_id) is None:
        raise Invalid(f"variant_of: no claim with id {parent_id!r}", loc=_variant_check(loc))
    current: str | None = parent_id
    for _ in range(MAX_VARIANT_DEPTH):
        if current is None:
            return
        if current == claim_id:
            raise Invalid(
                "variant_of would make this claim a variant of itself", loc=_variant_check(loc)
            )
        current = await session.scalar(select(Claim.variant_of).where(Claim.id == current))
    raise Invalid("variant_of: the chain of variants is too long", loc=_variant_check(loc))


def _normalized(statement: str, loc: list[str | int]) -> tuple[str, str]:
    normalized = normalize_statement(statement)
    if not normalized:
        raise Invalid(
            "statement has no words once punctuation is stripped", loc=[*loc, "statement"]
        )
    return normalized, fingerprint(normalized)


def _row_values(
    data: ClaimCreate, loc: list[str | int], actor: Actor, now: datetime
) -> dict[str, Any]:
    """A new claim's row: its statement normalised and fingerprinted, its tags once each."""
    normalized, digest = _normalized(data.statement, loc)
    return {
        **data.model_dump(exclude={"tags"}),
        "tags": list(dict.fromkeys(data.tags)),
        "normalized": normalized,
        "fingerprint": digest,
        "created_at": now,
        "updated_at": now,
        "recorded_by": actor.name,
        "recorded_by_key_id": actor.key_id,
        **revised_values(actor, now, revision=1),
    }


async def _insert(
    session: AsyncSession, data: ClaimCreate, loc: list[str | int], actor: Actor, now: datetime
) -> tuple[str | None, str]:
    if data.variant_of is not None:
        await _check_variant_of(session, None, data.variant_of, loc)
    values = _row_values(data, loc, actor, now)
    tags: list[str] = values["tags"]
    new_id = await insert_or_ignore(session, Claim, values, ["fingerprint"])
    if new_id is not None:
        session.add_all(ClaimTag(claim_id=new_id, tag=tag) for tag in tags)
        await session.flush()
        await matching.index_wordings(
            session=session, claim_id=new_id, texts=[data.statement, data.summary]
        )
        claim = await get_or_404(session=session, claim_id=new_id)
        created_event = claim_events.ClaimCreated(claim=ClaimOut.model_validate(claim))
        await created(
            session,
            target=Target.claim,
            record_id=new_id,
            actor=actor,
            now=now,
            announcements=[outbox.Announcement(created_event, new_id, tags)],
        )
    return new_id, values["fingerprint"]


async def check_new(*, session: AsyncSession, data: ClaimCreate, loc: list[str | int]) -> str:
    """What creating this claim would check, changing nothing; its fingerprint."""
    if data.variant_of is not None:
        await _check_variant_of(session, None, data.variant_of, loc)
    return _normalized(data.statement, loc)[1]


async def create_many(
    *,
    session: AsyncSession,
    new: Sequence[tuple[str, ClaimCreate]],
    actor: Actor,
    now: datetime,
) -> dict[str, Claim]:
    """Create these checked claims under the ids given, announced in the order given; the
    claims by the ids given (one another writer created first is that writer's).

    A claim another writer created meanwhile is theirs: the caller's sightings go to it, and
    only the claims inserted here are announced.
    """
    if not new:
        return {}
    rows = [{**_row_values(data, [], actor, now), "id": claim_id} for claim_id, data in new]
    inserted, taken = await insert_new(session, Claim, rows, "fingerprint")
    rows = [row for row in rows if row["id"] in inserted]
    tags = [{"claim_id": row["id"], "tag": tag} for row in rows for tag in row["tags"]]
    if tags:
        await session.execute(insert(ClaimTag), tags)
    await matching.index_many_wordings(
        session=session,
        wordings={
            claim_id: [data.statement, data.summary]
            for claim_id, data in new
            if claim_id in inserted
        },
    )
    loaded = {
        claim.id: claim
        for claim in await session.scalars(
            select(Claim)
            .where(Claim.id.in_(inserted) | Claim.fingerprint.in_(taken))
            .execution_options(populate_existing=True)
        )
    }
    for claim in list(loaded.values()):
        if claim.fingerprint in taken:
            loaded[taken[claim.fingerprint]] = claim
    journal = Journal()
    for claim_id, _ in new:
        if claim_id not in inserted:
            continue
        claim = loaded[claim_id]
        event = claim_events.ClaimCreated(claim=ClaimOut.model_validate(claim))
        journal.created(
            target=Target.claim,
            record_id=claim_id,
            actor=actor,
            now=now,
            announcements=[outbox.Announcement(event, claim_id, claim.tags)],
        )
    await journal.write(session)
    return loaded


async def _by_fingerprint(session: AsyncSession, digest: str) -> Claim:
    claim = await session.scalar(select(Claim).where(Claim.fingerprint == digest))
    assert claim is not None, "the conflicting claim exists once the insert has waited for it"
    return claim


async def create(
    *, session: AsyncSession, data: ClaimCreate, actor: Actor, now: datetime | None = None
) -> Claim:
    """Create a claim; one whose normalised statement exists already is a conflict."""
    new_id, digest = await _insert(session, data, [], actor, now or utcnow())
    if new_id is None:
        existing = await _by_fingerprint(session, digest)
        raise Conflict("a claim with the same normalised statement exists", existing_id=existing.id)
    return await get_or_404(session=session, claim_id=new_id)


async def get_or_create(
    *,
    session: AsyncSession,
    data: ClaimCreate,
    loc: list[str | int],
    actor: Actor,
    now: datetime | None = None,
) -> tuple[Claim, bool]:
    """The claim with this normalised statement, created when new; and whether it was."""
    new_id, digest = await _insert(session, data, loc, actor, now or utcnow())
    if new_id is None:
        return await _by_fingerprint(session, digest), False
    return await get_or_404(session=session, claim_id=new_id), True


def _filtered(
    view: LedgerView,
    q: str | None,
    status: DenialStatus | None,
    tag: str | None,
    outlet_id: str | None = None,
) -> Select[Any]:
    claims = view[Claim]
    statement = select(claims).execution_options(populate_existing=True)
    if q:
        needle = normalize_statement(q)
        statement = statement.where(claims.normalized.contains(needle, autoescape=True))
    if status is not None:
        statement = statement.where(claims.denial_status == status)
    if tag and view.as_of is None:
        statement = statement.where(
            claims.id.in_(select(ClaimTag.claim_id).where(ClaimTag.tag == tag))
        )
    elif tag:
        # The tag index holds today's tags; a past moment reads the tags its rows carried.
        statement = statement.where(json_array_contains(claims.tags, tag))
    if outlet_id is not None:
        # Read from the outlet's own sightings (an index range), sized by what it carried.
        sightings = view[Sighting]
        carried = select(sightings.claim_id).where(sightings.outlet_id == outlet_id)
        statement = statement.where(claims.id.in_(carried))
    return statement


async def list_claims(
    *,
    session: AsyncSession,
    page: PageParams,
    q: str | None = None,
    status: DenialStatus | None = None,
    tag: str | None = None,
    outlet_id: str | None = None,
    moment: datetime | None = None,
) -> tuple[list[Claim], str | None]:
    """Claims, newest first, filtered by text, denial status, tag and an outlet that carried
    them."""
    view = as_of(moment)
    keys = [
        SortKey(view[Claim].created_at, descending=True),
        SortKey(view[Claim].id, descending=True),
    ]
    return await paginate(session, _filtered(view, q, status, tag, outlet_id), keys, page)


async def lock(
    *, session: AsyncSession, claim_ids: Collection[str], keys_shared: bool = False
) -> None:
    """Lock these claims' rows, in id order so that two writers cannot wait for each other.

    With `keys_shared`, the lock still lets other transactions hold or take the share lock on
    a claim's key that inserting one of its sightings takes: for a writer whose sightings are
    in already, so that its lock is held only while it counts them, and never waits for a
    writer that is still inserting.
    """
    ids = sorted(set(claim_ids))
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        # One statement, its rows locked in the order it returns them.
        await session.execute(
            select(Claim.id)
            .where(Claim.id.in_(ids))
            .order_by(Claim.id)
            .with_for_update(key_share=keys_shared)
        )
    else:
        await lock_rows(session, Claim, Claim.id.in_(ids))


async def _corrected_values(
    session: AsyncSession, claim: Claim, data: ClaimUpdate
) -> dict[str, Any]:
    sent = data.model_dump(exclude_unset=True, exclude={"reason"})
    if "statement" in sent:
        if sent["statement"] is None:
            raise Invalid("statement cannot be cleared", loc=["statement"])
        normalized, digest = _normalized(sent["statement"], [])
        taken = await session.scalar(
            select(Claim.id).where(Claim.fingerprint == digest, Claim.id != claim.id)
        )
        if taken is not None:
            raise Conflict("a claim with the same normalised statement exists", existing_id=taken)
        sent |= {"normalized": normalized, "fingerprint": digest}
    if "tags" in sent:
        sent["tags"] = list(dict.fromkeys(sent["tags"] or []))
    if sent.get("variant_of") is not None:
        await _check_variant_of(session, claim.id, sent["variant_of"], [])
    return sent


async def correct(
    *,
    session: AsyncSession,
    claim_id: str,
    data: ClaimUpdate,
    actor: Actor,
    expected_revision: int | None,
    now: datetime | None = None,
) -> Claim:
    """Correct a claim's own fields as a new revision; the old one stays in its history."""
    now = now or utcnow()
    await lock(session=session, claim_ids={claim_id})
    claim = await session.get(Claim, claim_id, populate_existing=True)
    if claim is None:
        raise NotFound(f"no claim with id {claim_id!r}")
    check_revision(claim.revision, expected_revision)
    values = await _corrected_values(session, claim, data)
    shown = {k: v for k, v in values.items() if k not in ("normalized", "fingerprint")}
    changes = changed_fields(claim, shown)
    if not changes:
        return claim

    def announce(corrected: Claim) -> list[outbox.Announcement]:
        event = claim_events.ClaimCorrected(
            claim=claim_events.ClaimSummary.of(corrected),
            revision=corrected.revision,
            reason=data.reason,
            changes=changes,
        )
        return [outbox.Announcement(event, corrected.id, corrected.tags)]

    await revise(
        session,
        claim,
        claim_versions,
        values=values | {"updated_at": now},
        actor=actor,
        now=now,
        target=Target.claim,
        action=Action.corrected,
        reason=data.reason,
        changes=changes,
        announce=announce,
    )
    if "tags" in changes:
        await session.execute(delete(ClaimTag).where(ClaimTag.claim_id == claim.id))
        session.add_all(ClaimTag(claim_id=claim.id, tag=tag) for tag in claim.tags)
        await session.flush()
    if "statement" in changes or "summary" in changes:
        # The old wording stops finding the claim; the new one finds it from now on.
        await matching.reindex_claim(session=session, claim_id=claim.id, embed=False)
    return claim
