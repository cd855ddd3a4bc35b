"""Which rows a read sees: the ledger as it stands now, or as it stood at a past moment.

Reads of chains, traces and denial reports select from the entities of a `LedgerView` instead
of naming the models directly. `CURRENT` is the models themselves, the fast path for every read
of today; a view `as_of` a past moment puts in their place aliases over the current and history
tables that hold what was true then, so the same query code answers both.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import Select, Table, select
from sqlalchemy.orm import aliased, contains_eager

from app.claims.models import Claim, claim_versions
from app.db import utcnow
from app.errors import Invalid
from app.outlets.models import Outlet, outlet_versions
from app.schemas import TimestampIn
from app.sightings.models import Citation, Sighting, citation_versions, sighting_versions
from app.versioning import at_moment


@dataclass(frozen=True)
class LedgerView:
    sightings: Any
    citations: Any
    outlets: Any
    claims: Any
    as_of: datetime | None = None


CURRENT = LedgerView(sightings=Sighting, citations=Citation, outlets=Outlet, claims=Claim)


def as_of(moment: datetime | None) -> LedgerView:
    """The ledger as it stood at `moment`; today's when `moment` is None."""
    if moment is None:
        return CURRENT

    def at(model: Any, history: Table) -> Any:
        table = model.__table__
        return aliased(model, at_moment(table, history, moment))

    return LedgerView(
        sightings=at(Sighting, sighting_versions),
        citations=at(Citation, citation_versions),
        outlets=at(Outlet, outlet_versions),
        claims=at(Claim, claim_versions),
        as_of=moment,
    )


def with_outlet(view: LedgerView = CURRENT) -> Select[Any]:
    """Sightings of the view, each with its outlet as the view holds it."""
    return (
        select(view.sightings)
        .join(view.outlets, view.outlets.id == view.sightings.outlet_id)
        .options(contains_eager(view.sightings.outlet.of_type(view.outlets)))
        .execution_options(populate_existing=True)
    )


async def _as_of(
    as_of: Annotated[
        TimestampIn | None,
        Query(
            description="Answer as this request was answered at that moment of recording time "
            "(RFC 3339 with an offset)."
        ),
    ] = None,
) -> datetime | None:
    if as_of is not None and as_of > utcnow():
        raise Invalid("as_of is in the future", loc=["as_of"], source="query")
    return as_of


AsOf = Annotated[datetime | None, Depends(_as_of)]
