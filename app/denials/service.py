from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from app.alerts import events as alert_events
from app.claims.models import Claim
from app.denials import rules
from app.denials.schemas import DenialReport
from app.enums import OutletKind, Stance
from app.ledger import CURRENT, LedgerView
from app.pagination import PageParams, SortKey, paginate
from app.sightings.models import Sighting
from app.sightings.presenter import present


def _with_outlet(view: LedgerView, *columns: Any) -> Select[Any]:
    """Sightings joined to their outlets through the view, so a past view reads past outlets;
    with `columns`, those instead of the sightings themselves."""
    sightings, outlets = view.sightings, view.outlets
    if columns:
        return select(*columns).join(outlets, outlets.id == sightings.outlet_id)
    return (
        select(sightings)
        .join(outlets, outlets.id == sightings.outlet_id)
        .options(contains_eager(sightings.outlet.of_type(outlets)))
    )


def _official_word_where(view: LedgerView, claim_id: str) -> list[ColumnElement[bool]]:
    sightings, outlets = view.sightings, view.outlets
    return [
        sightings.claim_id == claim_id,
        or_(
            outlets.kind.in_([OutletKind.official, OutletKind.fact_checker]),
            sightings.stance == Stance.debunks,
        ),
    ]


async def _official_word(
    session: AsyncSession, claim_id: str, view: LedgerView = CURRENT
) -> list[Sighting]:
    """Official verdicts and fact checks of one claim: the only sightings denial status reads."""
    statement = _with_outlet(view).where(*_official_word_where(view, claim_id))
    return rules.in_time_order((await session.scalars(statement)).all())


def _spreading_after(claim_id: str, moment: datetime, view: LedgerView = CURRENT) -> Select[Any]:
    sightings = view.sightings
    return select(sightings).where(
        sightings.claim_id == claim_id,
        sightings.stance.in_(rules.SPREADING),
        sightings.published_at > moment,
    )


async def _count_spreading_after(
    session: AsyncSession, claim_id: str, first: Sighting | None, view: LedgerView = CURRENT
) -> int:
    if first is None:
        return 0
    spreading = _spreading_after(claim_id, first.published_at, view).subquery()
    return await session.scalar(select(func.count()).select_from(spreading)) or 0


async def refresh_claim(*, session: AsyncSession, claim_id: str) -> None:
    """Recompute a claim's counters, denial status and resurfacing from its sightings.

    The changes it finds are announced here, once per refresh, so a batch that records many
    sightings of a claim announces its new status or its resurfacing once.
    """
    sightings_count, outlets_count, first_seen_at = (
        await session.execute(
            select(
                func.count(),
                func.count(distinct(Sighting.outlet_id)),
                func.min(Sighting.published_at),
            ).where(Sighting.claim_id == claim_id)
        )
    ).one()
    word = await _official_word(session, claim_id)
    status = rules.status(word)
    first = rules.first_denial(word)
    spread = await _count_spreading_after(session, claim_id, first)
    claim = await session.get(Claim, claim_id)
    assert claim is not None, "sightings only exist for existing claims"
    claim.sightings_count = sightings_count
    claim.outlets_count = outlets_count
    claim.first_seen_at = first_seen_at
    await alert_events.claim_status_changed(session=session, claim=claim, new_status=status)
    claim.denial_status = status
    if first is not None and spread and not claim.sightings_after_denial:
        latest = await session.scalar(
            _spreading_after(claim_id, first.published_at)
            .order_by(Sighting.recorded_at.desc(), Sighting.id.desc())
            .limit(1)
        )
        assert latest is not None
        await alert_events.claim_resurfaced(
            session=session, claim=claim, sighting_id=latest.id, first_denial=first, spread=spread
        )
    claim.sightings_after_denial = spread
    await session.flush()


async def refresh_claims_of_outlet(*, session: AsyncSession, outlet_id: str) -> None:
    """Recompute every claim this outlet carried, after its kind changed."""
    claim_ids = await session.scalars(
        select(Sighting.claim_id).where(Sighting.outlet_id == outlet_id).distinct()
    )
    for claim_id in claim_ids.all():
        await refresh_claim(session=session, claim_id=claim_id)


async def report(
    *, session: AsyncSession, claim: Claim, view: LedgerView = CURRENT
) -> DenialReport:
    """The claim's denial status with the sightings behind it."""
    word = await _official_word(session, claim.id, view)
    first = rules.first_denial(word)
    after = await _count_spreading_after(session, claim.id, first, view)
    word_ids = _with_outlet(view, view.sightings.id).where(*_official_word_where(view, claim.id))
    shown = {
        s.id: s for s in await present(session=session, sightings=word, ids=word_ids, view=view)
    }
    return DenialReport(
        claim_id=claim.id,
        status=rules.status(word),
        first_denial=shown[first.id] if first else None,
        denials=[shown[s.id] for s in word if rules.is_official_denial(s)],
        confirmations=[
            shown[s.id]
            for s in word
            if rules.is_official_verdict(s) and s.stance == Stance.confirms
        ],
        fact_checks=[shown[s.id] for s in word if rules.is_fact_check(s)],
        denial_lag_seconds=rules.lag_seconds(
            claim.first_seen_at, first.published_at if first else None
        ),
        sightings_after_denial=after,
        resurfaced=after > 0,
    )


async def list_denials(
    *,
    session: AsyncSession,
    page: PageParams,
    since: datetime | None = None,
    view: LedgerView = CURRENT,
) -> tuple[list[Sighting], str | None]:
    """Official denials, newest first."""
    sightings = view.sightings
    statement = _with_outlet(view).where(
        view.outlets.kind == OutletKind.official, sightings.stance == Stance.denies
    )
    if since is not None:
        statement = statement.where(sightings.published_at >= since)
    keys = [
        SortKey(sightings.published_at, descending=True),
        SortKey(sightings.id, descending=True),
    ]
    return await paginate(session, statement, keys, page)


async def claims_by_id(
    *, session: AsyncSession, claim_ids: list[str], view: LedgerView = CURRENT
) -> dict[str, Claim]:
    """These claims (a page's worth), fetched in one query."""
    claims = view.claims
    rows = await session.scalars(select(claims).where(claims.id.in_(set(claim_ids))))
    return {claim.id: claim for claim in rows}
