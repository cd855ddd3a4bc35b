"""Streamed chain and trace responses, for the API and for the pages' downloads alike."""

from collections.abc import AsyncIterator, Callable

from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chains import exports, service, stix
from app.chains.assembly import GraphReader
from app.chains.documents import Shape, chain_json, trace_json
from app.chains.exports import ChainFormat
from app.chains.service import Direction
from app.claims.models import Claim
from app.claims.schemas import Claim as ClaimOut
from app.ledger import CURRENT, LedgerView
from app.transactions import snapshot

JSON = "application/json"


def _streamed(
    sessionmaker: async_sessionmaker[AsyncSession],
    members: service.Members,
    write: Callable[[GraphReader], AsyncIterator[bytes]],
    view: LedgerView,
    graph: bool = True,
    citations: bool = True,
    own_rows: bool = False,
    **load: object,
) -> AsyncIterator[bytes]:
    """The body, read in its own snapshot session: the request's session has closed by the time
    a streamed body is sent. Without `graph`, the writer reads its own rows and the edges and
    outlets are not loaded first; without `citations`, nodes come without their citations."""

    async def body() -> AsyncIterator[bytes]:
        async with snapshot(sessionmaker) as session:
            reader = GraphReader(
                session=session,
                members=members,
                view=view,
                citations=citations,
                own_rows=own_rows,
            )
            if graph:
                await reader.load(**load)  # type: ignore[arg-type]
            async for part in write(reader):
                yield part

    return body()


async def _bundle(
    sessionmaker: async_sessionmaker[AsyncSession],
    members: service.Members,
    view: LedgerView,
    claim: ClaimOut,
) -> AsyncIterator[bytes]:
    async with snapshot(sessionmaker) as session:
        bundle = stix.Bundle(session, view, members)
        async for part in bundle.write(
            key=f"chain:{claim.id}",
            name=claim.statement,
            description=claim.summary,
            published=claim.created_at,
        ):
            yield part


async def chain_document(
    *, session: AsyncSession, claim: Claim, shape: Shape, view: LedgerView = CURRENT
) -> AsyncIterator[bytes]:
    """The claim's own chain (no variants) as JSON, read in `session` as it is written."""
    view, members, own_rows = service.claim_chain(view=view, claim_id=claim.id)
    reader = GraphReader(session=session, members=members, view=view, own_rows=own_rows)
    await reader.load()
    async for part in chain_json(reader, ClaimOut.model_validate(claim), shape):
        yield part


def chain_response(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    claim: Claim,
    file_format: ChainFormat = ChainFormat.json,
    shape: Shape = Shape.default,
    include_variants: bool = False,
    view: LedgerView = CURRENT,
    filename: str | None = None,
) -> StreamingResponse:
    """The claim's chain as JSON or as a file, streamed as it is read; a file is named for
    download (`filename`, or the API's own name for it)."""
    view, members, own_rows = service.claim_chain(
        view=view, claim_id=claim.id, include_variants=include_variants
    )
    shown = ClaimOut.model_validate(claim)
    headers = {}
    if filename is not None or file_format is not ChainFormat.json:
        name = filename or exports.filename(claim.id, file_format)
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if file_format is ChainFormat.json:
        body = _streamed(
            sessionmaker,
            members,
            lambda r: chain_json(r, shown, shape),
            view,
            own_rows=own_rows,
        )
        return StreamingResponse(body, media_type=JSON, headers=headers)
    if file_format is ChainFormat.stix:
        return StreamingResponse(
            _bundle(sessionmaker, members, view, shown),
            media_type=exports.MEDIA_TYPES[file_format],
            headers=headers,
        )
    writers: dict[ChainFormat, Callable[[GraphReader], AsyncIterator[bytes]]] = {
        ChainFormat.graphml: lambda r: exports.graphml(r, shown),
        ChainFormat.gexf: lambda r: exports.gexf(r, shown),
        ChainFormat.csv: exports.edges_csv,
    }
    # The CSV is one row per edge read straight from a join: it needs no graph in memory.
    graph = file_format is not ChainFormat.csv
    body = _streamed(
        sessionmaker,
        members,
        writers[file_format],
        view,
        graph,
        citations=False,
        own_rows=own_rows,
    )
    return StreamingResponse(body, media_type=exports.MEDIA_TYPES[file_format], headers=headers)


def trace_response(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    sighting_id: str,
    direction: Direction,
    max_depth: int,
    dialect: str,
    view: LedgerView = CURRENT,
) -> StreamingResponse:
    """Sightings reachable from this one, streamed as they are read."""
    view, members, own_rows = service.trace_view(
        view=view, sighting_id=sighting_id, direction=direction, dialect=dialect
    )
    body = _streamed(
        sessionmaker,
        members,
        trace_json,
        view,
        own_rows=own_rows,
        trace_from=sighting_id,
        direction=direction,
        max_depth=max_depth,
    )
    return StreamingResponse(body, media_type=JSON)
