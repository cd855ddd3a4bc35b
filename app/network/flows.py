"""Keeping `outlet_days` and `outlet_flows` equal to what the claims' sightings say.

Registered with the claims' one entry point for a change of sightings, so that recording,
corrections, moves, withdrawals, merges and a change of an outlet's kind all bring them up to
date in their own transaction, under the claims' row locks. A changed claim's rows are counted
again from its sightings as a whole: which outlet carried it first, and which sightings came
after its first official denial, are facts about the whole claim that one new sighting can
change. When recording is the only change, the rows move by what it added instead
(`increments`), and only a claim whose first sighting or first denial it may have moved is
counted again.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.claims import chain_counts, projection, verdicts
from app.network import increments, totals
from app.network.models import OutletDay, OutletFlow
from app.portable import not_indexed
from app.sightings import rules
from app.sightings.models import Citation, Sighting
from app.streaming import time_order_in

# Claims counted per statement: their ids are bound parameters, well under both engines' limits.
_CLAIMS_PER_STATEMENT = 500


def day_of(dialect: str, moment: Any) -> ColumnElement[Any]:
    """The start of the UTC day of a stored time, as the engine stores a time."""
    if dialect == "postgresql":
        return func.timezone("UTC", func.date_trunc("day", func.timezone("UTC", moment)))
    # SQLite keeps times as naive UTC text with microseconds, which this keeps comparable.
    return func.strftime("%Y-%m-%d 00:00:00.000000", moment)


def _days(dialect: str, claim_ids: list[str]) -> Any:
    first_denial = verdicts.first_denials(claim_ids)
    rank = func.row_number().over(
        partition_by=Sighting.claim_id, order_by=time_order_in(dialect, Sighting)
    )
    ranked = (
        select(
            Sighting.claim_id,
            Sighting.outlet_id,
            day_of(dialect, Sighting.published_at).label("day"),
            Sighting.stance,
            Sighting.published_at,
            rank.label("position"),
        )
        .where(Sighting.claim_id.in_(claim_ids))
        .subquery()
    )
    after = case(
        (
            ranked.c.stance.in_([s.value for s in rules.SPREADING])
            & (ranked.c.published_at > first_denial.c.at),
            1,
        ),
        else_=0,
    )
    return (
        select(
            ranked.c.claim_id,
            ranked.c.outlet_id,
            ranked.c.day,
            ranked.c.stance,
            func.count(),
            func.sum(after),
            func.sum(case((ranked.c.position == 1, 1), else_=0)),
        )
        .select_from(ranked)
        .outerjoin(first_denial, first_denial.c.claim_id == ranked.c.claim_id)
        .group_by(ranked.c.claim_id, ranked.c.outlet_id, ranked.c.day, ranked.c.stance)
    )


def _flows(dialect: str, claim_ids: list[str]) -> Any:
    citing, cited = aliased(Sighting), aliased(Sighting)
    day = day_of(dialect, citing.published_at)
    return (
        select(
            citing.claim_id,
            cited.outlet_id,
            citing.outlet_id,
            day,
            func.count(),
            func.min(citing.published_at),
            func.max(citing.published_at),
        )
        .select_from(citing)
        .join(Citation, Citation.citing_id == citing.id)
        .join(cited, cited.id == Citation.cited_id)
        .where(
            citing.claim_id.in_(claim_ids),
            # Looked up by the citation, not by claim: through the claim's index, every citing
            # sighting would read all of its claim's sightings (hours for 20,000 on SQLite).
            not_indexed(cited.claim_id) == citing.claim_id,
            # An outlet following up its own story is no flow between outlets.
            cited.outlet_id != citing.outlet_id,
        )
        .group_by(citing.claim_id, cited.outlet_id, citing.outlet_id, day)
    )


async def recount(
    session: AsyncSession, claim_ids: Iterable[str], moved: totals.Figures = totals.NO_FIGURES
) -> None:
    """Count the claims' outlet days and flows again from their current sightings, and move
    the outlets' totals by the difference, and by `moved` (what other claims' rows added):
    each total is written once, in key order, whichever way its claims were counted."""
    dialect = session.get_bind().dialect.name
    ordered = sorted(set(claim_ids))
    if not ordered:
        await totals.apply(session, totals.NO_FIGURES, moved)
    for start in range(0, len(ordered), _CLAIMS_PER_STATEMENT):
        chunk = ordered[start : start + _CLAIMS_PER_STATEMENT]
        before = await totals.figures_of(session, chunk)
        for model in (OutletDay, OutletFlow):
            await session.execute(delete(model).where(model.claim_id.in_(chunk)))
        await session.execute(
            insert(OutletDay).from_select(
                [
                    "claim_id",
                    "outlet_id",
                    "day",
                    "stance",
                    "sightings",
                    "after_denial",
                    "carried_first",
                ],
                _days(dialect, chunk),
            )
        )
        await session.execute(
            insert(OutletFlow).from_select(
                [
                    "claim_id",
                    "source_outlet_id",
                    "target_outlet_id",
                    "day",
                    "citations",
                    "first_at",
                    "last_at",
                ],
                _flows(dialect, chunk),
            )
        )
        after = await totals.figures_of(session, chunk)
        await totals.apply(session, before, after.plus(moved) if start == 0 else after)


@projection.on_sightings_changed
async def _sightings_changed(
    *,
    session: AsyncSession,
    claim_ids: frozenset[str],
    now: datetime,
    added: chain_counts.Additions | None,
) -> None:
    if added is None:
        await recount(session, claim_ids)
        return
    whole, moved = await increments.add(session, claim_ids, added)
    await recount(session, whole, moved)
