from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth.deps import ReadKey
from app.claims.deps import claim_or_redirect
from app.claims.schemas import Claim
from app.denials import service
from app.denials.schemas import Denial, DenialReport
from app.deps import AsOf
from app.derived.deps import Documents
from app.derived.documents import NOT_MODIFIED
from app.pagination import PageDep
from app.schemas import Page, TimestampIn
from app.sightings.presenter import present
from app.transactions import SessionDep, SnapshotOnDemand

router = APIRouter(tags=["denials"])


@router.get("/v1/claims/{claim_id}/denial", response_model=DenialReport, responses=NOT_MODIFIED)
async def get_denial(
    claim_id: str,
    request: Request,
    snapshot: SnapshotOnDemand,
    documents: Documents,
    _: ReadKey,
    moment: AsOf,
) -> Response:
    # A claim denied tens of thousands of times makes a report of tens of MB, streamed. The
    # claim and its report are read in one snapshot, which stays open until the body is sent.
    async def build() -> AsyncIterator[bytes]:
        session = await snapshot.session()
        claim = await claim_or_redirect(claim_id, request, session, moment)
        async for part in service.report_document(session=session, claim=claim, moment=moment):
            yield part

    return await documents.answer(request, claim_id=claim_id, build=build)


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
