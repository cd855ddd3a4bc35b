"""Merging a duplicate claim into another: its sightings move, its id redirects to the survivor.

What other domains keep about a claim and must follow it to the survivor (subscriptions naming
it) they register here with `on_merge`, and it runs in the merge's own transaction: a claim does
not call the domains above it.
"""

from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app import outbox
from app.audit.service import Action, Actor, Target
from app.claims import events as claim_events
from app.claims import matching
from app.claims import service as claims
from app.claims.models import Claim, ClaimMerge, claim_versions
from app.claims.projection import sightings_changed
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.revisions import check_revision, retire, revise, revise_all
from app.sightings import changes
from app.sightings.models import Citation, Sighting, citation_versions, sighting_versions
from app.versioning import archive


class MergeHook(Protocol):
    async def __call__(self, *, session: AsyncSession, merged_id: str, into_id: str) -> None: ...


_merge_hooks: list[MergeHook] = []


def on_merge(hook: MergeHook) -> MergeHook:
    """Run `hook` in the transaction of every merge, once the merged claim is gone."""
    _merge_hooks.append(hook)
    return hook


async def _withdraw_duplicates(
    session: AsyncSession, merged_id: str, into_id: str, actor: Actor, reason: str, now: datetime
) -> int:
    """Withdraw the merged claim's sightings the survivor already has, re-pointing their citers."""
    twin = aliased(Sighting)
    pairs = (
        await session.execute(
            select(Sighting.id, twin.id)
            .join(
                twin,
                (twin.outlet_id == Sighting.outlet_id)
                & (twin.canonical_url == Sighting.canonical_url),
            )
            .where(
                Sighting.claim_id == merged_id,
                twin.claim_id == into_id,
                Sighting.duplicate_of.is_(None),
                twin.duplicate_of.is_(None),
            )
        )
    ).all()
    for duplicate_id, twin_id in pairs:
        citers = await session.scalars(
            select(Citation.citing_id).where(
                Citation.cited_id == duplicate_id, Citation.citing_id != twin_id
            )
        )
        for citing_id in citers.all():
            citations = await changes.citations_of(session, citing_id)
            basis = citations.pop(duplicate_id)
            citations.setdefault(twin_id, basis)
            await changes.replace_citations(session, citing_id, citations, now)
        # What still cites the duplicate is its twin: that citation goes with it.
        cited_by_twin = Citation.cited_id == duplicate_id
        await archive(session, Citation, citation_versions, cited_by_twin, now)
        await session.execute(delete(Citation).where(cited_by_twin))
        duplicate = await session.get(Sighting, duplicate_id)
        assert duplicate is not None
        await changes.withdraw(session, duplicate, actor=actor, reason=reason, now=now)
    return len(pairs)


async def _follow_variants(
    session: AsyncSession, merged_id: str, into_id: str, actor: Actor, why: str, now: datetime
) -> None:
    """Claims told as variants of the merged one become variants of the survivor."""
    variants = await session.scalars(select(Claim).where(Claim.variant_of == merged_id))
    for variant in variants.all():
        target = None if variant.id == into_id else into_id
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
            changes={"variant_of": {"from": merged_id, "to": target}},
        )


async def merge(
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
    moved = await revise_all(
        session,
        Sighting,
        sighting_versions,
        Sighting.claim_id == claim_id,
        values={"claim_id": into},
        actor=actor,
        now=now,
        target=Target.sighting,
        action=Action.moved,
        reason=reason,
        changes={"claim_id": {"from": claim_id, "to": into}},
    )
    # Counted again before the merged claim's row goes: its summaries must go first. The
    # duplicate's own wording keeps finding the claim it joined.
    await sightings_changed(
        session=session,
        claim_ids=[into],
        now=now,
        recount=[claim_id, into],
        wordings={into: [merged.statement, merged.summary]},
    )
    await matching.forget_claim(session=session, claim_id=claim_id)
    await _follow_variants(session, claim_id, into, actor, why, now)
    merge_changes = {"merged_into": {"from": None, "to": into}}
    revision = await retire(
        session,
        merged,
        claim_versions,
        actor=actor,
        now=now,
        target=Target.claim,
        action=Action.merged,
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

    def announce(absorbing: Claim) -> list[outbox.Announcement]:
        event = claim_events.ClaimMerged(
            claim_id=claim_id,
            into=claim_events.ClaimSummary.of(absorbing),
            revision=revision,
            reason=reason,
            changes=merge_changes,
            sightings_moved=moved,
            sightings_withdrawn=withdrawn,
        )
        return [outbox.Announcement(event, absorbing.id, absorbing.tags)]

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
        announce=announce,
    )
    for hook in _merge_hooks:
        await hook(session=session, merged_id=claim_id, into_id=into)
    return survivor
