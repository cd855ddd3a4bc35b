from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from app.audit import service as audit
from app.audit.schemas import Revision
from app.audit.service import Target
from app.auth.deps import ReadKey, WriteKey
from app.deps import AsOf, IfMatch
from app.enums import OutletKind
from app.idempotency.service import IdempotencyDep
from app.outlets import domains, service
from app.outlets.schemas import Outlet, OutletCreate, OutletUpdate
from app.pagination import PageDep
from app.revisions import etag
from app.schemas import Page
from app.transactions import SessionDep
from app.validators import PageUrl, Slug

router = APIRouter(prefix="/v1/outlets", tags=["outlets"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Outlet)
async def create_outlet(
    body: OutletCreate, session: SessionDep, principal: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    async def produce() -> Outlet:
        outlet = await service.create(session=session, data=body, actor=principal)
        return Outlet.model_validate(outlet)

    answer = await guard.respond(status.HTTP_201_CREATED, produce)
    answer.headers.update(etag(1))
    return answer


@router.get("")
async def list_outlets(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    moment: AsOf,
    kind: OutletKind | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    q: Annotated[str | None, Query(max_length=300)] = None,
) -> Page[Outlet]:
    outlets, next_cursor = await service.list_outlets(
        session=session, page=page, kind=kind, country=country, q=q, moment=moment
    )
    return Page(items=[Outlet.model_validate(o) for o in outlets], next_cursor=next_cursor)


@router.get("/resolve", responses={404: {"description": "No outlet's domains match the URL."}})
async def resolve_outlet(
    session: SessionDep,
    _: ReadKey,
    url: Annotated[PageUrl, Query(description="A URL in any of its forms.")],
) -> Outlet:
    """The outlet a URL belongs to: the one with the longest domain entry matching it."""
    return Outlet.model_validate(await domains.resolve_or_404(session=session, url=url))


@router.get("/{slug}")
async def get_outlet(
    slug: Slug, session: SessionDep, _: ReadKey, moment: AsOf, response: Response
) -> Outlet:
    outlet = await service.get_or_404(session=session, slug=slug, moment=moment)
    response.headers.update(etag(outlet.revision))
    return Outlet.model_validate(outlet)


@router.patch(
    "/{slug}",
    responses={412: {"description": "`If-Match` names a revision that is no longer the latest."}},
)
async def update_outlet(
    slug: Slug,
    body: OutletUpdate,
    session: SessionDep,
    principal: WriteKey,
    expected: IfMatch,
    response: Response,
) -> Outlet:
    """Correct an outlet as a new revision; a change of kind recomputes its claims' status."""
    outlet = await service.correct(
        session=session, slug=slug, data=body, actor=principal, expected_revision=expected
    )
    response.headers.update(etag(outlet.revision))
    return Outlet.model_validate(outlet)


@router.get("/{slug}/history")
async def outlet_history(
    slug: Slug, session: SessionDep, page: PageDep, _: ReadKey
) -> Page[Revision]:
    """The outlet's revisions, newest first."""
    outlet = await service.get_or_404(session=session, slug=slug)
    rows, next_cursor = await audit.history_page(
        session=session, target_type=Target.outlet, target_id=outlet.id, page=page
    )
    return Page(items=[Revision.model_validate(r) for r in rows], next_cursor=next_cursor)
