from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from app.auth.deps import ReadKey, WriteKey
from app.claims import matching, service
from app.claims.deps import ClaimDep
from app.claims.schemas import Claim, ClaimCreate, ClaimMatch, ClaimMatches, ClaimMatchQuery
from app.config import Settings
from app.db import SessionDep
from app.enums import DenialStatus
from app.idempotency.service import IdempotencyDep
from app.pagination import PageDep
from app.schemas import Page

router = APIRouter(prefix="/v1/claims", tags=["claims"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Claim)
async def create_claim(
    body: ClaimCreate, session: SessionDep, _: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    async def produce() -> Claim:
        return Claim.model_validate(await service.create(session=session, data=body))

    return await guard.respond(status.HTTP_201_CREATED, produce)


@router.get("")
async def list_claims(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    q: Annotated[
        str | None, Query(max_length=500, description="Text the statement contains.")
    ] = None,
    status: DenialStatus | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[Claim]:
    claims, next_cursor = await service.list_claims(
        session=session, page=page, q=q, status=status, tag=tag
    )
    return Page(items=[Claim.model_validate(c) for c in claims], next_cursor=next_cursor)


@router.post("/match")
async def match_claims(
    body: ClaimMatchQuery, session: SessionDep, _: ReadKey, request: Request
) -> ClaimMatches:
    """Is this claim already tracked? Existing claims ranked by how closely they say `text`."""
    settings: Settings = request.app.state.settings
    found = await matching.match(
        session=session, text=body.text, limit=body.limit, settings=settings
    )
    return ClaimMatches(
        items=[
            ClaimMatch(claim=Claim.model_validate(m.claim), score=m.score, match=m.match)
            for m in found
        ]
    )


@router.get("/{claim_id}")
async def get_claim(claim: ClaimDep, _: ReadKey) -> Claim:
    return Claim.model_validate(claim)
