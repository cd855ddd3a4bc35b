from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.auth.deps import ReadKey
from app.chains import claimreview, exports, service, spread
from app.chains.documents import Shape
from app.chains.exports import ChainFormat
from app.chains.responses import chain_document, chain_response, trace_response
from app.chains.schemas import Chain, CompactChain, Spread, Trace
from app.chains.service import Direction
from app.chains.spread import BucketSize
from app.claims.deps import ClaimDep, claim_or_redirect
from app.deps import AsOf, HeavyRead
from app.derived.deps import Documents
from app.derived.documents import NOT_MODIFIED
from app.ledger import as_of
from app.sightings import service as sightings
from app.streaming import respond
from app.transactions import SessionDep, SessionmakerDep, SnapshotOnDemand

router = APIRouter(tags=["chains"])


@router.get(
    "/v1/claims/{claim_id}/chain",
    # Each shape answers its own document: outlets embedded, or named by slug and listed once.
    response_model=Chain | CompactChain,
    responses={**exports.RESPONSES, **NOT_MODIFIED},
)
async def get_chain(
    _turn: HeavyRead,
    claim_id: str,
    request: Request,
    snapshot: SnapshotOnDemand,
    documents: Documents,
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
) -> Response:
    """The claim's propagation chain, streamed as it is read."""
    view = as_of(moment)
    if file_format is ChainFormat.json and not include_variants:
        # What dashboards poll: kept by the process until the claim changes.

        async def build() -> AsyncIterator[bytes]:
            session = await snapshot.session()
            claim = await claim_or_redirect(claim_id, request, session, moment)
            async for part in chain_document(session=session, claim=claim, shape=shape, view=view):
                yield part

        return await documents.answer(request, claim_id=claim_id, build=build)
    claim = await claim_or_redirect(claim_id, request, await snapshot.session(), moment)
    return chain_response(
        sessionmaker=sessionmaker,
        claim=claim,
        file_format=file_format,
        shape=shape,
        include_variants=include_variants,
        view=view,
    )


@router.get("/v1/sightings/{sighting_id}/trace", response_model=Trace)
async def trace(
    _turn: HeavyRead,
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
    return trace_response(
        sessionmaker=sessionmaker,
        sighting_id=start.id,
        direction=direction,
        max_depth=max_depth,
        dialect=session.get_bind().dialect.name,
        view=as_of(moment),
    )


@router.get("/v1/claims/{claim_id}/spread", response_model=Spread, responses=NOT_MODIFIED)
async def get_spread(
    _turn: HeavyRead,
    claim_id: str,
    request: Request,
    snapshot: SnapshotOnDemand,
    documents: Documents,
    _: ReadKey,
    moment: AsOf,
    bucket: Annotated[
        BucketSize, Query(description="The timeline's bucket: hour, day or week (UTC).")
    ] = BucketSize.day,
    include_variants: Annotated[
        bool, Query(description="Also summarise claims linked by variant_of.")
    ] = False,
) -> Response:
    """The chain summarised by outlet, outlet-to-outlet flow and time bucket."""

    # Sized by outlets, but outlets squared can be tens of thousands of flows: the body is
    # written as they are read, from one snapshot that stays open until it is sent.
    async def build() -> AsyncIterator[bytes]:
        session = await snapshot.session()
        claim = await claim_or_redirect(claim_id, request, session, moment)
        body = spread.spread_document(
            session=session,
            claim=claim,
            bucket=bucket,
            include_variants=include_variants,
            view=as_of(moment),
        )
        async for part in body:
            yield part

    if include_variants:
        # Other claims' changes would change it too: built anew each time.
        return await respond(build(), "application/json")
    return await documents.answer(request, claim_id=claim_id, build=build)


@router.get(
    "/v1/claims/{claim_id}/claimreview",
    response_class=JSONResponse,
    responses={
        200: {
            "content": {claimreview.LD_JSON: {}},
            "description": "schema.org ClaimReview objects: fact checks in the fact-check form, "
            "official denials with the official body as reviewer and its own word as rating.",
        }
    },
)
async def get_claimreview(
    claim: ClaimDep, session: SessionDep, _: ReadKey, moment: AsOf
) -> JSONResponse:
    """Every fact check and official denial of the claim, as schema.org ClaimReview JSON-LD."""
    reviews = await claimreview.reviews(session=session, claim=claim, view=as_of(moment))
    return JSONResponse(reviews, media_type=claimreview.LD_JSON)
