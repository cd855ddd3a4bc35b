"""A chain as a file: GraphML and GEXF for Gephi, Cytoscape and networkx; CSV for spreadsheets.

Each is written as the rows are read, element by element, in the layout networkx itself writes
(and reads back): building a whole networkx graph first would hold every sighting in memory.
"""

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from app.chains import service
from app.chains.assembly import GraphReader
from app.claims.schemas import Claim as ClaimOut
from app.outlets.schemas import Outlet as OutletOut
from app.schemas import utc_z
from app.sightings.rules import lag_seconds
from app.streaming import CHUNK_ROWS, stream_rows


class ChainFormat(StrEnum):
    json = "json"
    graphml = "graphml"
    gexf = "gexf"
    csv = "csv"
    stix = "stix"


MEDIA_TYPES = {
    ChainFormat.graphml: "application/graphml+xml",
    ChainFormat.gexf: "application/gexf+xml",
    ChainFormat.csv: "text/csv; charset=utf-8",
    ChainFormat.stix: "application/stix+json;version=2.1",
}

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The chain as JSON (`?shape=compact` lists each outlet once), "
        "or as a file with `?format=` (`stix`: a STIX 2.1 bundle, see docs/stix.md).",
        "content": {media: {} for media in MEDIA_TYPES.values()},
    }
}

NODE_ATTRIBUTES = [
    "label",
    "outlet",
    "kind",
    "country",
    "language",
    "stance",
    "published_at",
    "published_at_precision",
    "url",
    "claim_id",
]
EDGE_ATTRIBUTES = [("basis", "string"), ("lag_seconds", "long")]
GRAPH_ATTRIBUTES = ["claim_id", "claim", "denial_status"]

CSV_SIDE = ["id", "outlet", "outlet_name", "kind", "country", "stance", "published_at"]
# How precisely each end's date is known sits beside the date it qualifies.
CSV_SIDE += ["published_at_precision", "url"]
CSV_COLUMNS = [
    *(f"from_{name}" for name in CSV_SIDE),
    *(f"to_{name}" for name in CSV_SIDE),
    "basis",
    "lag_seconds",
]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); a leading
# apostrophe makes it text, as OWASP recommends.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 cannot carry at all, even escaped.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def filename(claim_id: str, file_format: ChainFormat) -> str:
    return f"chain-{claim_id}.{file_format.value}"


def _text(value: Any) -> str:
    return XML_FORBIDDEN.sub("", str(value))


# Node attributes that are free text, written escaped; the others are ids, slugs, codes, enum
# values and times, which hold no character XML would need escaped or could not carry.
_FREE_TEXT = {"label", "url"}


def _node_attributes(
    node: dict[str, Any], outlet: OutletOut, free_text: Callable[[str], str], plain: str
) -> list[str]:
    """The node's attribute values, in NODE_ATTRIBUTES order: free text through `free_text`,
    the rest formatted by `plain` (`"{}"` for element text, `'"{}"'` for an attribute)."""
    # GraphML and GEXF have no null, so a missing value is an empty string of the same type.
    values = {
        "label": outlet.name,
        "outlet": outlet.slug,
        "kind": outlet.kind,
        "country": outlet.country or "",
        "language": node["language"] or outlet.language or "",
        "stance": node["stance"],
        "published_at": utc_z(node["published_at"]),
        "published_at_precision": node["published_at_precision"],
        "url": node["url"],
        "claim_id": node["claim_id"],
    }
    return [
        free_text(_text(values[name])) if name in _FREE_TEXT else plain.format(values[name])
        for name in NODE_ATTRIBUTES
    ]


def _lags(reader: GraphReader) -> Iterable[tuple[str, str, str, int]]:
    published: dict[str, datetime] = dict(
        zip(reader.outline.ids, reader.outline.published, strict=True)
    )
    for cited, citing, basis in reader.edges():
        yield cited, citing, basis, lag_seconds(published[cited], published[citing]) or 0


def _in_chunks(lines: Iterable[str]) -> Iterator[bytes]:
    """Lines of markup joined and encoded a chunk at a time, never all at once."""
    while chunk := list(islice(lines, CHUNK_ROWS)):
        yield "".join(chunk).encode()


async def graphml(reader: GraphReader, claim: ClaimOut) -> AsyncIterator[bytes]:
    """GraphML with typed keys for the graph, node and edge attributes."""
    keys = [
        *((f"g{i}", "graph", name, "string") for i, name in enumerate(GRAPH_ATTRIBUTES)),
        *((f"n{i}", "node", name, "string") for i, name in enumerate(NODE_ATTRIBUTES)),
        *((f"e{i}", "edge", name, kind) for i, (name, kind) in enumerate(EDGE_ATTRIBUTES)),
    ]
    head = [
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n',
        *(
            f'<key id="{key}" for="{target}" attr.name="{name}" attr.type="{kind}"/>\n'
            for key, target, name, kind in keys
        ),
        '<graph edgedefault="directed">\n',
    ]
    graph_values = [claim.id, claim.statement, claim.denial_status.value]
    head += [f'<data key="g{i}">{escape(_text(v))}</data>\n' for i, v in enumerate(graph_values)]
    yield "".join(head).encode()
    async for chunk in reader.nodes():
        parts = []
        for node in chunk:
            values = _node_attributes(node, reader.outlets[node["outlet_id"]], escape, "{}")
            parts.append(f'<node id="{node["id"]}">')
            parts += [f'<data key="n{i}">{v}</data>' for i, v in enumerate(values)]
            parts.append("</node>\n")
        yield "".join(parts).encode()
    edges = (
        f'<edge source="{cited}" target="{citing}">'
        f'<data key="e0">{basis}</data><data key="e1">{lag}</data></edge>\n'
        for cited, citing, basis, lag in _lags(reader)
    )
    for part in _in_chunks(edges):
        yield part
    yield b"</graph>\n</graphml>\n"


async def gexf(reader: GraphReader, claim: ClaimOut) -> AsyncIterator[bytes]:
    """GEXF 1.2 with static node and edge attributes; the outlet's name is each node's label."""
    node_attributes = NODE_ATTRIBUTES[1:]
    head = [
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<gexf xmlns="http://www.gexf.net/1.2draft" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.gexf.net/1.2draft '
        'http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">\n'
        f"<meta><creator>Tracer</creator><description>{escape(_text(claim.statement))}"
        "</description></meta>\n"
        '<graph defaultedgetype="directed" mode="static">\n'
        '<attributes class="node" mode="static">\n',
        *(
            f'<attribute id="n{i}" title="{name}" type="string"/>\n'
            for i, name in enumerate(node_attributes)
        ),
        '</attributes>\n<attributes class="edge" mode="static">\n',
        *(
            f'<attribute id="e{i}" title="{name}" type="{kind}"/>\n'
            for i, (name, kind) in enumerate(EDGE_ATTRIBUTES)
        ),
        "</attributes>\n<nodes>\n",
    ]
    yield "".join(head).encode()
    async for chunk in reader.nodes():
        parts = []
        for node in chunk:
            outlet = reader.outlets[node["outlet_id"]]
            label, *values = _node_attributes(node, outlet, quoteattr, '"{}"')
            parts.append(f'<node id="{node["id"]}" label={label}><attvalues>')
            parts += [f'<attvalue for="n{i}" value={v}/>' for i, v in enumerate(values)]
            parts.append("</attvalues></node>\n")
        yield "".join(parts).encode()
    yield b"</nodes>\n<edges>\n"
    edges = (
        f'<edge id="{number}" source="{cited}" target="{citing}">'
        f'<attvalues><attvalue for="e0" value="{basis}"/>'
        f'<attvalue for="e1" value="{lag}"/></attvalues></edge>\n'
        for number, (cited, citing, basis, lag) in enumerate(_lags(reader))
    )
    for part in _in_chunks(edges):
        yield part
    yield b"</edges>\n</graph>\n</gexf>\n"


def neutralised(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


# The columns of one end of an edge, in the CSV's order, as `edge_rows_statement` names them.
_CSV_SIDE_COLUMNS = ["id", "outlet_slug", "outlet_name", "outlet_kind", "outlet_country"]
_CSV_SIDE_COLUMNS += ["stance", "published_at", "published_at_precision", "url"]
_CHANGED = ("outlet_name", "outlet_country", "published_at", "url")


async def edges_csv(reader: GraphReader) -> AsyncIterator[bytes]:
    """One row per edge, with both ends' outlets and times, read straight from one join.

    Rows come in the CSV's column order and are patched in place: at 200,000 edges, looking
    cells up by name and checking every one against formulas was most of the work.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    statement = service.edge_rows_statement(
        reader.session,
        reader.view,
        reader.members,
        _CSV_SIDE_COLUMNS,
    )
    # Positions in a row of the cells that need more than copying, at both ends.
    width = len(_CSV_SIDE_COLUMNS)
    names, countries, published, urls = (
        (at, width + at) for at in map(_CSV_SIDE_COLUMNS.index, _CHANGED)
    )
    async for chunk in stream_rows(reader.session, statement):
        for row in chunk:
            cells = list(row)
            lag = lag_seconds(cells[published[0]], cells[published[1]]) or 0
            for position in names:
                cells[position] = neutralised(cells[position])
            for position in urls:
                cells[position] = neutralised(cells[position])
            for position in countries:
                cells[position] = cells[position] or ""
            for position in published:
                cells[position] = utc_z(cells[position])
            cells.append(lag)
            writer.writerow(cells)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
