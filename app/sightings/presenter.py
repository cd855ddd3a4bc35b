"""Sightings as the API shows them: each with its outlet and the sightings it cites."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger import CURRENT, LedgerView
from app.sightings.models import Citation, Sighting
from app.sightings.schemas import CitationOut
from app.sightings.schemas import Sighting as SightingOut


async def citations_of(
    *, session: AsyncSession, sighting_ids: Sequence[str], view: LedgerView = CURRENT
) -> dict[str, list[Citation]]:
    """The citations each of these sightings makes (as the view holds them), in one query."""
    cited: dict[str, list[Citation]] = {sid: [] for sid in sighting_ids}
    citations = view.citations
    if sighting_ids:
        rows = await session.scalars(
            select(citations)
            .where(citations.citing_id.in_(sighting_ids))
            .order_by(citations.cited_id)
            .execution_options(populate_existing=True)
        )
        for citation in rows:
            cited[citation.citing_id].append(citation)
    return cited


def present_one(sighting: Sighting, citations: Sequence[Citation]) -> SightingOut:
    return SightingOut.model_validate(
        {
            **{c.key: getattr(sighting, c.key) for c in Sighting.__table__.columns},
            "outlet": sighting.outlet,
            "cites": [c.cited_id for c in citations],
            "citations": [CitationOut(sighting_id=c.cited_id, basis=c.basis) for c in citations],
        }
    )


async def present(
    *, session: AsyncSession, sightings: Sequence[Sighting], view: LedgerView = CURRENT
) -> list[SightingOut]:
    """Sightings as the API shows them, with their citations fetched in one query."""
    cited = await citations_of(session=session, sighting_ids=[s.id for s in sightings], view=view)
    return [present_one(s, cited[s.id]) for s in sightings]
