"""Live official denials: the list, and the stream that updates it while the page is open."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import (
    HTMLResponse,
    StreamingResponse,
)

from app.alerts import service as alerts
from app.alerts.stream import stream_response
from app.claims.schemas import Claim as ClaimOut
from app.denials import service as denials
from app.enums import EventType
from app.pagination import PageParams
from app.sightings.presenter import present
from app.transactions import SessionDep
from app.ui.deps import (
    Reader,
)
from app.ui.pages import render

router = APIRouter(prefix="/ui", include_in_schema=False)

CLAIMS_PER_PAGE = 50
MAX_EVENT_ID = 2**63 - 1


@router.get("/denials", response_class=HTMLResponse)
async def denials_page(request: Request, session: SessionDep, _: Reader) -> HTMLResponse:
    # Read the event position before the list: a denial landing in between shows in both, and
    # the page drops the repeat, rather than in neither.
    after = await alerts.last_event_id(session=session)
    rows, _next, view = await denials.list_denials(
        session=session, page=PageParams(limit=CLAIMS_PER_PAGE, cursor=None)
    )
    found = await denials.claims_by_id(
        session=session, claim_ids=[r.claim_id for r in rows], view=view
    )
    shown = await present(session=session, sightings=rows, view=view)
    items = [(s, ClaimOut.model_validate(found[s.claim_id])) for s in shown]
    return render(request, "denials.html", {"items": items, "after": after})


@router.get("/denials/stream")
async def denials_stream(
    request: Request,
    _: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_EVENT_ID)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=30)] = None,
) -> StreamingResponse:
    """The alerts event stream, official denials only, for a signed-in browser."""
    if last_event_id and last_event_id.strip().isdigit():
        after = min(int(last_event_id), MAX_EVENT_ID)
    return stream_response(request, after=after, types=[EventType.denial_recorded], claim_id=None)
