"""Outlets: the list, and an outlet's record across claims."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.claims import service as claims
from app.claims.schemas import Claim as ClaimOut
from app.enums import OutletKind
from app.errors import NotFound
from app.network import service as network
from app.network.filters import Selection
from app.outlets import service as outlets
from app.outlets.schemas import Outlet as OutletOut
from app.pagination import PageParams
from app.transactions import SessionDep
from app.ui.deps import Reader
from app.ui.legend import KIND_LABELS
from app.ui.pages import PageError, render

router = APIRouter(prefix="/ui", include_in_schema=False)

OUTLETS_PER_PAGE = 50
CLAIMS_SHOWN = 50


def _kind(value: str | None) -> OutletKind | None:
    if not value:
        return None
    try:
        return OutletKind(value)
    except ValueError:
        raise PageError(422, f"Unknown kind {value!r}.") from None


@router.get("/outlets", response_class=HTMLResponse)
async def outlets_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    q: Annotated[str | None, Query(max_length=300)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    rows, next_cursor = await outlets.list_outlets(
        session=session,
        page=PageParams(limit=OUTLETS_PER_PAGE, cursor=cursor),
        kind=_kind(kind),
        q=q or None,
    )
    filters = {"q": q or "", "kind": kind or ""}
    more = urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    context = {
        "outlets": [OutletOut.model_validate(o) for o in rows],
        "filters": filters,
        "kinds": KIND_LABELS,
        "more": more,
    }
    return render(request, "outlets.html", context)


@router.get("/outlets/{slug}", response_class=HTMLResponse)
async def outlet_page(request: Request, session: SessionDep, _: Reader, slug: str) -> HTMLResponse:
    try:
        outlet = await outlets.get_or_404(session=session, slug=slug)
    except NotFound:
        raise PageError(404, "There is no such outlet.") from None
    record = await network.record(session=session, outlet=outlet, selection=Selection())
    carried, more_claims = await claims.list_claims(
        session=session, page=PageParams(limit=CLAIMS_SHOWN, cursor=None), outlet_id=outlet.id
    )
    repeated = await network.repeated_after_denial(
        session=session, outlet_id=outlet.id, limit=CLAIMS_SHOWN
    )
    # Domains arrive with the outlets' addresses; until then the section says there are none.
    domains: list[str] = list(getattr(record.outlet, "domains", None) or [])
    context: dict[str, Any] = {
        "outlet": record.outlet,
        "record": record,
        "kind_label": KIND_LABELS[record.outlet.kind],
        "claims": [ClaimOut.model_validate(c) for c in carried],
        "more_claims": more_claims is not None,
        "repeated": repeated,
        "domains": domains,
    }
    return render(request, "outlet.html", context)
