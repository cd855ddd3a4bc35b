"""A claim's flows: how often one outlet's sightings of the claim were cited by another's.

Kept as citations are written, so that a chain of 100,000 sightings has its outlet-to-outlet
flows read from one index range of at most outlets-squared rows, rather than joined from every
one of its citations on each request. Recording only adds citations, so a recorder adds to the
counts (`FlowTally`); a correction, withdrawal or merge can also take some away and recounts the
claims it touched (`recount`). Whoever writes holds the claim's row lock, as for the claim's
other projected fields.

Only citations within one claim are kept. A family of variants, or the chain at a past moment,
is counted from the citations themselves.
"""

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.claims.models import ClaimFlow
from app.db import dialect_insert, not_indexed
from app.sightings.models import Citation, Sighting

# Rows per upsert statement: five parameters each, well under both engines' limits.
_ROWS_PER_STATEMENT = 1000


@dataclass
class FlowTally:
    """Citations recorded in one transaction, counted per claim and outlet pair until written."""

    # (claim, source outlet, target outlet): (citations, when the first citing one was published)
    _counts: dict[tuple[str, str, str], tuple[int, datetime]] = field(default_factory=dict)

    def add(
        self, *, claim_id: str, source_outlet_id: str, target_outlet_id: str, at: datetime
    ) -> None:
        """One citation of a sighting of `source_outlet_id` by one of `target_outlet_id`,
        published `at`, both of the claim."""
        key = (claim_id, source_outlet_id, target_outlet_id)
        citations, first_at = self._counts.get(key, (0, at))
        self._counts[key] = (citations + 1, min(first_at, at))

    async def write(self, session: AsyncSession) -> None:
        """Add what was counted to the claims' flows, and start counting afresh."""
        if not self._counts:
            return
        upsert = dialect_insert(session)(ClaimFlow)
        table = ClaimFlow.__table__.c
        statement = upsert.on_conflict_do_update(
            index_elements=[table.claim_id, table.source_outlet_id, table.target_outlet_id],
            set_={
                "citations": table.citations + upsert.excluded.citations,
                "first_at": case(
                    (upsert.excluded.first_at < table.first_at, upsert.excluded.first_at),
                    else_=table.first_at,
                ),
            },
        )
        # In key order, so two writers of the same claim's rows meet them in the same order.
        rows = [
            {
                "claim_id": claim_id,
                "source_outlet_id": source,
                "target_outlet_id": target,
                "citations": citations,
                "first_at": first_at,
            }
            for (claim_id, source, target), (citations, first_at) in sorted(self._counts.items())
        ]
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            await session.execute(statement, rows[start : start + _ROWS_PER_STATEMENT])
        self._counts.clear()


async def recount(session: AsyncSession, claim_id: str) -> None:
    """Count the claim's flows again from its citations, after some were changed or removed."""
    await session.execute(delete(ClaimFlow).where(ClaimFlow.claim_id == claim_id))
    citing, cited = aliased(Sighting), aliased(Sighting)
    counted = (
        select(
            literal(claim_id),
            cited.outlet_id,
            citing.outlet_id,
            func.count(),
            func.min(citing.published_at),
        )
        .select_from(citing)
        .join(Citation, Citation.citing_id == citing.id)
        .join(cited, cited.id == Citation.cited_id)
        # Driven from the claim's sightings; the cited end is looked up by its key.
        .where(citing.claim_id == claim_id, not_indexed(cited.claim_id) == claim_id)
        .group_by(cited.outlet_id, citing.outlet_id)
    )
    await session.execute(
        insert(ClaimFlow).from_select(
            ["claim_id", "source_outlet_id", "target_outlet_id", "citations", "first_at"],
            counted,
        )
    )
