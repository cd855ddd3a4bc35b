"""Corrections: a sighting corrected or withdrawn, and a duplicate claim merged into another.

Nothing is overwritten: each change archives the rows it replaces (see `app.versioning`), adds a
revision with who, when and why, and announces itself. Locks are taken claims first, in id
order, then sightings, as recording does, so two writers never wait for each other.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, delete, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import outbox
from app.audit import service as audit
from app.audit.models import AuditEntry
from app.audit.service import Action, Actor, Target
from app.claims import chain_counts, matching
from app.claims import service as claims
from app.claims.models import Claim, ClaimMerge, claim_versions
from app.claims.projection import refresh_claim
from app.db import UTCDateTime, utcnow
from app.denials import rules
from app.enums import CitationBasis
from app.errors import CitedBy, Conflict, Invalid, NotFound
from app.outbox import payloads
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.request_ids import current_request_id
from app.revisions import check_revision, jsonable, revise, revised_values
from app.sightings import service as sightings
from app.sightings.models import (
    Citation,
    Sighting,
    Withdrawal,
    citation_versions,
    sighting_versions,
)
from app.sightings.recorder import (
    FUTURE_TOLERANCE,
    announce_denial,
    resolve_cited_outlets,
    resolve_cites,
)
from app.sightings.schemas import SightingPatch
from app.versioning import archive, lock_rows

# Fields a merge patch may clear with null; the others every sighting must have.
_REQUIRED = ("claim_id", "outlet", "url", "published_at", "published_at_precision", "stance")
# What a claim's chain counts (app.claims.chain_counts) are counted by.
_COUNTED = {"claim_id", "outlet", "published_at", "citations", "language", "stance"}
_PLAIN_FIELDS = (
    "url",
    "published_at",
    "published_at_precision",
    "stance",
    "attribution",
    "title",
    "excerpt",
    "language",
    "archive_url",
    "content_sha256",
)


async def _locked(
    session: AsyncSession, sighting_id: str, *, also_claims: set[str], expected: int | None
) -> Sighting:
    """The sighting, read again under its claims' and its own row locks."""
    claim_id = await session.scalar(select(Sighting.claim_id).where(Sighting.id == sighting_id))
    if claim_id is None:
        await sightings.get_or_404(session=session, sighting_id=sighting_id)
    await claims.lock(session=session, claim_ids={claim_id or "", *also_claims})
    await lock_rows(session, Sighting, Sighting.id == sighting_id)
    sighting = await sightings.get_or_404(session=session, sighting_id=sighting_id)
    if sighting.claim_id != claim_id:
        # Moved to another claim while this request waited: take that claim's lock too.
        await claims.lock(session=session, claim_ids={sighting.claim_id})
    check_revision(sighting.revision, expected)
    return sighting


async def _outgoing(session: AsyncSession, sighting_id: str) -> dict[str, CitationBasis]:
    rows = await session.execute(
        select(Citation.cited_id, Citation.basis).where(Citation.citing_id == sighting_id)
    )
    return {cited_id: basis for cited_id, basis in rows}


async def _resolve_outlet(session: AsyncSession, sent: Any, actor: Actor, now: datetime) -> Outlet:
    if isinstance(sent, str):
        outlet = await outlets.get_by_slug(session=session, slug=sent)
        if outlet is None:
            raise Invalid(
                f"no outlet with slug {sent!r}; create it first or send it inline", loc=["outlet"]
            )
        return outlet
    return await outlets.get_or_create(session=session, data=sent, actor=actor, now=now)


async def _new_citations(
    session: AsyncSession,
    sighting: Sighting,
    patch: SightingPatch,
    sent: set[str],
    claim_id: str,
    published_at: datetime,
) -> dict[str, CitationBasis]:
    """What the corrected sighting cites, each citation checked as recording checks it."""
    existing = await _outgoing(session, sighting.id)
    if "cites" in sent:
        ids = patch.cites or []
        for index, cited_id in enumerate(ids):
            if cited_id == sighting.id:
                raise Invalid("a sighting cannot cite itself", loc=["cites", index])
        await resolve_cites(session, ids, published_at)
        cited: dict[str, CitationBasis] = {
            cited_id: existing.get(cited_id, CitationBasis.cites) for cited_id in ids
        }
    else:
        kept: dict[str, CitationBasis] = {
            k: v for k, v in existing.items() if v == CitationBasis.cites
        }
        cited = existing if "cites_outlets" not in sent else kept
        if "published_at" in sent:
            await _check_still_earlier(session, list(cited), published_at)
    if "cites_outlets" in sent:
        resolved = await resolve_cited_outlets(
            session, patch.cites_outlets or [], claim_id, published_at, citing_id=sighting.id
        )
        cited |= {cited_id: end.basis for cited_id, end in resolved.items()}
    return cited


async def _check_still_earlier(
    session: AsyncSession, cited_ids: list[str], published_at: datetime
) -> None:
    later = await session.scalars(
        select(Sighting.id).where(Sighting.id.in_(cited_ids), Sighting.published_at > published_at)
    )
    if found := sorted(later):
        raise Invalid(
            f"this sighting cites {', '.join(found)}, published after the new date; a sighting "
            "can only cite what came before it",
            loc=["published_at"],
        )


async def _check_citers_later(
    session: AsyncSession, sighting_id: str, published_at: datetime
) -> None:
    earlier = await session.scalars(
        select(Sighting.id)
        .join(Citation, Citation.citing_id == Sighting.id)
        .where(Citation.cited_id == sighting_id, Sighting.published_at < published_at)
    )
    if found := sorted(earlier):
        raise Invalid(
            f"{', '.join(found)} cite this sighting and were published before the new date; time "
            "never runs backwards along a chain",
            loc=["published_at"],
        )


async def _check_no_cycle(
    session: AsyncSession, sighting_id: str, cited: set[str], published_at: datetime
) -> None:
    """Refuse citations leading back to this sighting through sightings published with it.

    Citing only what came no later keeps chains acyclic except among sightings that share one
    moment; a walk upstream through just those settles it, so its size follows them alone.
    """
    same_moment = select(Sighting.id).where(
        Sighting.id.in_(cited), Sighting.published_at == published_at
    )
    walk = same_moment.cte("same_moment_upstream", recursive=True)
    step = (
        select(Citation.cited_id)
        .join(walk, Citation.citing_id == walk.c.id)
        .join(Sighting, Sighting.id == Citation.cited_id)
        .where(Sighting.published_at == published_at, Citation.citing_id != sighting_id)
    )
    walk = walk.union(step)
    if await session.scalar(select(walk.c.id).where(walk.c.id == sighting_id).limit(1)):
        raise Invalid(
            "these citations would make the chain loop back to this sighting", loc=["cites"]
        )


def _shown_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        field: {"from": jsonable(before[field]), "to": jsonable(after[field])}
        for field in after
        if jsonable(before[field]) != jsonable(after[field])
    }


def _cited_fields(cited: dict[str, CitationBasis]) -> dict[str, Any]:
    """`cites` and `citations` as a sighting shows them, for telling what a correction changed."""
    return {
        "cites": sorted(cited),
        "citations": [{"sighting_id": k, "basis": cited[k].value} for k in sorted(cited)],
    }


def _state(sighting: Sighting, cited: dict[str, CitationBasis], outlet: Outlet) -> dict[str, Any]:
    return {
        "claim_id": sighting.claim_id,
        "outlet": outlet.slug,
        **{field: getattr(sighting, field) for field in _PLAIN_FIELDS},
        **_cited_fields(cited),
    }


async def _replace_citations(
    session: AsyncSession, citing_id: str, cited: dict[str, CitationBasis], now: datetime
) -> None:
    where = Citation.citing_id == citing_id
    await archive(session, Citation, citation_versions, where, now)
    await session.execute(delete(Citation).where(where))
    if cited:
        await session.execute(
            insert(Citation),
            [
                {"citing_id": citing_id, "cited_id": k, "basis": v, "valid_from": now}
                for k, v in cited.items()
            ],
        )


async def correct(
    *,
    session: AsyncSession,
    actor: Actor,
    sighting_id: str,
    patch: SightingPatch,
    expected_revision: int | None,
    now: datetime | None = None,
) -> Sighting:
    """Correct a sighting as a new revision, under every rule of recording; returns it."""
    now = now or utcnow()
    sent = patch.model_fields_set - {"reason"}
    for field in _REQUIRED:
        if field in sent and getattr(patch, field) is None:
            raise Invalid(f"{field} cannot be cleared", loc=[field])
    also = {patch.claim_id} if patch.claim_id else set()
    sighting = await _locked(session, sighting_id, also_claims=also, expected=expected_revision)
    old_claim_id = sighting.claim_id
    if patch.claim_id and await claims.get(session=session, claim_id=patch.claim_id) is None:
        raise Invalid(f"no claim with id {patch.claim_id!r}", loc=["claim_id"])
    outlet = sighting.outlet
    if "outlet" in sent:
        outlet = await _resolve_outlet(session, patch.outlet, actor, now)
    values = {field: getattr(patch, field) for field in _PLAIN_FIELDS if field in sent}
    claim_id = patch.claim_id or sighting.claim_id
    published_at = values.get("published_at", sighting.published_at)
    if published_at > now + FUTURE_TOLERANCE:
        raise Invalid("published_at is in the future", loc=["published_at"])
    cited = await _new_citations(session, sighting, patch, sent, claim_id, published_at)
    if published_at != sighting.published_at:
        await _check_citers_later(session, sighting.id, published_at)
    await _check_no_cycle(session, sighting.id, set(cited), published_at)
    url = values.get("url", sighting.url)
    duplicate = await session.scalar(
        select(Sighting.id).where(
            Sighting.claim_id == claim_id,
            Sighting.outlet_id == outlet.id,
            Sighting.url == url,
            Sighting.id != sighting.id,
        )
    )
    if duplicate is not None:
        raise Conflict(
            "this claim is already recorded in this outlet at this url", existing_id=duplicate
        )
    was_denial = rules.is_official_denial(sighting)
    before = _state(sighting, await _outgoing(session, sighting.id), sighting.outlet)
    after = before | values | {"claim_id": claim_id, "outlet": outlet.slug} | _cited_fields(cited)
    changes = _shown_changes(before, after)
    if not changes:
        return sighting
    await archive(session, Sighting, sighting_versions, Sighting.id == sighting.id, now)
    await session.execute(
        update(Sighting)
        .where(Sighting.id == sighting.id)
        .values(
            **values,
            claim_id=claim_id,
            outlet_id=outlet.id,
            **revised_values(actor, now, revision=sighting.revision + 1),
        )
    )
    if "citations" in changes:
        await _replace_citations(session, sighting.id, cited, now)
    corrected = await sightings.get_or_404(session=session, sighting_id=sighting.id)
    await audit.log(
        session=session,
        actor=actor,
        action=Action.moved if claim_id != old_claim_id else Action.corrected,
        target_type=Target.sighting,
        target_id=sighting.id,
        at=now,
        revision=corrected.revision,
        reason=patch.reason,
        changes=changes,
    )
    claim = await claims.get(session=session, claim_id=claim_id)
    assert claim is not None
    summary = payloads.SightingSummary.of(corrected)
    await outbox.emit(
        session=session,
        event=payloads.SightingCorrected(
            sighting=summary, revision=corrected.revision, reason=patch.reason, changes=changes
        ),
        claim_id=claim_id,
        tags=claim.tags,
    )
    if rules.is_official_denial(corrected) and (not was_denial or claim_id != old_claim_id):
        await announce_denial(session=session, summary=summary, claim=claim)
    for touched in sorted({old_claim_id, claim_id}):
        if {"title", "excerpt", "claim_id"} & changes.keys():
            await matching.reindex_claim(session=session, claim_id=touched, embed=False)
        if _COUNTED & changes.keys():
            await chain_counts.recount(session, touched)
        await refresh_claim(session=session, claim_id=touched, now=now)
    await matching.embed_pending(session=session)
    return corrected


async def _relink(
    session: AsyncSession,
    withdrawn: Sighting,
    citing_ids: list[str],
    actor: Actor,
    reason: str,
    now: datetime,
) -> None:
    """Make each sighting citing `withdrawn` cite, in its place, what `withdrawn` cited."""
    sources = await _outgoing(session, withdrawn.id)
    for citing_id in citing_ids:
        await lock_rows(session, Sighting, Sighting.id == citing_id)
        before = await _outgoing(session, citing_id)
        after = {k: v for k, v in before.items() if k != withdrawn.id}
        for source in sources:
            after.setdefault(source, before[withdrawn.id])
        changes = _shown_changes(_cited_fields(before), _cited_fields(after))
        await _replace_citations(session, citing_id, after, now)
        citing = await sightings.get_or_404(session=session, sighting_id=citing_id)
        await archive(session, Sighting, sighting_versions, Sighting.id == citing_id, now)
        await session.execute(
            update(Sighting)
            .where(Sighting.id == citing_id)
            .values(**revised_values(actor, now, revision=citing.revision + 1))
        )
        citing = await sightings.get_or_404(session=session, sighting_id=citing_id)
        await audit.log(
            session=session,
            actor=actor,
            action=Action.corrected,
            target_type=Target.sighting,
            target_id=citing_id,
            at=now,
            revision=citing.revision,
            reason=reason,
            changes=changes,
        )
        await outbox.emit(
            session=session,
            event=payloads.SightingCorrected(
                sighting=payloads.SightingSummary.of(citing),
                revision=citing.revision,
                reason=reason,
                changes=changes,
            ),
            claim_id=citing.claim_id,
        )


async def _remove(
    session: AsyncSession, sighting: Sighting, actor: Actor, reason: str, now: datetime
) -> int:
    """Take a sighting out of the current ledger into history; returns its final revision."""
    await archive(session, Citation, citation_versions, Citation.citing_id == sighting.id, now)
    await archive(session, Sighting, sighting_versions, Sighting.id == sighting.id, now)
    await session.execute(delete(Citation).where(Citation.citing_id == sighting.id))
    await session.execute(delete(Sighting).where(Sighting.id == sighting.id))
    session.expunge(sighting)
    session.add(
        Withdrawal(
            sighting_id=sighting.id,
            claim_id=sighting.claim_id,
            withdrawn_at=now,
            withdrawn_by=actor.name,
            withdrawn_by_key_id=actor.key_id,
            reason=reason,
        )
    )
    revision = sighting.revision + 1
    await audit.log(
        session=session,
        actor=actor,
        action=Action.withdrawn,
        target_type=Target.sighting,
        target_id=sighting.id,
        at=now,
        revision=revision,
        reason=reason,
    )
    await outbox.emit(
        session=session,
        event=payloads.SightingWithdrawn(
            sighting_id=sighting.id,
            claim_id=sighting.claim_id,
            revision=revision,
            reason=reason,
            changes={},
            withdrawn_at=now,
            withdrawn_by=actor.name,
        ),
        claim_id=sighting.claim_id,
    )
    return revision


async def withdraw(
    *,
    session: AsyncSession,
    actor: Actor,
    sighting_id: str,
    reason: str,
    relink: bool,
    expected_revision: int | None,
    now: datetime | None = None,
) -> None:
    """Withdraw a sighting recorded in error; its id answers 410 from then on."""
    now = now or utcnow()
    sighting = await _locked(session, sighting_id, also_claims=set(), expected=expected_revision)
    citers = (
        await session.execute(
            select(Citation.citing_id, Sighting.claim_id)
            .join(Sighting, Sighting.id == Citation.citing_id)
            .where(Citation.cited_id == sighting.id)
        )
    ).all()
    citing_ids = sorted(citing_id for citing_id, _ in citers)
    if citing_ids and not relink:
        raise CitedBy(
            "other sightings cite this one; withdraw them first, or send relink=true to make "
            "them cite what this one cited",
            cited_by=citing_ids,
        )
    # A citer of another claim, relinked, may now cite a sighting of its own claim.
    citing_claims = {claim_id for _, claim_id in citers}
    await _relink(session, sighting, citing_ids, actor, reason, now)
    claim_id = sighting.claim_id
    await _remove(session, sighting, actor, reason, now)
    await session.flush()
    # What the withdrawn sighting said no longer finds its claim.
    await matching.reindex_claim(session=session, claim_id=claim_id)
    for counted in sorted(citing_claims | {claim_id}):
        await chain_counts.recount(session, counted)
    await refresh_claim(session=session, claim_id=claim_id, now=now)


async def _withdraw_duplicates(
    session: AsyncSession, merged_id: str, into_id: str, actor: Actor, reason: str, now: datetime
) -> int:
    """Withdraw the merged claim's sightings the survivor already has, re-pointing their citers."""
    twin = aliased(Sighting)
    pairs = (
        await session.execute(
            select(Sighting.id, twin.id)
            .join(twin, (twin.outlet_id == Sighting.outlet_id) & (twin.url == Sighting.url))
            .where(Sighting.claim_id == merged_id, twin.claim_id == into_id)
        )
    ).all()
    for duplicate_id, twin_id in pairs:
        citers = await session.scalars(
            select(Citation.citing_id).where(
                Citation.cited_id == duplicate_id, Citation.citing_id != twin_id
            )
        )
        for citing_id in citers.all():
            citations = await _outgoing(session, citing_id)
            basis = citations.pop(duplicate_id)
            citations.setdefault(twin_id, basis)
            await _replace_citations(session, citing_id, citations, now)
        where = Citation.cited_id == duplicate_id
        await archive(session, Citation, citation_versions, where, now)
        await session.execute(delete(Citation).where(where))
        duplicate = await sightings.get_or_404(session=session, sighting_id=duplicate_id)
        await _remove(session, duplicate, actor, reason, now)
    return len(pairs)


async def _move_all(
    session: AsyncSession, merged_id: str, into_id: str, actor: Actor, reason: str, now: datetime
) -> int:
    """Move every sighting of the merged claim to the survivor, in three statements."""
    moved = Sighting.claim_id == merged_id
    changes = {"claim_id": {"from": merged_id, "to": into_id}}
    await session.execute(
        insert(AuditEntry).from_select(
            [
                "at",
                "action",
                "key_id",
                "key_name",
                "target_type",
                "target_id",
                "revision",
                "reason",
                "changes",
                "request_id",
            ],
            select(
                literal(now, UTCDateTime()),
                literal(Action.moved.value),
                literal(actor.key_id, String()),
                literal(actor.name),
                literal(Target.sighting.value),
                Sighting.id,
                Sighting.revision + 1,
                literal(reason),
                literal(changes, JSON()),
                literal(current_request_id.get(), String()),
            ).where(moved),
        )
    )
    await archive(session, Sighting, sighting_versions, moved, now)
    result = await session.execute(
        update(Sighting)
        .where(moved)
        .values(claim_id=into_id, revision=Sighting.revision + 1, **_stamp(actor, now))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _stamp(actor: Actor, now: datetime) -> dict[str, Any]:
    return {k: v for k, v in revised_values(actor, now, revision=0).items() if k != "revision"}


async def merge_claims(
    *,
    session: AsyncSession,
    actor: Actor,
    claim_id: str,
    into: str,
    reason: str,
    expected_revision: int | None,
    now: datetime | None = None,
) -> Claim:
    """Merge a duplicate claim into another; its sightings move, its id redirects there."""
    now = now or utcnow()
    into = await claims.merged_into(session=session, claim_id=into) or into
    if into == claim_id:
        raise Invalid("a claim cannot be merged into itself", loc=["into"])
    await claims.lock(session=session, claim_ids={claim_id, into})
    merged = await session.get(Claim, claim_id, populate_existing=True)
    if merged is None:
        raise NotFound(f"no claim with id {claim_id!r}")
    survivor = await session.get(Claim, into, populate_existing=True)
    if survivor is None:
        raise Invalid(f"no claim with id {into!r}", loc=["into"])
    check_revision(merged.revision, expected_revision)
    why = f"merged into {into}: {reason}"
    withdrawn = await _withdraw_duplicates(session, claim_id, into, actor, why, now)
    moved = await _move_all(session, claim_id, into, actor, reason, now)
    for touched in (claim_id, into):
        await chain_counts.recount(session, touched)
    variants = await session.scalars(select(Claim).where(Claim.variant_of == claim_id))
    for variant in variants.all():
        target = None if variant.id == into else into
        await revise(
            session,
            variant,
            claim_versions,
            values={"variant_of": target},
            actor=actor,
            now=now,
            target=Target.claim,
            action=Action.corrected,
            reason=why,
            changes={"variant_of": {"from": claim_id, "to": target}},
        )
    merge_changes = {"merged_into": {"from": None, "to": into}}
    await archive(session, Claim, claim_versions, Claim.id == claim_id, now)
    await session.execute(delete(Claim).where(Claim.id == claim_id))
    session.expunge(merged)
    await audit.log(
        session=session,
        actor=actor,
        action=Action.merged,
        target_type=Target.claim,
        target_id=claim_id,
        at=now,
        revision=merged.revision + 1,
        reason=reason,
        changes=merge_changes,
    )
    await session.execute(
        update(ClaimMerge).where(ClaimMerge.into_id == claim_id).values(into_id=into)
    )
    session.add(
        ClaimMerge(
            merged_id=claim_id,
            into_id=into,
            merged_at=now,
            merged_by=actor.name,
            merged_by_key_id=actor.key_id,
            reason=reason,
        )
    )
    await revise(
        session,
        survivor,
        claim_versions,
        values={},
        actor=actor,
        now=now,
        target=Target.claim,
        action=Action.merged,
        reason=reason,
        changes={"absorbed": {"from": None, "to": claim_id}},
    )
    # The duplicate's own wording keeps finding the claim it joined.
    await matching.index_wordings(
        session=session, claim_id=into, texts=[merged.statement, merged.summary]
    )
    await matching.embed_pending(session=session)
    await refresh_claim(session=session, claim_id=into, now=now)
    await outbox.emit(
        session=session,
        event=payloads.ClaimMerged(
            claim_id=claim_id,
            into=payloads.ClaimSummary.of(survivor),
            revision=merged.revision + 1,
            reason=reason,
            changes=merge_changes,
            sightings_moved=moved,
            sightings_withdrawn=withdrawn,
        ),
        claim_id=into,
        tags=survivor.tags,
    )
    return survivor
