from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims.models import Claim
from app.claims.projection import count_spreading_after, official_word, official_word_ids
from app.denials import rules
from app.denials.schemas import DenialReport
from app.enums import OutletKind, Stance
from app.ledger import LedgerView, as_of, with_outlet
from app.pagination import PageParams, SortKey, paginate
from app.sightings.presenter import present


async def report(
    *, session: AsyncSession, claim: Claim, moment: datetime | None = None
) -> DenialReport:
    """The claim's denial status with the sightings behind it (as it stood at `moment`)."""
    view = as_of(moment)
    word = await official_word(session=session, claim_id=claim.id, view=view)
    first = rules.first_denial(word)
    after = await count_spreading_after(session=session, claim_id=claim.id, first=first, view=view)
    # The ids as the statement that selected them, not as a list: a claim may have more
    # official word than a statement may carry parameters.
    ids = official_word_ids(claim_id=claim.id, view=view)
    shown = {s.id: s for s in await present(session=session, sightings=word, ids=ids, view=view)}
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
    moment: datetime | None = None,
) -> tuple[list[Any], str | None, LedgerView]:
    """Official denials, newest first; and the view they were read from."""
    view = as_of(moment)
    sightings = view.sightings
    statement = with_outlet(view).where(
        view.outlets.kind == OutletKind.official, sightings.stance == Stance.denies
    )
    if since is not None:
        statement = statement.where(sightings.published_at >= since)
    keys = [
        SortKey(sightings.published_at, descending=True),
        SortKey(sightings.id, descending=True),
    ]
    rows, next_cursor = await paginate(session, statement, keys, page)
    return rows, next_cursor, view


async def claims_by_id(
    *, session: AsyncSession, claim_ids: list[str], view: LedgerView
) -> dict[str, Claim]:
    """These claims as the view holds them, fetched in one query."""
    claims = view.claims
    rows = await session.scalars(
        select(claims)
        .where(claims.id.in_(set(claim_ids)))
        .execution_options(populate_existing=True)
    )
    return {claim.id: claim for claim in rows}
