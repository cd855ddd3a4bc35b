from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import ReadKey
from app.claims.deps import ClaimDep
from app.claims.schemas import Claim
from app.db import SessionDep
from app.denials import service
from app.denials.schemas import Denial, DenialReport
from app.pagination import PageDep
from app.schemas import Page, TimestampIn
from app.sightings import service as sightings

router = APIRouter(tags=["denials"])


@router.get("/v1/claims/{claim_id}/denial")
async def get_denial(claim: ClaimDep, session: SessionDep, _: ReadKey) -> DenialReport:
    facts = await service.report(session=session, claim=claim)
    listed = [*facts.denials, *facts.confirmations, *facts.fact_checks]
    shown = {s.id: s for s in await sightings.present(session=session, sightings=listed)}
    return DenialReport(
        claim_id=claim.id,
        status=facts.status,
        first_denial=shown[facts.first_denial.id] if facts.first_denial else None,
        denials=[shown[s.id] for s in facts.denials],
        confirmations=[shown[s.id] for s in facts.confirmations],
        fact_checks=[shown[s.id] for s in facts.fact_checks],
        denial_lag_seconds=facts.denial_lag_seconds,
        sightings_after_denial=facts.sightings_after_denial,
        resurfaced=facts.sightings_after_denial > 0,
    )


@router.get("/v1/denials")
async def list_denials(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    since: Annotated[TimestampIn | None, Query()] = None,
) -> Page[Denial]:
    rows, next_cursor = await service.list_denials(session=session, page=page, since=since)
    claims = await service.claims_by_id(session=session, claim_ids=[r.claim_id for r in rows])
    shown = await sightings.present(session=session, sightings=rows)
    items = [
        Denial(**s.model_dump(), claim=Claim.model_validate(claims[s.claim_id])) for s in shown
    ]
    return Page(items=items, next_cursor=next_cursor)
