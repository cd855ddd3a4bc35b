from collections.abc import AsyncIterator
from datetime import datetime
from functools import cache, partial
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    inspect,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims.models import Claim
from app.enums import OutletKind, Stance
from app.evidence.service import evidence_document, with_evidence
from app.ledger import CURRENT, LedgerView, as_of
from app.outlets.models import Outlet
from app.outlets.schemas import Outlet as OutletOut
from app.pagination import PageParams, SortKey, paginate
from app.sightings import rules
from app.sightings.models import Citation, Sighting
from app.sightings.presenter import SIGHTING_COLUMNS
from app.sightings.service import with_outlet
from app.streaming import columns_of, encode, raw, stream_dicts, time_order_in

# The outlet's columns its document is made from, read beside each sighting under a prefix.
OUTLET_PREFIX = "outlet__"
OUTLET_COLUMNS = [
    name
    for name in OutletOut.model_fields
    if name in {attr.key for attr in inspect(Outlet).mapper.column_attrs}
]

# The report's lists, in the order it writes them; a sighting's place among them is decided by
# the database (`_entry`), so the lists stream one after the other from one ordered query.
LISTS = ("denials", "confirmations", "fact_checks")


def _entry(view: LedgerView) -> ColumnElement[int | None]:
    """Which list a sighting belongs in (the `rules` predicates, in SQL); NULL for none."""
    sightings, outlets = view[Sighting], view[Outlet]
    official = outlets.kind == OutletKind.official
    return case(
        (and_(official, sightings.stance == Stance.denies), 0),
        (and_(official, sightings.stance == Stance.confirms), 1),
        (or_(sightings.stance == Stance.debunks, outlets.kind == OutletKind.fact_checker), 2),
    )


def _cited(view: LedgerView) -> ColumnElement[str | None]:
    """What each sighting cites, as one string of `id basis` pairs joined by commas."""
    citations = view[Citation]
    pair = type_coerce(citations.cited_id, String) + " " + type_coerce(citations.basis, String)
    return (
        select(func.aggregate_strings(pair, ","))
        .where(citations.citing_id == view[Sighting].id)
        .scalar_subquery()
    )


def _word_statement(dialect: str, view: LedgerView) -> Select[Any]:
    """The claim's (`:claim_id`) official word in the report's order."""
    sightings, outlets = view[Sighting], view[Outlet]
    entry = _entry(view)
    chosen = select(
        *columns_of(sightings, SIGHTING_COLUMNS),
        *(raw(getattr(outlets, name), OUTLET_PREFIX + name) for name in OUTLET_COLUMNS),
        entry.label("entry"),
        _cited(view).label("cited"),
    ).join(outlets, outlets.id == sightings.outlet_id)
    return (
        with_evidence(chosen, sightings)
        .where(sightings.claim_id == bindparam("claim_id"), entry.is_not(None))
        .order_by(entry, *time_order_in(dialect, sightings))
    )


# Built once for today's ledger: constructing the statement costs a read of a small claim as
# much again as running it. A past moment's view is new each time, so its is built anew.
_current_word = cache(partial(_word_statement, view=CURRENT))


def _statement(session: AsyncSession, view: LedgerView) -> Select[Any]:
    dialect = session.get_bind().dialect.name
    return _current_word(dialect) if view is CURRENT else _word_statement(dialect, view)


def _outlet_of(row: dict[str, Any], outlets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The row's outlet as a document, converted the first time the outlet is met: a few
    hundred outlets at most behind tens of thousands of sightings."""
    fields = {name: row.pop(OUTLET_PREFIX + name) for name in OUTLET_COLUMNS}
    outlet = outlets.get(row["outlet_id"])
    if outlet is None:
        shown = OutletOut.model_validate({**fields, "recorded_at": fields["created_at"]})
        outlet = outlets[row["outlet_id"]] = shown.model_dump(mode="json")
    return outlet


def _document(row: dict[str, Any], outlet: dict[str, Any]) -> dict[str, Any]:
    pairs = sorted(tuple(pair.split(" ")) for pair in (row.pop("cited") or "").split(",") if pair)
    del row["outlet_id"]
    row["outlet"] = outlet
    row["evidence"] = evidence_document(row)
    row["cites"] = [cited_id for cited_id, _ in pairs]
    row["citations"] = [{"sighting_id": cited_id, "basis": basis} for cited_id, basis in pairs]
    return row


async def report_document(
    *, session: AsyncSession, claim: Claim, moment: datetime | None = None
) -> AsyncIterator[bytes]:
    """The claim's denial report (as it stood at `moment`) as JSON, written as it is read.

    Its status and counters are the claim's own projection, which every change to its
    sightings keeps current; the sightings behind them stream from one query, so the memory a
    report takes does not grow with how often the claim was denied.
    """
    words = _statement(session, as_of(moment))
    outlets: dict[str, dict[str, Any]] = {}
    yield b'{"claim_id":' + encode(claim.id) + b',"status":' + encode(claim.denial_status)
    first: dict[str, Any] | None = None
    opened, written = -1, 0
    params = {"claim_id": claim.id}
    async for chunk in stream_dicts(session, words, params, at_most=claim.sightings_count):
        parts = []
        for row in chunk:
            entry = row.pop("entry")
            while opened < entry:
                opened += 1
                parts.append(b"]" * (opened > 0) + b',"' + LISTS[opened].encode() + b'":[')
                written = 0
            document = _document(row, _outlet_of(row, outlets))
            if entry == 0 and first is None:
                first = document
            parts.append(b"," * (written > 0) + encode(document))
            written += 1
        yield b"".join(parts)
    closing = []
    while opened < len(LISTS) - 1:
        opened += 1
        closing.append(b"]" * (opened > 0) + b',"' + LISTS[opened].encode() + b'":[')
    after = claim.sightings_after_denial
    lag = rules.lag_seconds(claim.first_seen_at, first["published_at"] if first else None)
    yield (
        b"".join(closing)
        + b'],"first_denial":'
        + encode(first)
        + b',"denial_lag_seconds":'
        + encode(lag)
        + b',"sightings_after_denial":'
        + encode(after)
        + b',"resurfaced":'
        + encode(after > 0)
        + b"}"
    )


async def official_word_preview(
    *, session: AsyncSession, claim: Claim, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The first `limit` sightings of the report's lists, in its order, and how many it has:
    what a page shows of a claim denied more often than anyone reads."""
    words = _statement(session, CURRENT)
    outlets: dict[str, dict[str, Any]] = {}
    params = {"claim_id": claim.id}
    total = await session.scalar(select(func.count()).select_from(words.subquery()), params) or 0
    shown = []
    async for chunk in stream_dicts(session, words.limit(limit), params):
        for row in chunk:
            row.pop("entry")
            shown.append(_document(row, _outlet_of(row, outlets)))
    return shown, total


async def list_denials(
    *,
    session: AsyncSession,
    page: PageParams,
    since: datetime | None = None,
    moment: datetime | None = None,
) -> tuple[list[Any], str | None, LedgerView]:
    """Official denials, newest first; and the view they were read from."""
    view = as_of(moment)
    sightings = view[Sighting]
    statement = with_outlet(view).where(
        view[Outlet].kind == OutletKind.official, sightings.stance == Stance.denies
    )
    if since is not None:
        statement = statement.where(sightings.published_at >= since)
    keys = [
        SortKey(sightings.published_at, descending=True),
        SortKey(sightings.id, descending=True),
    ]
    rows, next_cursor = await paginate(session, statement, keys, page)
    return rows, next_cursor, view


async def claims_by_id(
    *, session: AsyncSession, claim_ids: list[str], view: LedgerView
) -> dict[str, Claim]:
    """These claims as the view holds them, fetched in one query."""
    claims = view[Claim]
    rows = await session.scalars(
        select(claims)
        .where(claims.id.in_(set(claim_ids)))
        .execution_options(populate_existing=True)
    )
    return {claim.id: claim for claim in rows}
