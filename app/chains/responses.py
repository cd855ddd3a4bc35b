"""Chains as HTTP answers, streamed: the JSON document or a file, for the API and the pages."""

from collections.abc import AsyncIterator, Callable

from fastapi.responses import StreamingResponse

from app.chains import exports, service
from app.chains.assembly import GraphReader
from app.chains.documents import Shape, chain_json
from app.chains.exports import ChainFormat
from app.claims.schemas import Claim as ClaimOut
from app.ledger import CURRENT, LedgerView
from app.transactions import SessionmakerDep, snapshot

JSON = "application/json"


def streamed(
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


def chain_response(
    *,
    sessionmaker: SessionmakerDep,
    claim: ClaimOut,
    members: service.Members,
    file_format: ChainFormat,
    shape: Shape = Shape.default,
    view: LedgerView = CURRENT,
) -> StreamingResponse:
    """The chain as JSON, or as a GraphML, GEXF or CSV file to download."""
    if file_format is ChainFormat.json:
        body = streamed(sessionmaker, members, lambda r: chain_json(r, claim, shape), view)
        return StreamingResponse(body, media_type=JSON)
    writers = {
        ChainFormat.graphml: lambda r: exports.graphml(r, claim),
        ChainFormat.gexf: lambda r: exports.gexf(r, claim),
        ChainFormat.csv: exports.edges_csv,
    }
    body = streamed(sessionmaker, members, writers[file_format], view)
    name = exports.filename(claim.id, file_format)
    return StreamingResponse(
        body,
        media_type=exports.MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
