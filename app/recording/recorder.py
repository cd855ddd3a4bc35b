"""Recording sightings under the citation rules and the claim lock, one or a batch at a time."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.audit.service import Target
from app.auth.service import Principal
from app.claims import events as claim_events
from app.claims import service as claims
from app.claims.chain_counts import ChainTally
from app.claims.models import Claim
from app.claims.normalize import fingerprint, normalize_statement
from app.claims.projection import sightings_changed
from app.db import insert_or_ignore, lock_names
from app.errors import Invalid
from app.outbox.payloads import EventPayload
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.outlets.schemas import OutletCreate
from app.recording import addresses
from app.recording.citations import (
    FUTURE_TOLERANCE,
    Cited,
    resolve_cited_outlets,
    resolve_cites,
)
from app.recording.schemas import SightingCreate
from app.revisions import Journal, revised_values
from app.sightings import events as sighting_events
from app.sightings import rules
from app.sightings.models import DUPLICATE_KEY, DUPLICATE_KEY_WHERE, Citation, Sighting


def announcements_of(sighting: Sighting, claim: Claim) -> list[outbox.Announcement]:
    """A new sighting's events: recorded (its outlet set), and the official denial it may be."""
    summary = sighting_events.SightingSummary.of(sighting)
    events: list[EventPayload] = [sighting_events.SightingRecorded(sighting=summary)]
    if rules.is_official_denial(sighting):
        events.append(
            claim_events.DenialRecorded(sighting=summary, claim=claim_events.ClaimSummary.of(claim))
        )
    return [outbox.Announcement(event, claim.id, claim.tags) for event in events]


async def announce_denial(
    *, session: AsyncSession, summary: sighting_events.SightingSummary, claim: Claim
) -> None:
    """Announce an official denial; the claim's new status follows in claim.status_changed."""
    event = claim_events.DenialRecorded(sighting=summary, claim=claim_events.ClaimSummary.of(claim))
    await outbox.emit(session=session, event=event, claim_id=claim.id, tags=claim.tags)


@dataclass
class Recorder:
    """Records sightings one after another in one transaction, under the citation rules.

    `POST /v1/sightings` records one and finishes; a batch records many before finishing, which
    is what makes it several times faster: claims and outlets resolved by earlier items are
    remembered, each claim's row is locked once, and its counters and denial status are
    recomputed once in `finish()` instead of after every row, and each sighting's audit entry
    and events are written together there, in the order the sightings were recorded.
    """

    session: AsyncSession
    principal: Principal
    now: datetime
    claims: dict[str, Claim] = field(default_factory=dict)
    claims_by_fingerprint: dict[str, Claim] = field(default_factory=dict)
    outlets: dict[str, Outlet] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)
    counts: ChainTally = field(default_factory=ChainTally)
    journal: Journal = field(default_factory=Journal)
    wordings: dict[str, list[str | None]] = field(default_factory=dict)

    def _known_claim(self, data: SightingCreate) -> Claim | None:
        if data.claim is not None:
            digest = fingerprint(normalize_statement(data.claim.statement))
            return self.claims_by_fingerprint.get(digest)
        return self.claims.get(data.claim_id or "")

    def _known_outlet(self, data: SightingCreate) -> Outlet | None:
        if data.outlet is None:
            return None
        return self.outlets.get(data.outlet if isinstance(data.outlet, str) else data.outlet.slug)

    def creates_something(self, data: SightingCreate) -> bool:
        """Whether recording this item may create a claim or an outlet inline."""
        return (data.claim is not None and self._known_claim(data) is None) or (
            isinstance(data.outlet, OutletCreate) and self._known_outlet(data) is None
        )

    def forget(self) -> None:
        """Drop what was remembered, after a SAVEPOINT was rolled back under it."""
        self.claims.clear()
        self.claims_by_fingerprint.clear()
        self.outlets.clear()
        self.locked.clear()

    async def _claim(self, data: SightingCreate) -> Claim:
        if (data.claim_id is None) == (data.claim is None):
            raise Invalid("send exactly one of claim_id or claim", loc=["claim_id"])
        claim = self._known_claim(data)
        if claim is None:
            if data.claim is not None:
                claim, _ = await claims.get_or_create(
                    session=self.session,
                    data=data.claim,
                    loc=["claim"],
                    actor=self.principal,
                    now=self.now,
                )
            else:
                claim = await claims.get(session=self.session, claim_id=data.claim_id or "")
                if claim is None:
                    raise Invalid(f"no claim with id {data.claim_id!r}", loc=["claim_id"])
            self.claims[claim.id] = claim
            self.claims_by_fingerprint[claim.fingerprint] = claim
        return claim

    async def _outlet(self, data: SightingCreate) -> Outlet:
        if data.outlet is None:
            return await addresses.outlet_from_url(session=self.session, url=data.url)
        outlet = self._known_outlet(data)
        if outlet is None:
            if isinstance(data.outlet, str):
                outlet = await outlets.get_by_slug(session=self.session, slug=data.outlet)
                if outlet is None:
                    raise Invalid(
                        f"no outlet with slug {data.outlet!r}; create it first or send it inline",
                        loc=["outlet"],
                    )
            else:
                outlet = await outlets.get_or_create(
                    session=self.session, data=data.outlet, actor=self.principal, now=self.now
                )
            self.outlets[outlet.slug] = outlet
        return outlet

    async def lock_claims(self, items: Sequence[SightingCreate]) -> None:
        """Lock the existing claims these items name, in id order, before recording any.

        Two batches that took their claims' locks in the order of their items could each wait
        for the other; taking them in one global order up front cannot.
        """
        ids = {item.claim_id for item in items if item.claim_id}
        digests = {
            fingerprint(normalize_statement(item.claim.statement))
            for item in items
            if item.claim is not None
        }
        # Claims and outlets created inline do not exist yet, so no row lock can order their
        # creation: two batches inserting the same new claims in opposite order would each wait
        # on the other's unique-index entry. A named lock per new key, taken in sorted order
        # before anything else, gives them the same single order too.
        await lock_names(
            self.session,
            [f"claim:{digest}" for digest in digests]
            + [
                f"outlet:{item.outlet.slug}"
                for item in items
                if isinstance(item.outlet, OutletCreate)
            ],
        )
        existing = await self.session.scalars(
            select(Claim.id).where(or_(Claim.id.in_(ids), Claim.fingerprint.in_(digests)))
        )
        found = set(existing)
        await claims.lock(session=self.session, claim_ids=found)
        self.locked |= found

    async def record(self, data: SightingCreate) -> str:
        """Record one sighting and return its id; a duplicate raises Conflict."""
        if data.published_at > self.now + FUTURE_TOLERANCE:
            raise Invalid("published_at is in the future", loc=["published_at"])
        claim = await self._claim(data)
        outlet = await self._outlet(data)
        if claim.id not in self.locked:
            # The same row lock the single-sighting service takes, held to the end of the batch.
            await claims.lock(session=self.session, claim_ids={claim.id})
            self.locked.add(claim.id)
        cited: dict[str, Cited] = {}
        if data.cites_outlets:
            cited = await resolve_cited_outlets(
                self.session, data.cites_outlets, claim.id, data.published_at
            )
        if data.cites:
            cited.update(await resolve_cites(self.session, data.cites, data.published_at))
        values: dict[str, Any] = data.model_dump(
            exclude={"claim_id", "claim", "outlet", "cites", "cites_outlets"}
        )
        values |= {
            "claim_id": claim.id,
            "outlet_id": outlet.id,
            "canonical_url": addresses.canonical_of(data.url),
            "recorded_at": self.now,
            "recorded_by": self.principal.name,
            "recorded_by_key_id": self.principal.key_id,
            **revised_values(self.principal, self.now, revision=1),
        }
        new_id = await insert_or_ignore(
            self.session, Sighting, values, DUPLICATE_KEY, where=DUPLICATE_KEY_WHERE
        )
        if new_id is None:
            existing = await addresses.recorded_at(
                session=self.session,
                claim_id=claim.id,
                outlet_id=outlet.id,
                canonical=values["canonical_url"],
            )
            assert existing is not None
            raise addresses.duplicate(existing)
        if cited:
            await self.session.execute(
                insert(Citation),
                [
                    {
                        "citing_id": new_id,
                        "cited_id": cited_id,
                        "basis": end.basis,
                        "valid_from": self.now,
                    }
                    for cited_id, end in cited.items()
                ],
            )
        # Announced from what was just written, rather than read back: a batch pays per row.
        recorded = Sighting(id=new_id, **values)
        recorded.outlet = outlet
        self.touched.add(claim.id)
        # Kept last: an item failing before this point leaves no entry, event, count or wording
        # behind.
        if data.title or data.excerpt:
            self.wordings.setdefault(claim.id, []).extend([data.title, data.excerpt])
        self.journal.created(
            target=Target.sighting,
            record_id=new_id,
            actor=self.principal,
            now=self.now,
            announcements=announcements_of(recorded, claim),
        )
        self.counts.add_sighting(
            claim_id=claim.id,
            outlet_id=outlet.id,
            kind=outlet.kind,
            language=data.language,
            stance=data.stance,
            at=data.published_at,
        )
        for end in cited.values():
            if end.claim_id == claim.id:
                self.counts.add_citation(
                    claim_id=claim.id,
                    source_outlet_id=end.outlet_id,
                    target_outlet_id=outlet.id,
                    at=data.published_at,
                )
        return new_id

    async def finish(self) -> None:
        """Write what was kept for the end and bring every claim this batch touched up to date;
        call before committing."""
        await self.journal.write(self.session)
        await sightings_changed(
            session=self.session,
            claim_ids=self.touched,
            now=self.now,
            tally=self.counts,
            wordings=self.wordings,
        )
        self.wordings = {}
        self.touched.clear()
        self.locked.clear()
