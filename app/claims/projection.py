"""What a claim's sightings add up to: its counters, denial status, resurfacing, chain
summaries and matching data.

Whatever records, corrects, moves or withdraws sightings calls `sightings_changed` once, for
every claim it touched, under those claims' row locks, before its transaction commits.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.claims import chain_counts, matching
from app.claims import events as claim_events
from app.claims.models import Claim, claim_versions
from app.db import utcnow
from app.enums import DenialStatus, OutletKind, Stance
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.sightings import events as sighting_events
from app.sightings import rules
from app.sightings.models import Sighting
from app.sightings.service import with_outlet
from app.streaming import time_order_in
from app.versioning import archive


class SightingsChangedHook(Protocol):
    async def __call__(
        self, *, session: AsyncSession, claim_ids: frozenset[str], now: datetime
    ) -> None: ...


_sightings_changed_hooks: list[SightingsChangedHook] = []


def on_sightings_changed(hook: SightingsChangedHook) -> SightingsChangedHook:
    """Run `hook` in every transaction that changes sightings, with every claim whose sightings
    changed (a merged claim's too), after this domain's own projections are up to date.

    What is read across claims (outlet records, the network) lives above this domain and keeps
    its own projections by registering here rather than being called.
    """
    _sightings_changed_hooks.append(hook)
    return hook


def _official_verdicts(dialect: str, claim_id: str) -> Select[Any]:
    """Per official outlet, the stance of its latest denial or confirmation of the claim.

    Each official outlet counts once, by its latest verdict; the answer is sized by outlets,
    not by sightings, however often the claim was denied.
    """
    latest_first = func.row_number().over(
        partition_by=Sighting.outlet_id,
        order_by=[column.desc() for column in time_order_in(dialect, Sighting)],
    )
    ranked = (
        select(Sighting.stance, latest_first.label("rank"))
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .where(
            Sighting.claim_id == claim_id,
            Outlet.kind == OutletKind.official,
            Sighting.stance.in_(rules.VERDICTS),
        )
        .subquery()
    )
    return select(ranked.c.stance).where(ranked.c.rank == 1).distinct()


async def _denial_status(session: AsyncSession, claim_id: str) -> DenialStatus:
    dialect = session.get_bind().dialect.name
    stances = set((await session.scalars(_official_verdicts(dialect, claim_id))).all())
    if not stances:
        return DenialStatus.none
    if stances == {Stance.denies}:
        return DenialStatus.denied
    if stances == {Stance.confirms}:
        return DenialStatus.confirmed
    return DenialStatus.contested


async def _first_denial_at(session: AsyncSession, claim_id: str) -> datetime | None:
    """When the claim was first officially denied."""
    first: datetime | None = await session.scalar(
        select(func.min(Sighting.published_at))
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .where(
            Sighting.claim_id == claim_id,
            Outlet.kind == OutletKind.official,
            Sighting.stance == Stance.denies,
        )
    )
    return first


async def count_spreading_after(
    *, session: AsyncSession, claim_id: str, moment: datetime | None
) -> int:
    """Sightings asserting or reporting the claim after `moment` (its first official denial)."""
    if moment is None:
        return 0
    count = await session.scalar(
        select(func.count()).where(
            Sighting.claim_id == claim_id,
            Sighting.stance.in_(rules.SPREADING),
            Sighting.published_at > moment,
        )
    )
    return count or 0


async def refresh_claim(
    *, session: AsyncSession, claim_id: str, now: datetime | None = None
) -> None:
    """Recompute a claim's counters, denial status and resurfacing from its current sightings.

    The changes it finds are announced here, once per refresh, so a batch that records many
    sightings of a claim announces its new status or its resurfacing once. A changed projection
    is a new version of the claim's row (its revision stays), so a past moment replays it too.
    """
    now = now or utcnow()
    sightings_count, outlets_count, first_seen_at = (
        await session.execute(
            select(
                func.count(),
                func.count(distinct(Sighting.outlet_id)),
                func.min(Sighting.published_at),
            ).where(Sighting.claim_id == claim_id)
        )
    ).one()
    status = await _denial_status(session, claim_id)
    first_denial_at = await _first_denial_at(session, claim_id)
    spread = await count_spreading_after(session=session, claim_id=claim_id, moment=first_denial_at)
    claim = await session.get(Claim, claim_id)
    assert claim is not None, "sightings only exist for existing claims"
    projected = {
        "sightings_count": sightings_count,
        "outlets_count": outlets_count,
        "first_seen_at": first_seen_at,
        "denial_status": status,
        "sightings_after_denial": spread,
    }
    if all(getattr(claim, field) == value for field, value in projected.items()):
        return
    await archive(session, Claim, claim_versions, Claim.id == claim_id, now)
    if claim.denial_status != status:
        await outbox.emit(
            session=session,
            event=claim_events.ClaimStatusChanged(
                claim_id=claim.id, old_status=claim.denial_status, new_status=status
            ),
            claim_id=claim.id,
            tags=claim.tags,
        )
    if first_denial_at is not None and spread and not claim.sightings_after_denial:
        latest = await session.scalar(
            with_outlet()
            .where(
                Sighting.claim_id == claim_id,
                Sighting.stance.in_(rules.SPREADING),
                Sighting.published_at > first_denial_at,
            )
            .order_by(Sighting.recorded_at.desc(), Sighting.id.desc())
            .limit(1)
        )
        assert latest is not None
        await outbox.emit(
            session=session,
            event=claim_events.ClaimResurfaced(
                claim_id=claim.id,
                sighting=sighting_events.SightingSummary.of(latest),
                first_denial_at=first_denial_at,
                sightings_after_denial=spread,
            ),
            claim_id=claim.id,
            tags=claim.tags,
        )
    for field, value in projected.items():
        setattr(claim, field, value)
    claim.valid_from = now
    await session.flush()


async def sightings_changed(
    *,
    session: AsyncSession,
    claim_ids: Iterable[str],
    now: datetime,
    tally: chain_counts.ChainTally | None = None,
    recount: Iterable[str] = (),
    reworded: Iterable[str] = (),
    wordings: Mapping[str, Iterable[str | None]] | None = None,
) -> None:
    """Bring claims whose sightings changed up to date.

    `tally` holds what recording counted as it wrote, added to the chain summaries as it
    stands; the claims in `recount` have their summaries counted again from their rows instead
    (a correction can change any of them). The claims in `reworded` had sightings whose wording
    changed or went: their matching terms are rebuilt; `wordings` adds new texts that find a
    claim (titles of new sightings, a merged duplicate's statement). Every claim in `claim_ids`
    then has its counters and status refreshed, and the matching vectors follow.
    """
    changed, recounted = frozenset(claim_ids), frozenset(recount)
    if tally is not None:
        await tally.write(session)
    for claim_id in sorted(recounted):
        await chain_counts.recount(session, claim_id)
    for claim_id in sorted(set(reworded)):
        await matching.reindex_claim(session=session, claim_id=claim_id, embed=False)
    for claim_id, texts in sorted((wordings or {}).items()):
        await matching.index_wordings(session=session, claim_id=claim_id, texts=list(texts))
    for claim_id in sorted(changed):
        await refresh_claim(session=session, claim_id=claim_id, now=now)
    for hook in _sightings_changed_hooks:
        await hook(session=session, claim_ids=changed | recounted, now=now)
    await matching.embed_pending(session=session)


@outlets.on_kind_change
async def _outlet_kind_changed(*, session: AsyncSession, outlet_id: str, now: datetime) -> None:
    """Only official outlets count towards denial status, and summaries count sightings by their
    outlet's kind: every claim the outlet carried is counted again."""
    claim_ids = (
        await session.scalars(
            select(Sighting.claim_id).where(Sighting.outlet_id == outlet_id).distinct()
        )
    ).all()
    await sightings_changed(session=session, claim_ids=claim_ids, now=now, recount=claim_ids)
