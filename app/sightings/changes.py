"""The row-level changes that corrections of sightings are made of, each archived first.

Recording's corrections and a claim's merge are built from these. Nothing here checks a rule
of recording or brings a claim's projection up to date: their callers do, once for everything
they changed.
"""

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Action, Actor, Target
from app.enums import CitationBasis
from app.outbox import Announcement
from app.revisions import retire
from app.sightings.events import SightingWithdrawn
from app.sightings.models import (
    Citation,
    Sighting,
    Withdrawal,
    citation_versions,
    sighting_versions,
)
from app.versioning import archive


async def citations_of(session: AsyncSession, sighting_id: str) -> dict[str, CitationBasis]:
    """What a sighting cites, by the cited sighting's id."""
    rows = await session.execute(
        select(Citation.cited_id, Citation.basis).where(Citation.citing_id == sighting_id)
    )
    return {cited_id: basis for cited_id, basis in rows}


async def replace_citations(
    session: AsyncSession, citing_id: str, cited: dict[str, CitationBasis], now: datetime
) -> None:
    """Make a sighting cite exactly `cited`; the citations it had go to history."""
    where = Citation.citing_id == citing_id
    await archive(session, Citation, citation_versions, where, now)
    await session.execute(delete(Citation).where(where))
    if cited:
        await session.execute(
            insert(Citation),
            [
                {"citing_id": citing_id, "cited_id": k, "basis": v, "valid_from": now}
                for k, v in cited.items()
            ],
        )


async def withdraw(
    session: AsyncSession, sighting: Sighting, *, actor: Actor, reason: str, now: datetime
) -> int:
    """Take a sighting out of the current ledger into history; returns its final revision."""
    await replace_citations(session, sighting.id, {}, now)
    session.add(
        Withdrawal(
            sighting_id=sighting.id,
            claim_id=sighting.claim_id,
            withdrawn_at=now,
            withdrawn_by=actor.name,
            withdrawn_by_key_id=actor.key_id,
            reason=reason,
        )
    )

    def announce(withdrawn: Sighting) -> list[Announcement]:
        event = SightingWithdrawn(
            sighting_id=withdrawn.id,
            claim_id=withdrawn.claim_id,
            revision=withdrawn.revision + 1,
            reason=reason,
            changes={},
            withdrawn_at=now,
            withdrawn_by=actor.name,
        )
        return [Announcement(event, withdrawn.claim_id)]

    return await retire(
        session,
        sighting,
        sighting_versions,
        actor=actor,
        now=now,
        target=Target.sighting,
        action=Action.withdrawn,
        reason=reason,
        announce=announce,
    )
