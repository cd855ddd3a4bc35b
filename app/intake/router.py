from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from app.auth.deps import WriteKey
from app.errors import PayloadTooLarge
from app.idempotency.service import IdempotencyDep
from app.intake import batch
from app.intake.schemas import MAX_BATCH_ITEMS, BatchCreate, BatchResult
from app.transactions import SessionDep

router = APIRouter(tags=["intake"])


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
