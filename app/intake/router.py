from typing import Any

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from app.auth.deps import ReadKey, WriteKey
from app.claims.deps import ClaimDep
from app.deps import AsOf
from app.errors import PayloadTooLarge
from app.idempotency.service import IdempotencyDep
from app.intake import batch, claimreview
from app.intake.schemas import MAX_BATCH_ITEMS, BatchCreate, BatchResult
from app.ledger import as_of
from app.transactions import SessionDep

router = APIRouter(tags=["intake"])

LD_JSON = "application/ld+json"


@router.post(
    "/v1/sightings/batch",
    response_model=BatchResult,
    responses={
        413: {"description": f"More than {MAX_BATCH_ITEMS} items, or a body over 10 MiB."},
        422: {"description": "An atomic batch with a failing item; `results` tells which."},
    },
)
async def record_batch(
    body: BatchCreate, session: SessionDep, principal: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    """Record up to 1,000 sightings; each item's outcome is reported in item order."""
    if len(body.items) > MAX_BATCH_ITEMS:
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_BATCH_ITEMS} items; this one has {len(body.items)}"
        )

    async def produce() -> BatchResult:
        results = await batch.record_batch(
            session=session, principal=principal, raw_items=body.items, atomic=body.atomic
        )
        return BatchResult(results=results)

    return await guard.respond(status.HTTP_200_OK, produce)


@router.get(
    "/v1/claims/{claim_id}/claimreview",
    response_class=JSONResponse,
    responses={200: {"content": {LD_JSON: {}}, "description": "schema.org ClaimReview objects."}},
)
async def get_claimreview(
    claim: ClaimDep, session: SessionDep, _: ReadKey, moment: AsOf
) -> JSONResponse:
    """Every fact check and official denial of the claim, as schema.org ClaimReview JSON-LD."""
    reviews: list[dict[str, Any]] = await claimreview.reviews(
        session=session, claim=claim, view=as_of(moment)
    )
    return JSONResponse(reviews, media_type=LD_JSON)
