"""Writing what a recorder checked, all together: new claims and outlets in key order, the
sightings and their citations in one statement each, their audit entries and events, then the
claims' rows locked in id order and their projections once per claim. Two batches of the same
claims insert side by side and wait for each other only while they count.

On PostgreSQL a batch that need not be atomic creates its new claims and outlets in a short
transaction of its own, committed before its sightings are written: another batch telling the
same new claim or outlet then waits for that commit, not for the whole of this batch's (seconds,
for 1,000 items). The words its titles add to the matching index go in the same way, once its
claims are committed. Should the batch then fail as a whole, they stay, as if told on their own:
words only make a claim a candidate, which matching then scores on its recorded wordings.
When the pool cannot lend a connection at once, they are written in the batch's own transaction,
as on SQLite and in an atomic batch: a writer holding one connection never waits for another."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.audit.service import Target
from app.auth.service import Principal
from app.claims import events as claim_events
from app.claims import matching
from app.claims import service as claims
from app.claims.chain_counts import ChainTally
from app.claims.models import Claim
from app.claims.projection import sightings_added, sightings_changed
from app.claims.schemas import ClaimCreate
from app.claims.vectors import SIGHTINGS_READ
from app.db import insert_rows, lends_at_once, table_of
from app.enums import OutletKind
from app.outbox.payloads import EventPayload
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.outlets.schemas import OutletCreate
from app.recording.citations import Cited
from app.revisions import Journal
from app.sightings import events as sighting_events
from app.sightings import rules
from app.sightings.models import Citation, Sighting

# Keys looked up per statement.
KEYS_PER_STATEMENT = 1000
# What writing reads of the claims its sightings are of (`ClaimSummary` and the counter that
# says whether a claim's words are still indexed from its sightings).
_CLAIM_READS = (Claim.id, Claim.statement, Claim.tags, Claim.variant_of, Claim.sightings_count)


def chunks(keys: Iterable[str]) -> list[list[str]]:
    ordered = sorted(keys)
    return [
        ordered[start : start + KEYS_PER_STATEMENT]
        for start in range(0, len(ordered), KEYS_PER_STATEMENT)
    ]


class ClaimsGone(Exception):
    """Claims the recorder found were merged into others before their sightings were written:
    the recording is checked again, where a sighting of such a claim fails as one of a claim
    that does not exist, rather than the whole request."""


@dataclass
class Pending:
    """A checked sighting, not written yet."""

    values: dict[str, Any]
    outlet_slug: str
    cited: dict[str, Cited]
    kind: OutletKind


@dataclass
class Checked:
    """Everything a recorder checked: the sightings, and the claims and outlets they create,
    each under the id the recorder gave it (keyed by fingerprint and by slug)."""

    pending: list[Pending]
    new_claims: dict[str, tuple[str, ClaimCreate]]
    new_outlets: dict[str, tuple[str, OutletCreate]]
    known_outlets: list[Outlet]
    creates_apart: bool = False


def announcements_of(sighting: Any, claim: Any) -> list[outbox.Announcement]:
    """A new sighting's events: recorded (its outlet set), and the official denial it may be;
    from its row, or from the values it was written with and its outlet."""
    summary = sighting_events.SightingSummary.of(sighting)
    events: list[EventPayload] = [sighting_events.SightingRecorded(sighting=summary)]
    if rules.is_official_denial(sighting):
        events.append(
            claim_events.DenialRecorded(sighting=summary, claim=claim_events.ClaimSummary.of(claim))
        )
    return [outbox.Announcement(event, claim.id, claim.tags) for event in events]


@dataclass
class _Writer:
    session: AsyncSession
    principal: Principal
    now: datetime
    checked: Checked

    async def write(self) -> None:
        made_claims, made_outlets, claims_visible = await self._create()
        pending = self.checked.pending
        touched = sorted({item.values["claim_id"] for item in pending})
        loaded = await self._claims(touched, made_claims)
        if len(loaded) < len(touched):
            raise ClaimsGone(", ".join(sorted(set(touched) - loaded.keys())))
        tally, wordings = self._projected(loaded)
        if wordings:
            # Claims shared by concurrent batches gain the same new words: inserted in this
            # transaction, the words would make each batch wait for the other's commit. In
            # one of their own, they wait only for the other's insert.
            await matching.index_many_wordings(
                session=self.session,
                wordings=wordings,
                held={claim_id: [loaded[claim_id].statement] for claim_id in wordings},
                committed_apart=claims_visible and self._may_go_apart(),
            )
        if pending:
            await insert_rows(self.session, table_of(Sighting), [p.values for p in pending])
            citations = [
                {
                    "citing_id": item.values["id"],
                    "cited_id": cited_id,
                    "basis": end.basis,
                    "valid_from": self.now,
                }
                for item in pending
                for cited_id, end in item.cited.items()
            ]
            if citations:
                await insert_rows(self.session, table_of(Citation), citations)
            await self._journal(loaded, made_outlets)
        await sightings_added(session=self.session, tally=tally)
        # The claims' rows are locked only as their counts are refreshed (refresh_claims).
        await sightings_changed(
            session=self.session, claim_ids=touched, now=self.now, added=tally.added
        )

    def _may_go_apart(self) -> bool:
        return (
            self.checked.creates_apart
            and self.session.get_bind().dialect.name == "postgresql"
            and lends_at_once(self.session)
        )

    async def _create(self) -> tuple[dict[str, Claim], dict[str, Outlet], bool]:
        """The claims and outlets the sightings create, created; the sightings pointed at them
        as created (one another writer created first has that writer's id); and whether other
        transactions see every claim the sightings are of already."""
        checked = self.checked
        if (checked.new_claims or checked.new_outlets) and self._may_go_apart():
            async with AsyncSession(
                self.session.bind, expire_on_commit=False, autoflush=False
            ) as apart:
                made_claims, made_outlets = await self._create_in(apart)
                await outbox.commit(apart)
            claims_visible = True
        else:
            made_claims, made_outlets = await self._create_in(self.session)
            claims_visible = not checked.new_claims
        claim_ids = {given: claim.id for given, claim in made_claims.items() if given != claim.id}
        outlet_ids = {given: made.id for given, made in made_outlets.items() if given != made.id}
        for item in self.checked.pending:
            values = item.values
            values["claim_id"] = claim_ids.get(values["claim_id"], values["claim_id"])
            values["outlet_id"] = outlet_ids.get(values["outlet_id"], values["outlet_id"])
            item.cited = {
                cited_id: Cited(
                    end.basis,
                    claim_ids.get(end.claim_id, end.claim_id),
                    outlet_ids.get(end.outlet_id, end.outlet_id),
                )
                for cited_id, end in item.cited.items()
            }
        return made_claims, made_outlets, claims_visible

    async def _create_in(self, session: AsyncSession) -> tuple[dict[str, Claim], dict[str, Outlet]]:
        made_claims = await claims.create_many(
            session=session,
            new=list(self.checked.new_claims.values()),
            actor=self.principal,
            now=self.now,
        )
        made_outlets = await outlets.create_many(
            session=session,
            new=list(self.checked.new_outlets.values()),
            actor=self.principal,
            now=self.now,
        )
        return made_claims, made_outlets

    def _projected(self, claims: dict[str, Any]) -> tuple[ChainTally, dict[str, list[str | None]]]:
        """What the sightings add to their claims' counts, and the wordings they add to the
        matching index by claim.

        A claim's words are indexed from its first sightings only, as its vector and
        `tracer reindex` read them (`vectors.SIGHTINGS_READ`): a claim told a hundred thousand
        times would otherwise hold the words of every title, and each batch of it would write
        them again.
        """
        tally = ChainTally()
        wordings: dict[str, list[str | None]] = {}
        for item in self.checked.pending:
            values = item.values
            claim_id, outlet_id, at = (
                values["claim_id"],
                values["outlet_id"],
                values["published_at"],
            )
            indexed = claims[claim_id].sightings_count < SIGHTINGS_READ
            if indexed and (values["title"] or values["excerpt"]):
                wordings.setdefault(claim_id, []).extend([values["title"], values["excerpt"]])
            tally.add_sighting(
                claim_id=claim_id,
                outlet_id=outlet_id,
                kind=item.kind,
                language=values["language"],
                stance=values["stance"],
                at=at,
            )
            for end in item.cited.values():
                if end.claim_id == claim_id:
                    tally.add_citation(
                        claim_id=claim_id,
                        source_outlet_id=end.outlet_id,
                        target_outlet_id=outlet_id,
                        at=at,
                    )
        return tally, wordings

    async def _claims(self, touched: list[str], made_claims: dict[str, Claim]) -> dict[str, Any]:
        """The claims the sightings are of, as read before this batch counted: what announcing
        and indexing their sightings reads of them.

        Read as rows rather than mapped instances: a batch's hundreds of claims would each be
        built, kept in the session, and told their new counters when they are refreshed, while
        the other writers of these claims wait."""
        loaded: dict[str, Any] = {claim.id: claim for claim in made_claims.values()}
        wanted = [claim_id for claim_id in touched if claim_id not in loaded]
        for chunk in chunks(wanted):
            rows = await self.session.execute(select(*_CLAIM_READS).where(Claim.id.in_(chunk)))
            for claim in rows:
                loaded[claim.id] = claim
        return loaded

    async def _journal(self, loaded: dict[str, Any], made_outlets: dict[str, Outlet]) -> None:
        """Each sighting's audit entry and events, in the order the sightings were recorded."""
        outlets_by_id = {
            outlet.id: outlet for outlet in [*self.checked.known_outlets, *made_outlets.values()]
        }
        journal = Journal()
        for item in self.checked.pending:
            # Announced from what was just written, rather than read back: a batch pays per row,
            # and a mapped instance would cost more than the rest of its events.
            outlet = outlets_by_id[item.values["outlet_id"]]
            recorded = SimpleNamespace(**item.values, outlet=outlet)
            journal.created(
                target=Target.sighting,
                record_id=recorded.id,
                actor=self.principal,
                now=self.now,
                announcements=announcements_of(recorded, loaded[recorded.claim_id]),
            )
        await journal.write(self.session)


async def write(
    *, session: AsyncSession, principal: Principal, now: datetime, checked: Checked
) -> None:
    """Write every checked sighting and bring their claims up to date; call before committing."""
    await _Writer(session=session, principal=principal, now=now, checked=checked).write()
