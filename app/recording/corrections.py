"""Corrections: a sighting corrected, moved to another claim, or withdrawn.

Nothing is overwritten: each change archives the rows it replaces (see `app.versioning`), adds a
revision with who, when and why, and announces itself. Locks are taken claims first, in id
order, then sightings, as recording does, so two writers never wait for each other.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.audit.service import Action, Actor, Target
from app.claims import events as claim_events
from app.claims import service as claims
from app.claims.projection import sightings_changed
from app.db import utcnow
from app.enums import CitationBasis
from app.errors import CitedBy, Invalid
from app.outbox.payloads import Changes, EventPayload
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.recording import addresses, citations
from app.recording.citations import FUTURE_TOLERANCE, resolve_cited_outlets, resolve_cites
from app.recording.schemas import SightingPatch
from app.revisions import check_revision, jsonable, revise
from app.sightings import changes, rules
from app.sightings import events as sighting_events
from app.sightings import service as sightings
from app.sightings.models import Citation, Sighting, sighting_versions
from app.versioning import lock_rows

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
    existing = await changes.citations_of(session, sighting.id)
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
            await citations.check_still_earlier(session, list(cited), published_at)
    if "cites_outlets" in sent:
        resolved = await resolve_cited_outlets(
            session, patch.cites_outlets or [], claim_id, published_at, citing_id=sighting.id
        )
        cited |= {cited_id: end.basis for cited_id, end in resolved.items()}
    return cited


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
        await citations.check_citers_later(session, sighting.id, published_at)
    await citations.check_no_cycle(session, sighting.id, set(cited), published_at)
    canonical = addresses.canonical_of(values.get("url", sighting.url))
    key: dict[str, str | None] = {
        "claim_id": claim_id,
        "outlet_id": outlet.id,
        "canonical_url": canonical,
    }
    if key != {name: getattr(sighting, name) for name in key}:
        existing = await addresses.recorded_at(
            session=session,
            claim_id=claim_id,
            outlet_id=outlet.id,
            canonical=canonical,
            other_than=sighting.id,
        )
        if existing is not None:
            raise addresses.duplicate(existing)
        # At an address of its own now, a sighting found duplicated by the migration that
        # brought canonical URLs rejoins the duplicate rule.
        key["duplicate_of"] = None
    was_denial = rules.is_official_denial(sighting)
    before = _state(sighting, await changes.citations_of(session, sighting.id), sighting.outlet)
    after = before | values | {"claim_id": claim_id, "outlet": outlet.slug} | _cited_fields(cited)
    shown = _shown_changes(before, after)
    if not shown:
        return sighting
    claim = await claims.get(session=session, claim_id=claim_id)
    assert claim is not None

    def announce(corrected: Sighting) -> list[outbox.Announcement]:
        summary = sighting_events.SightingSummary.of(corrected)
        events: list[EventPayload] = [
            sighting_events.SightingCorrected(
                sighting=summary, revision=corrected.revision, reason=patch.reason, changes=shown
            )
        ]
        if rules.is_official_denial(corrected) and (not was_denial or claim_id != old_claim_id):
            # The claim's new status follows in claim.status_changed.
            events.append(
                claim_events.DenialRecorded(
                    sighting=summary, claim=claim_events.ClaimSummary.of(claim)
                )
            )
        return [outbox.Announcement(event, claim_id, claim.tags) for event in events]

    await revise(
        session,
        sighting,
        sighting_versions,
        values=values | key | {"outlet": outlet},
        actor=actor,
        now=now,
        target=Target.sighting,
        action=Action.moved if claim_id != old_claim_id else Action.corrected,
        reason=patch.reason,
        changes=shown,
        announce=announce,
    )
    if "citations" in shown:
        await changes.replace_citations(session, sighting.id, cited, now)
    touched = {old_claim_id, claim_id}
    await sightings_changed(
        session=session,
        claim_ids=touched,
        now=now,
        recount=touched if _COUNTED & shown.keys() else (),
        reworded=touched if {"title", "excerpt", "claim_id"} & shown.keys() else (),
    )
    return sighting


async def _relink(
    session: AsyncSession,
    withdrawn: Sighting,
    citing_ids: list[str],
    actor: Actor,
    reason: str,
    now: datetime,
) -> None:
    """Make each sighting citing `withdrawn` cite, in its place, what `withdrawn` cited."""
    sources = await changes.citations_of(session, withdrawn.id)
    for citing_id in citing_ids:
        await lock_rows(session, Sighting, Sighting.id == citing_id)
        before = await changes.citations_of(session, citing_id)
        after = {k: v for k, v in before.items() if k != withdrawn.id}
        for source in sources:
            after.setdefault(source, before[withdrawn.id])
        shown = _shown_changes(_cited_fields(before), _cited_fields(after))
        await changes.replace_citations(session, citing_id, after, now)
        citing = await sightings.get_or_404(session=session, sighting_id=citing_id)

        def announce(relinked: Sighting, shown: Changes = shown) -> list[outbox.Announcement]:
            event = sighting_events.SightingCorrected(
                sighting=sighting_events.SightingSummary.of(relinked),
                revision=relinked.revision,
                reason=reason,
                changes=shown,
            )
            return [outbox.Announcement(event, relinked.claim_id)]

        await revise(
            session,
            citing,
            sighting_versions,
            values={},
            actor=actor,
            now=now,
            target=Target.sighting,
            action=Action.corrected,
            reason=reason,
            changes=shown,
            announce=announce,
        )


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
    await changes.withdraw(session, sighting, actor=actor, reason=reason, now=now)
    await session.flush()
    await sightings_changed(
        session=session,
        claim_ids=[claim_id],
        now=now,
        recount=citing_claims | {claim_id},
        # What the withdrawn sighting said no longer finds its claim.
        reworded=[claim_id],
    )
