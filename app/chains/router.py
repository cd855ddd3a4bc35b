from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.deps import ReadKey
from app.chains import exports, service
from app.chains.assembly import build_chain, build_trace
from app.chains.exports import ChainFormat
from app.chains.schemas import Chain, Trace
from app.chains.service import Direction
from app.claims.deps import ClaimDep
from app.ledger import AsOf, as_of
from app.sightings import service as sightings
from app.transactions import SessionDep

router = APIRouter(tags=["chains"])


@router.get("/v1/claims/{claim_id}/chain", response_model=Chain, responses=exports.RESPONSES)
async def get_chain(
    claim: ClaimDep,
    session: SessionDep,
    _: ReadKey,
    moment: AsOf,
    include_variants: Annotated[
        bool, Query(description="Also walk claims linked by variant_of.")
    ] = False,
    file_format: Annotated[
        ChainFormat,
        Query(alias="format", description="graphml, gexf or csv (one row per edge) for a file."),
    ] = ChainFormat.json,
) -> Chain | Response:
    graph = await service.chain_graph(
        session=session, claim_id=claim.id, include_variants=include_variants, view=as_of(moment)
    )
    chain = build_chain(claim, graph)
    if file_format is ChainFormat.json:
        return chain
    return exports.as_file(chain, file_format)


@router.get("/v1/sightings/{sighting_id}/trace")
async def trace(
    sighting_id: str,
    session: SessionDep,
    _: ReadKey,
    moment: AsOf,
    direction: Direction = Direction.upstream,
    max_depth: Annotated[int, Query(ge=1, le=service.MAX_TRACE_DEPTH)] = 100,
) -> Trace:
    start = await sightings.get_or_404(session=session, sighting_id=sighting_id, moment=moment)
    graph = await service.trace_graph(
        session=session,
        sighting_id=start.id,
        direction=direction,
        max_depth=max_depth,
        view=as_of(moment),
    )
    return build_trace(graph)
