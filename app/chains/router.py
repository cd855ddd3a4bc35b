from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.auth.deps import ReadKey
from app.chains import exports, service, spread
from app.chains.assembly import GraphReader
from app.chains.documents import Shape, chain_json, trace_json
from app.chains.exports import ChainFormat
from app.chains.schemas import Chain, Spread, Trace
from app.chains.service import Direction
from app.chains.spread import BucketSize
from app.claims.deps import ClaimDep
from app.claims.schemas import Claim as ClaimOut
from app.ledger import CURRENT, AsOf, LedgerView, as_of
from app.sightings import service as sightings
from app.transactions import SessionDep, SessionmakerDep, snapshot

router = APIRouter(tags=["chains"])

JSON = "application/json"


def _streamed(
    sessionmaker: SessionmakerDep,
    members: service.Members,
    write: Callable[[GraphReader], AsyncIterator[bytes]],
    view: LedgerView = CURRENT,
    **load: object,
) -> AsyncIterator[bytes]:
    """The body, read in its own snapshot session: the request's session has closed by the time
    a streamed body is sent."""

    async def body() -> AsyncIterator[bytes]:
        async with snapshot(sessionmaker) as session:
            reader = GraphReader(session=session, members=members, view=view)
            await reader.load(**load)  # type: ignore[arg-type]
            async for part in write(reader):
                yield part

    return body()


@router.get(
    "/v1/claims/{claim_id}/chain",
    response_model=Chain,
    responses=exports.RESPONSES,
)
async def get_chain(
    claim: ClaimDep,
    sessionmaker: SessionmakerDep,
    _: ReadKey,
    moment: AsOf,
    include_variants: Annotated[
        bool, Query(description="Also walk claims linked by variant_of.")
    ] = False,
    file_format: Annotated[
        ChainFormat,
        Query(alias="format", description="graphml, gexf or csv (one row per edge) for a file."),
    ] = ChainFormat.json,
    shape: Annotated[
        Shape,
        Query(description="`compact`: nodes name their outlet by slug; `outlets` lists each once."),
    ] = Shape.default,
) -> StreamingResponse:
    """The claim's propagation chain, streamed as it is read."""
    view = as_of(moment)
    members = service.chain_members(view=view, claim_id=claim.id, include_variants=include_variants)
    shown = ClaimOut.model_validate(claim)
    if file_format is ChainFormat.json:
        body = _streamed(sessionmaker, members, lambda r: chain_json(r, shown, shape), view)
        return StreamingResponse(body, media_type=JSON)
    writers = {
        ChainFormat.graphml: lambda r: exports.graphml(r, shown),
        ChainFormat.gexf: lambda r: exports.gexf(r, shown),
        ChainFormat.csv: exports.edges_csv,
    }
    body = _streamed(sessionmaker, members, writers[file_format], view)
    name = exports.filename(claim.id, file_format)
    return StreamingResponse(
        body,
        media_type=exports.MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/v1/sightings/{sighting_id}/trace", response_model=Trace)
async def trace(
    sighting_id: str,
    session: SessionDep,
    sessionmaker: SessionmakerDep,
    _: ReadKey,
    moment: AsOf,
    direction: Direction = Direction.upstream,
    max_depth: Annotated[int, Query(ge=1, le=service.MAX_TRACE_DEPTH)] = 100,
) -> StreamingResponse:
    """Sightings reachable from this one, streamed as they are read."""
    start = await sightings.get_or_404(session=session, sighting_id=sighting_id, moment=moment)
    view = as_of(moment)
    members = service.trace_members(view=view, sighting_id=start.id, direction=direction)
    body = _streamed(
        sessionmaker,
        members,
        trace_json,
        view,
        trace_from=start.id,
        direction=direction,
        max_depth=max_depth,
    )
    return StreamingResponse(body, media_type=JSON)


@router.get("/v1/claims/{claim_id}/spread")
async def get_spread(
    claim: ClaimDep,
    session: SessionDep,
    _: ReadKey,
    moment: AsOf,
    bucket: Annotated[
        BucketSize, Query(description="The timeline's bucket: hour, day or week (UTC).")
    ] = BucketSize.day,
) -> Spread:
    """The chain summarised by outlet, outlet-to-outlet flow and time bucket."""
    return await spread.spread(session=session, claim=claim, bucket=bucket, view=as_of(moment))
