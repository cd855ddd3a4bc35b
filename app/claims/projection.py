"""A claim's counters, denial status and resurfacing: a projection of its current sightings.

Whatever records, corrects, moves or withdraws a sighting calls `refresh_claim` for each claim
it touched, under that claim's row lock, before its transaction commits.
"""

from datetime import datetime

from sqlalchemy import ColumnElement, Select, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.claims.models import Claim, claim_versions
from app.db import utcnow
from app.denials import rules
from app.enums import OutletKind, Stance
from app.ledger import CURRENT, LedgerView, with_outlet
from app.outbox import payloads
from app.sightings.models import Sighting
from app.versioning import archive


def _is_official_word(claim_id: str, view: LedgerView) -> list[ColumnElement[bool]]:
    return [
        view.sightings.claim_id == claim_id,
        or_(
            view.outlets.kind.in_([OutletKind.official, OutletKind.fact_checker]),
            view.sightings.stance == Stance.debunks,
        ),
    ]


async def official_word(
    *, session: AsyncSession, claim_id: str, view: LedgerView = CURRENT
) -> list[Sighting]:
    """Official verdicts and fact checks of one claim: the only sightings denial status reads."""
    statement = with_outlet(view).where(*_is_official_word(claim_id, view))
    return rules.in_time_order((await session.scalars(statement)).unique().all())


def official_word_ids(*, claim_id: str, view: LedgerView = CURRENT) -> Select[tuple[str]]:
    """The ids `official_word` reads, as a statement to use as a subquery."""
    sightings, outlets = view.sightings, view.outlets
    return (
        select(sightings.id)
        .join(outlets, outlets.id == sightings.outlet_id)
        .where(*_is_official_word(claim_id, view))
    )


def _spreading_after(claim_id: str, moment: datetime, view: LedgerView) -> Select[Sighting]:
    return select(view.sightings).where(
        view.sightings.claim_id == claim_id,
        view.sightings.stance.in_(rules.SPREADING),
        view.sightings.published_at > moment,
    )


async def count_spreading_after(
    *, session: AsyncSession, claim_id: str, first: Sighting | None, view: LedgerView = CURRENT
) -> int:
    """Sightings asserting or reporting the claim after its first official denial."""
    if first is None:
        return 0
    spreading = _spreading_after(claim_id, first.published_at, view).subquery()
    return await session.scalar(select(func.count()).select_from(spreading)) or 0


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
    word = await official_word(session=session, claim_id=claim_id)
    status = rules.status(word)
    first = rules.first_denial(word)
    spread = await count_spreading_after(session=session, claim_id=claim_id, first=first)
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
            event=payloads.ClaimStatusChanged(
                claim_id=claim.id, old_status=claim.denial_status, new_status=status
            ),
            claim_id=claim.id,
            tags=claim.tags,
        )
    if first is not None and spread and not claim.sightings_after_denial:
        latest = await session.scalar(
            with_outlet()
            .where(
                Sighting.claim_id == claim_id,
                Sighting.stance.in_(rules.SPREADING),
                Sighting.published_at > first.published_at,
            )
            .order_by(Sighting.recorded_at.desc(), Sighting.id.desc())
            .limit(1)
        )
        assert latest is not None
        await outbox.emit(
            session=session,
            event=payloads.ClaimResurfaced(
                claim_id=claim.id,
                sighting=payloads.SightingSummary.of(latest),
                first_denial_at=first.published_at,
                sightings_after_denial=spread,
            ),
            claim_id=claim.id,
            tags=claim.tags,
        )
    for field, value in projected.items():
        setattr(claim, field, value)
    claim.valid_from = now
    await session.flush()


async def refresh_claims_of_outlet(
    *, session: AsyncSession, outlet_id: str, now: datetime | None = None
) -> None:
    """Recompute every claim this outlet carried, after its kind changed."""
    claim_ids = await session.scalars(
        select(Sighting.claim_id).where(Sighting.outlet_id == outlet_id).distinct()
    )
    for claim_id in sorted(claim_ids.all()):
        await refresh_claim(session=session, claim_id=claim_id, now=now)
