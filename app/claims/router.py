from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.audit import service as audit
from app.audit.schemas import Revision
from app.audit.service import Target
from app.auth.deps import ReadKey, WriteKey
from app.claims import matching, merge, service
from app.claims.deps import ClaimDep
from app.claims.schemas import (
    Claim,
    ClaimCreate,
    ClaimMatch,
    ClaimMatches,
    ClaimMatchQuery,
    ClaimMergeRequest,
    ClaimUpdate,
)
from app.config import Settings
from app.deps import AsOf, IfMatch
from app.enums import DenialStatus
from app.idempotency.service import IdempotencyDep
from app.outlets import service as outlets
from app.pagination import PageDep
from app.revisions import etag
from app.schemas import Page
from app.transactions import SessionDep
from app.validators import Slug

router = APIRouter(prefix="/v1/claims", tags=["claims"])

MERGED: dict[int | str, dict[str, Any]] = {
    308: {"description": "The claim was merged: the same request on the survivor."}
}
CHANGE: dict[int | str, dict[str, Any]] = {
    **MERGED,
    409: {"description": "Another claim has the same normalised statement (`existing_id`)."},
    412: {"description": "`If-Match` names a revision that is no longer the latest."},
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Claim)
async def create_claim(
    body: ClaimCreate, session: SessionDep, principal: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    async def produce() -> Claim:
        claim = await service.create(session=session, data=body, actor=principal)
        return Claim.model_validate(claim)

    answer = await guard.respond(status.HTTP_201_CREATED, produce)
    answer.headers.update(etag(1))
    return answer


@router.get("", responses={404: {"description": "`outlet` names no outlet."}})
async def list_claims(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    moment: AsOf,
    q: Annotated[
        str | None, Query(max_length=500, description="Text the statement contains.")
    ] = None,
    status: DenialStatus | None = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    outlet: Annotated[
        Slug | None, Query(description="Only claims this outlet carried (its slug).")
    ] = None,
) -> Page[Claim]:
    outlet_id = None
    if outlet is not None:
        outlet_id = (await outlets.get_or_404(session=session, slug=outlet, moment=moment)).id
    claims, next_cursor = await service.list_claims(
        session=session,
        page=page,
        q=q,
        status=status,
        tag=tag,
        outlet_id=outlet_id,
        moment=moment,
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


@router.get("/{claim_id}", responses=MERGED)
async def get_claim(claim: ClaimDep, _: ReadKey, response: Response) -> Claim:
    response.headers.update(etag(claim.revision))
    return Claim.model_validate(claim)


@router.patch("/{claim_id}", responses=CHANGE)
async def correct_claim(
    claim: ClaimDep,
    body: ClaimUpdate,
    session: SessionDep,
    principal: WriteKey,
    expected: IfMatch,
    response: Response,
) -> Claim:
    """Correct a claim's own fields, with a required `reason`; its history keeps all."""
    corrected = await service.correct(
        session=session,
        claim_id=claim.id,
        data=body,
        actor=principal,
        expected_revision=expected,
    )
    response.headers.update(etag(corrected.revision))
    return Claim.model_validate(corrected)


@router.post("/{claim_id}/merge", responses=CHANGE)
async def merge_claim(
    claim: ClaimDep,
    body: ClaimMergeRequest,
    session: SessionDep,
    principal: WriteKey,
    expected: IfMatch,
    response: Response,
) -> Claim:
    """Merge this duplicate claim into `into`; answers with the surviving claim."""
    survivor = await merge.merge(
        session=session,
        actor=principal,
        claim_id=claim.id,
        into=body.into,
        reason=body.reason,
        expected_revision=expected,
    )
    response.headers.update(etag(survivor.revision))
    return Claim.model_validate(survivor)


@router.get("/{claim_id}/history")
async def claim_history(
    claim_id: str, session: SessionDep, page: PageDep, _: ReadKey
) -> Page[Revision]:
    """The claim's revisions, newest first; a merged claim's history stays here."""
    rows, next_cursor = await audit.history_page(
        session=session, target_type=Target.claim, target_id=claim_id, page=page
    )
    return Page(items=[Revision.model_validate(r) for r in rows], next_cursor=next_cursor)
