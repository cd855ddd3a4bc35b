from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse

from app.auth.deps import ReadKey, WriteKey
from app.db import SessionDep
from app.denials.service import refresh_claims_of_outlet
from app.enums import OutletKind
from app.idempotency.service import IdempotencyDep
from app.outlets import service
from app.outlets.schemas import Outlet, OutletCreate, OutletUpdate
from app.pagination import PageDep
from app.schemas import Page

router = APIRouter(prefix="/v1/outlets", tags=["outlets"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Outlet)
async def create_outlet(
    body: OutletCreate, session: SessionDep, _: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    async def produce() -> Outlet:
        return Outlet.model_validate(await service.create(session=session, data=body))

    return await guard.respond(status.HTTP_201_CREATED, produce)


@router.get("")
async def list_outlets(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    kind: OutletKind | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    q: Annotated[str | None, Query(max_length=300)] = None,
) -> Page[Outlet]:
    outlets, next_cursor = await service.list_outlets(
        session=session, page=page, kind=kind, country=country, q=q
    )
    return Page(items=[Outlet.model_validate(o) for o in outlets], next_cursor=next_cursor)


@router.get("/{slug}")
async def get_outlet(slug: str, session: SessionDep, _: ReadKey) -> Outlet:
    return Outlet.model_validate(await service.get_or_404(session=session, slug=slug))


@router.patch("/{slug}")
async def update_outlet(slug: str, body: OutletUpdate, session: SessionDep, _: WriteKey) -> Outlet:
    outlet = await service.get_or_404(session=session, slug=slug)
    outlet, kind_changed = await service.update(session=session, outlet=outlet, data=body)
    if kind_changed:
        # Only official outlets count towards denial status, so a change of kind can change it.
        await refresh_claims_of_outlet(session=session, outlet_id=outlet.id)
    return Outlet.model_validate(outlet)
