"""The network's body in each format, read from one snapshot for as long as it is sent."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains import stix
from app.ledger import CURRENT
from app.network import exports
from app.network.exports import NetworkFormat
from app.network.filters import Selection
from app.outlets.models import Outlet

# The network's report has no record of its own to date it by; a fixed date keeps its id and
# its text the same from one export to the next.
NETWORK_PUBLISHED = datetime(2026, 1, 1, tzinfo=UTC)


def _bundle(session: AsyncSession, selection: Selection) -> AsyncIterator[bytes]:
    def members(sightings: Any) -> ColumnElement[bool]:
        conditions = [
            selection.published(sightings.published_at),
            selection.claims(sightings.claim_id),
        ]
        if selection.kinds:
            kinds = select(Outlet.id).where(Outlet.kind.in_(selection.kinds))
            conditions.append(sightings.outlet_id.in_(kinds))
        return and_(*conditions)

    bundle = stix.Bundle(session, CURRENT, members)
    return bundle.write(
        key=f"network:{selection.key}",
        name="Outlets across claims",
        description="Sightings of the claims selected, who published them and whom they cited.",
        published=NETWORK_PUBLISHED,
    )


def network_body(
    session: AsyncSession, selection: Selection, min_citations: int, file_format: NetworkFormat
) -> AsyncIterator[bytes]:
    """The network as `file_format`, written as its rows are read."""
    if file_format is NetworkFormat.stix:
        return _bundle(session, selection)
    writers = {
        NetworkFormat.json: exports.network_json,
        NetworkFormat.gexf: exports.gexf,
        NetworkFormat.graphml: exports.graphml,
    }
    return writers[file_format](session, selection, min_citations)
