"""Sightings as the API shows them: each with its outlet and the sightings it cites, and
whatever higher floors add to every sighting (its evidence) through `shown_with`."""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Select, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import CitationBasis
from app.ledger import CURRENT, LedgerView
from app.outlets.schemas import Outlet as OutletOut
from app.sightings.models import Citation, Sighting
from app.sightings.schemas import CitationOut
from app.sightings.schemas import Sighting as SightingOut

# The schema's fields in the schema's order, so sightings written straight from rows read
# exactly as the schema would serialise them, and a field added to it is written too.
SIGHTING_FIELDS = list(SightingOut.model_fields)
# The columns a sighting's document is written from: its fields that are columns, and the
# outlet's id, which becomes its `outlet`.
SIGHTING_COLUMNS = [*SIGHTING_FIELDS, "outlet_id"]


class Addition(Protocol):
    """Loads one added field for many sightings at once: {sighting id: value}."""

    async def __call__(
        self, *, session: AsyncSession, sighting_ids: Sequence[str] | Select[Any]
    ) -> Mapping[str, Any]: ...


_additions: dict[str, Addition] = {}


def shown_with(field: str, load: Addition) -> None:
    """Every sighting shown carries `field`, loaded by `load` for a page at a time; a sighting
    it gives nothing for keeps the schema's default."""
    _additions[field] = load


async def additions(
    *, session: AsyncSession, sighting_ids: Sequence[str] | Select[Any]
) -> dict[str, Mapping[str, Any]]:
    """Each added field, {field: {sighting id: value}}, one query per field."""
    return {
        field: await load(session=session, sighting_ids=sighting_ids)
        for field, load in _additions.items()
    }


class Cited(Protocol):
    """What a sighting's presentation reads of each citation it makes."""

    cited_id: str
    basis: CitationBasis


async def citations_of(
    *,
    session: AsyncSession,
    sighting_ids: Sequence[str] | Select[Any],
    view: LedgerView = CURRENT,
) -> dict[str, list[Cited]]:
    """The citations each of these sightings makes, in one query.

    A page passes its few ids; anything that can grow with the data passes the statement that
    selects the ids, so the query carries a subquery instead of one parameter per sighting.
    """
    cited: dict[str, list[Cited]] = {}
    if isinstance(sighting_ids, Sequence):
        cited = {sid: [] for sid in sighting_ids}
        if not sighting_ids:
            return cited
    citations = view[Citation]
    # Plain rows through the session's connection, without the ORM's per-row work: a report
    # may present tens of thousands.
    connection = await session.connection()
    rows = await connection.execute(
        select(citations.citing_id, citations.cited_id, citations.basis)
        .where(citations.citing_id.in_(sighting_ids))
        .order_by(citations.citing_id, citations.cited_id)
    )
    for citation in rows:
        cited.setdefault(citation.citing_id, []).append(citation)
    return cited


def present_one(
    sighting: Sighting,
    citations: Sequence[Cited],
    outlet: OutletOut | None = None,
    added: Mapping[str, Mapping[str, Any]] | None = None,
) -> SightingOut:
    """One sighting; `outlet`, its outlet already validated, when many share it; `added`, the
    fields higher floors add, as `additions` loads them."""
    # Every mapped column, so columns added to the model reach the response without edits here.
    columns = inspect(sighting).mapper.column_attrs
    extra = {
        field: values[sighting.id]
        for field, values in (added or {}).items()
        if sighting.id in values
    }
    return SightingOut.model_validate(
        {
            **{c.key: getattr(sighting, c.key) for c in columns},
            "outlet": outlet or sighting.outlet,
            "cites": [c.cited_id for c in citations],
            "citations": [CitationOut(sighting_id=c.cited_id, basis=c.basis) for c in citations],
            **extra,
        }
    )


async def present(
    *,
    session: AsyncSession,
    sightings: Sequence[Sighting],
    ids: Select[Any] | None = None,
    view: LedgerView = CURRENT,
) -> list[SightingOut]:
    """Sightings as the API shows them, with their citations fetched in one query; `ids`, the
    statement that selected them, when there may be more than a page of them."""
    selected = ids if ids is not None else [s.id for s in sightings]
    cited = await citations_of(session=session, sighting_ids=selected, view=view)
    added = await additions(session=session, sighting_ids=selected) if sightings else {}
    outlets: dict[str, OutletOut] = {}
    for s in sightings:
        if s.outlet_id not in outlets:
            outlets[s.outlet_id] = OutletOut.model_validate(s.outlet)
    return [present_one(s, cited.get(s.id, []), outlets[s.outlet_id], added) for s in sightings]
