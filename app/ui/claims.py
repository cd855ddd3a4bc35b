"""The claims list, a claim's page with its timeline, graph and history, and its exports."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)

from app.audit import service as audit
from app.audit.schemas import Revision
from app.audit.service import Target
from app.chains import claimreview
from app.chains.exports import ChainFormat
from app.chains.outline import Outline, outline
from app.chains.responses import chain_response
from app.claims import service as claims
from app.claims.models import Claim
from app.denials import service as denials
from app.enums import DenialStatus
from app.pagination import PageParams
from app.sightings.schemas import Sighting as SightingOut
from app.transactions import SessionDep
from app.ui import graph, legend, timeline
from app.ui.deps import (
    Reader,
)
from app.ui.pages import PageError, render

router = APIRouter(prefix="/ui", include_in_schema=False)

CLAIMS_PER_PAGE = 50
TABLE_ROWS = 200
HISTORY_ROWS = 100
OFFICIAL_WORD_SHOWN = 100


def _status(value: str | None) -> DenialStatus | None:
    if not value:
        return None
    try:
        return DenialStatus(value)
    except ValueError:
        raise PageError(422, f"Unknown status {value!r}.") from None


@router.get("/claims", response_class=HTMLResponse)
async def claims_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    q: Annotated[str | None, Query(max_length=500)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    found, next_cursor = await claims.list_claims(
        session=session,
        page=PageParams(limit=CLAIMS_PER_PAGE, cursor=cursor or None),
        q=q or None,
        status=_status(status),
        tag=tag or None,
    )
    filters = {"q": q or "", "status": status or "", "tag": tag or ""}
    more = urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    context = {"claims": found, "filters": filters, "statuses": list(DenialStatus), "more": more}
    return render(request, "claims.html", context)


async def claim_or_404(session: SessionDep, claim_id: str) -> Claim:
    claim = await claims.get(session=session, claim_id=claim_id)
    if claim is None:
        raise PageError(404, "There is no claim with this id.")
    return claim


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    claim_id: str,
    recorded: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    if (survivor := await claims.merged_into(session=session, claim_id=claim_id)) is not None:
        # A duplicate merged away: its page is the survivor's, as in the API.
        return RedirectResponse(f"/ui/claims/{survivor}", status_code=308)
    claim = await claim_or_404(session, claim_id)
    chain = await outline(
        session=session,
        claim=claim,
        whole_up_to=timeline.MAX_MARKS,
        shown=TABLE_ROWS,
        busiest=graph.MAX_OUTLET_NODES,
        lanes=timeline.MAX_LANES,
    )
    word, word_total = await denials.official_word_preview(
        session=session, claim=claim, limit=OFFICIAL_WORD_SHOWN
    )
    denial = chain.first_denial
    drawing = timeline.draw(chain)
    elements = graph.elements(chain)
    context = {
        "claim": claim,
        "chain": chain,
        "word": [SightingOut.model_validate(s) for s in word],
        "word_total": word_total,
        "svg": drawing.svg,
        "legend": legend.timeline(drawing.drawn),
        "first_mark": _first_mark(chain),
        "graph": elements,
        "graph_legend": legend.graph(
            {n.stance for n in chain.nodes}, by_sighting=elements["level"] == "sighting"
        ),
        "rows": chain.nodes[:TABLE_ROWS],
        "on_path": set(chain.path),
        "denial_at": denial.published_at if denial else None,
        "recorded": recorded,
        "withdrawn": request.query_params.get("withdrawn"),
        "corrected": request.query_params.get("corrected"),
        "merged": request.query_params.get("merged"),
        "history": await history(session, Target.claim, claim.id),
        "formats": ["json", "csv", "graphml", "gexf", "claimreview"],
    }
    return render(request, "claim.html", context)


def _first_mark(chain: Outline) -> dict[str, str] | None:
    """What the details box shows before a mark is chosen: where the main path starts."""
    starts = [n for n in chain.nodes if chain.path and n.id == chain.path[0]] or chain.nodes[:1]
    if not starts:
        return None
    node = starts[0]
    return {
        "id": node.id,
        "label": timeline.mark_label(node),
        "url": node.url,
        "archive_url": node.archive_url or "",
    }


@router.get("/claims/{claim_id}/export/{file_format}")
async def export(
    request: Request, session: SessionDep, _: Reader, claim_id: str, file_format: str
) -> Response:
    claim = await claim_or_404(session, claim_id)
    disposition = {"Content-Disposition": f'attachment; filename="claim-{claim.id}.{file_format}"'}
    if file_format == "claimreview":
        reviews = await claimreview.reviews(session=session, claim=claim)
        return JSONResponse(reviews, media_type="application/ld+json", headers=disposition)
    try:
        chosen = ChainFormat(file_format)
    except ValueError:
        raise PageError(404, f"There is no export format {file_format!r}.") from None
    return chain_response(
        sessionmaker=request.app.state.sessionmaker,
        claim=claim,
        file_format=chosen,
        filename=f"claim-{claim.id}.{file_format}",
    )


async def history(session: SessionDep, target: Target, target_id: str) -> list[Any]:
    rows, _ = await audit.history(
        session=session,
        target_type=target,
        target_id=target_id,
        page=PageParams(limit=HISTORY_ROWS, cursor=None),
    )
    return [Revision.model_validate(r) for r in rows]
