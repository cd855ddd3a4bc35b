from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from app.auth.deps import ReadKey, WriteKey
from app.db import SessionDep
from app.enums import Stance
from app.idempotency.service import IdempotencyDep
from app.pagination import PageDep
from app.schemas import Page, TimestampIn
from app.sightings import service
from app.sightings.presenter import present
from app.sightings.schemas import Sighting, SightingCreate
from app.validators import Slug

router = APIRouter(prefix="/v1/sightings", tags=["sightings"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Sighting,
)
async def record_sighting(
    body: SightingCreate, session: SessionDep, principal: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    async def produce() -> Sighting:
        sighting = await service.record(session=session, principal=principal, data=body)
        return (await present(session=session, sightings=[sighting]))[0]

    return await guard.respond(status.HTTP_201_CREATED, produce)


@router.get("")
async def list_sightings(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
    outlet: Annotated[Slug | None, Query(description="An outlet's slug.")] = None,
    stance: Stance | None = None,
    since: Annotated[TimestampIn | None, Query(description="Published at or after.")] = None,
) -> Page[Sighting]:
    rows, next_cursor = await service.list_sightings(
        session=session, page=page, claim_id=claim_id, outlet=outlet, stance=stance, since=since
    )
    return Page(items=await present(session=session, sightings=rows), next_cursor=next_cursor)


@router.get("/{sighting_id}")
async def get_sighting(sighting_id: str, session: SessionDep, _: ReadKey) -> Sighting:
    sighting = await service.get_or_404(session=session, sighting_id=sighting_id)
    return (await present(session=session, sightings=[sighting]))[0]
