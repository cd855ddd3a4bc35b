from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from app.auth.deps import ReadKey
from app.claims.deps import ClaimDep
from app.claims.schemas import Claim
from app.denials import service
from app.denials.schemas import Denial, DenialReport
from app.ledger import AsOf
from app.pagination import PageDep
from app.schemas import Page, TimestampIn
from app.sightings.presenter import present
from app.transactions import SessionDep

router = APIRouter(tags=["denials"])
# Straight to bytes: a claim denied tens of thousands of times makes a report of tens of MB.
_REPORT = TypeAdapter(DenialReport)


@router.get("/v1/claims/{claim_id}/denial", response_model=DenialReport)
async def get_denial(claim: ClaimDep, session: SessionDep, _: ReadKey, moment: AsOf) -> Response:
    report = await service.report(session=session, claim=claim, moment=moment)
    # Serialised once, here: returned as a model it would be validated again on the way out,
    # which for a claim denied tens of thousands of times doubles the work.
    return Response(_REPORT.dump_json(report), media_type="application/json")


@router.get("/v1/denials")
async def list_denials(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    moment: AsOf,
    since: Annotated[TimestampIn | None, Query()] = None,
) -> Page[Denial]:
    rows, next_cursor, view = await service.list_denials(
        session=session, page=page, since=since, moment=moment
    )
    claims = await service.claims_by_id(
        session=session, claim_ids=[r.claim_id for r in rows], view=view
    )
    shown = await present(session=session, sightings=rows, view=view)
    items = [
        Denial(**s.model_dump(), claim=Claim.model_validate(claims[s.claim_id])) for s in shown
    ]
    return Page(items=items, next_cursor=next_cursor)
