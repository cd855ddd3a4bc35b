"""The outlet network across claims: drawn by the browser, and read as a table without it."""

from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.network import service as network
from app.network.exports import network_json
from app.network.filters import Selection
from app.streaming import respond, stream_dicts
from app.transactions import SessionDep, SnapshotDep
from app.ui.deps import Reader
from app.ui.legend import KIND_LABELS
from app.ui.pages import PageError, render
from app.ui.timeline import KIND_ORDER

router = APIRouter(prefix="/ui", include_in_schema=False)

# The flows a person can read without the drawing: the strongest first.
FLOWS_SHOWN = 100
Day = Annotated[str | None, Query(max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
Tag = Annotated[str | None, Query(max_length=100)]


def _day(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise PageError(422, f"{name} is not a date.") from None


def _selection(tag: str | None, since: str | None, until: str | None) -> Selection:
    first, last = _day(since, "From"), _day(until, "Until")
    if first and last and first > last:
        raise PageError(422, "“From” is after “Until”.")
    return Selection(since=first, until=last, tag=tag or None)


@router.get("/network", response_class=HTMLResponse)
async def network_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    tag: Tag = None,
    since: Day = None,
    until: Day = None,
) -> HTMLResponse:
    selection = _selection(tag, since, until)
    flows: list[dict[str, Any]] = []
    statement = network.edge_statement(selection).limit(FLOWS_SHOWN)
    async for chunk in stream_dicts(session, statement, at_most=FLOWS_SHOWN):
        flows += chunk
    filters = {"tag": tag or "", "since": since or "", "until": until or ""}
    context = {
        "filters": filters,
        "flows": flows,
        "flows_shown": FLOWS_SHOWN,
        "data_url": "/ui/network/data?" + urlencode({k: v for k, v in filters.items() if v}),
        # The drawing takes each kind's colour from this legend, so the two always agree.
        "legend": [(kind.value, KIND_LABELS[kind]) for kind in KIND_ORDER],
    }
    return render(request, "network.html", context)


@router.get("/network/data")
async def network_data(
    session: SnapshotDep,
    _: Reader,
    tag: Tag = None,
    since: Day = None,
    until: Day = None,
) -> Response:
    """The graph the page draws, as the API's JSON, for a signed-in browser."""
    selection = _selection(tag, since, until)
    return await respond(network_json(session, selection, 1), "application/json")
