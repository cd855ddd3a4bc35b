from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from app.auth.deps import ReadKey
from app.network import service
from app.network.deps import NetworkSelection, RecordSelection
from app.network.exports import MEDIA_TYPES, NetworkFormat
from app.network.responses import network_body
from app.network.schemas import Network, Record
from app.outlets import service as outlets
from app.streaming import respond
from app.transactions import SessionDep, SnapshotDep
from app.validators import Slug

router = APIRouter(tags=["network"])

NETWORK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The outlet graph as JSON, or as a file with `?format=` (`stix`: a "
        "STIX 2.1 bundle of the sightings behind it, see docs/stix.md).",
        "content": {media: {} for media in MEDIA_TYPES.values()},
    }
}


@router.get("/v1/outlets/{slug}/record")
async def outlet_record(
    slug: Slug, session: SessionDep, _: ReadKey, selection: RecordSelection
) -> Record:
    """What the outlet carried across claims: how much, how first, after which denials, from
    and to whom."""
    outlet = await outlets.get_or_404(session=session, slug=slug)
    return await service.record(session=session, outlet=outlet, selection=selection)


@router.get("/v1/network", response_model=Network, responses=NETWORK_RESPONSES)
async def network(
    session: SnapshotDep,
    _: ReadKey,
    selection: NetworkSelection,
    min_citations: Annotated[
        int,
        Query(ge=1, le=1_000_000_000, description="Only flows of at least this many citations."),
    ] = 1,
    file_format: Annotated[
        NetworkFormat, Query(alias="format", description="gexf, graphml or stix for a file.")
    ] = NetworkFormat.json,
) -> Response | StreamingResponse:
    """Outlets across the selected claims, and who took claims from whom, streamed as read."""
    body = network_body(session, selection, min_citations, file_format)
    if file_format is NetworkFormat.json:
        return await respond(body, MEDIA_TYPES[file_format])
    extension = "stix.json" if file_format is NetworkFormat.stix else file_format.value
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="network.{extension}"'},
    )
