"""Recording sightings under the citation rules, one or a batch at a time, set-based.

`record` checks one sighting against what the database held when the recorder read it and
against the sightings recorded before it, and writes nothing: a sighting that fails leaves no
claim, outlet or row behind. `finish` then writes them all together (app/recording/writing.py).
Locks are taken only there, so two batches of the same claims check side by side and wait for each
other only while they write.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, Text, bindparam, false, func, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.claims import service as claims
from app.claims.models import Claim
from app.claims.normalize import fingerprint, normalize_statement
from app.claims.schemas import ClaimCreate
from app.db import is_retryable, new_id, take_write_turn, utcnow
from app.enums import CitationBasis
from app.errors import Invalid
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.outlets.schemas import OutletCreate
from app.recording import addresses, writing
from app.recording.citations import (
    FUTURE_TOLERANCE,
    Cited,
    checked_cites,
    latest_of_outlet,
    no_earlier_sighting,
)
from app.recording.schemas import SightingCreate
from app.recording.writing import Pending, chunks
from app.revisions import revised_values
from app.sightings.models import Sighting
from app.urls import best_entry, domain_candidates

T = TypeVar("T")
# How often a recording is run again after another writer created what it was about to, or
# after losing a deadlock.
ATTEMPTS = 3


class Known(NamedTuple):
    """A sighting a new one may cite or collide with."""

    published_at: datetime
    claim_id: str
    outlet_id: str


def known_sightings(
    where: Any,
) -> Select[str, str, str, str, datetime, str | None]:
    """The sightings a recorder reads by id or by canonical URL, withdrawn duplicates included.

    Whether a sighting is a withdrawn duplicate is told from its row rather than asked of the
    database: given that condition too, PostgreSQL without fresh statistics read the whole
    partial index of sightings that are not duplicates to find a few URLs, so that every
    recording took longer as the ledger grew.
    """
    return select(
        Sighting.id,
        Sighting.claim_id,
        Sighting.outlet_id,
        Sighting.canonical_url,
        Sighting.published_at,
        Sighting.duplicate_of,
    ).where(where)


def sightings_at(
    dialect: str, canonical_urls: list[str]
) -> Select[str, str, str, str, datetime, str | None]:
    """`known_sightings` at these canonical URLs, each looked up through its index.

    On PostgreSQL one lookup per URL, fenced off (OFFSET 0) so that the planner cannot merge
    them into one join: without statistics it planned an IN list of hundreds of URLs as a scan
    of every sighting, and their join as a sort of every sighting.
    """
    if dialect != "postgresql":
        return known_sightings(Sighting.canonical_url.in_(canonical_urls))
    wanted = (
        func.unnest(bindparam("canonical_urls", canonical_urls, type_=ARRAY(Text)))
        .table_valued("url")
        .render_derived(name="wanted")
    )
    each = known_sightings(Sighting.canonical_url == wanted.c.url).offset(0).lateral("each")
    return select(*each.c).select_from(wanted).join(each, true())


_digests: dict[str, str] = {}


def _digest(data: ClaimCreate) -> str:
    """The statement's fingerprint; a batch asks for the same few statements many times."""
    digest = _digests.get(data.statement)
    if digest is None:
        if len(_digests) >= 10_000:
            _digests.clear()
        digest = _digests[data.statement] = fingerprint(normalize_statement(data.statement))
    return digest


@dataclass
class Recorder:
    """Checks sightings one after another, then writes them together in `finish`."""

    session: AsyncSession
    principal: Principal
    now: datetime
    claim_ids: dict[str, bool] = field(default_factory=dict)
    by_fingerprint: dict[str, str | None] = field(default_factory=dict)
    resolved: set[str] = field(default_factory=set)
    new_claims: dict[str, tuple[str, ClaimCreate]] = field(default_factory=dict)
    outlets: dict[str, Outlet | None] = field(default_factory=dict)
    new_outlets: dict[str, tuple[str, OutletCreate]] = field(default_factory=dict)
    known: dict[str, Known] = field(default_factory=dict)
    places: dict[tuple[str, str, str], str] = field(default_factory=dict)
    read_urls: set[str] = field(default_factory=set)
    # By URL as given: read ahead and checked item by item, each costs a parse of the URL.
    canonical: dict[str, str] = field(default_factory=dict)
    pending: list[Pending] = field(default_factory=list)
    # New claims and outlets may be committed before the sightings (app/recording/writing.py).
    creates_apart: bool = False

    async def read_ahead(self, items: Sequence[SightingCreate]) -> None:
        """Read in a few statements what checking these items will ask of the database."""
        ids = {item.claim_id for item in items if item.claim_id} - self.claim_ids.keys()
        digests = {_digest(item.claim) for item in items if item.claim} - self.by_fingerprint.keys()
        slugs = {
            item.outlet if isinstance(item.outlet, str) else item.outlet.slug
            for item in items
            if item.outlet is not None
        } - self.outlets.keys()
        urls = {self._canonical_of(item.url) for item in items} - self.read_urls
        cited = {cited for item in items for cited in item.cites} - self.known.keys()
        for chunk in chunks(ids):
            found = set(await self.session.scalars(select(Claim.id).where(Claim.id.in_(chunk))))
            self.claim_ids.update((claim_id, claim_id in found) for claim_id in chunk)
        for chunk in chunks(digests):
            self.by_fingerprint.update(dict.fromkeys(chunk))
            rows = await self.session.execute(
                select(Claim.fingerprint, Claim.id).where(Claim.fingerprint.in_(chunk))
            )
            for digest, claim_id in rows:
                self.by_fingerprint[digest] = claim_id
                self.claim_ids[claim_id] = True
        for chunk in chunks(slugs):
            self.outlets.update(dict.fromkeys(chunk))
            for outlet in await self.session.scalars(select(Outlet).where(Outlet.slug.in_(chunk))):
                self.outlets[outlet.slug] = outlet
        for chunk in chunks(urls):
            await self._read_places(chunk)
        for chunk in chunks(cited):
            await self._read_known(known_sightings(Sighting.id.in_(chunk)))

    def _canonical_of(self, url: str) -> str:
        canonical = self.canonical.get(url)
        if canonical is None:
            canonical = self.canonical[url] = addresses.canonical_of(url)
        return canonical

    async def _read_known(
        self, statement: Select[str, str, str, str, datetime, str | None]
    ) -> None:
        rows = await self.session.execute(statement)
        for sighting_id, claim_id, outlet_id, url, published_at, duplicate_of in rows:
            if duplicate_of is not None:
                continue
            self.known[sighting_id] = Known(published_at, claim_id, outlet_id)
            self.places[claim_id, outlet_id, url] = sighting_id

    async def _read_places(self, canonical_urls: Iterable[str]) -> None:
        urls = list(canonical_urls)
        self.read_urls.update(urls)
        dialect = self.session.get_bind().dialect.name
        await self._read_known(sightings_at(dialect, urls))

    async def _claim(self, data: SightingCreate) -> tuple[str, ClaimCreate | None]:
        """The claim's id, and its data when this item would create it."""
        if (data.claim_id is None) == (data.claim is None):
            raise Invalid("send exactly one of claim_id or claim", loc=["claim_id"])
        if data.claim is None:
            claim_id = data.claim_id or ""
            if claim_id not in self.claim_ids:
                self.claim_ids[claim_id] = (
                    await claims.get(session=self.session, claim_id=claim_id) is not None
                )
            if not self.claim_ids[claim_id]:
                raise Invalid(f"no claim with id {claim_id!r}", loc=["claim_id"])
            return claim_id, None
        digest = _digest(data.claim)
        if digest in self.new_claims:
            return self.new_claims[digest][0], None
        if digest not in self.resolved:
            await claims.check_new(session=self.session, data=data.claim, loc=["claim"])
        if digest not in self.by_fingerprint:
            await self.read_ahead([data])
        existing = self.by_fingerprint[digest]
        if existing is not None:
            self.resolved.add(digest)
            return existing, None
        return new_id(), data.claim

    async def _outlet(self, data: SightingCreate) -> tuple[str, str, Any, OutletCreate | None]:
        """The outlet's id, slug and kind, and its data when this item would create it."""
        if data.outlet is None:
            # An outlet this recording creates inline names its domains before it is written.
            candidates = domain_candidates(data.url)
            entries = {
                entry: slug
                for slug, (_, made) in self.new_outlets.items()
                for entry in made.domains
            }
            pending = best_entry(frozenset(entries), candidates)
            if pending is not None:
                outlet_id, made = self.new_outlets[entries[pending]]
                return outlet_id, made.slug, made.kind, None
            found = await addresses.outlet_from_url(session=self.session, url=data.url)
            self.outlets[found.slug] = found
            return found.id, found.slug, found.kind, None
        slug = data.outlet if isinstance(data.outlet, str) else data.outlet.slug
        if slug in self.new_outlets:
            outlet_id, created = self.new_outlets[slug]
            return outlet_id, slug, created.kind, None
        if slug not in self.outlets:
            self.outlets[slug] = await outlets.get_by_slug(session=self.session, slug=slug)
        outlet = self.outlets[slug]
        if outlet is not None:
            return outlet.id, slug, outlet.kind, None
        if isinstance(data.outlet, str):
            raise Invalid(
                f"no outlet with slug {slug!r}; create it first or send it inline", loc=["outlet"]
            )
        return new_id(), slug, data.outlet.kind, data.outlet

    async def _cited_outlets(
        self, slugs: Sequence[str], claim_id: str, published_at: datetime, new_claim: bool
    ) -> dict[str, Cited]:
        """Each named outlet's latest sighting of the claim published at or before this one,
        among those stored and those recorded before it."""
        resolved: dict[str, Cited] = {}
        for index, slug in enumerate(slugs):
            stored = (
                None
                if new_claim
                else await latest_of_outlet(self.session, slug, claim_id, published_at)
            )
            found = stored
            for pending in self.pending:
                values = pending.values
                if (
                    pending.outlet_slug == slug
                    and values["claim_id"] == claim_id
                    and values["published_at"] <= published_at
                    # Recorded now, it comes after any stored sighting published with it.
                    and (found is None or values["published_at"] >= found[2])
                ):
                    found = (values["id"], values["outlet_id"], values["published_at"])
            if found is None:
                raise no_earlier_sighting(slug, index)
            resolved[found[0]] = Cited(CitationBasis.cites_outlet, claim_id, found[1])
        return resolved

    async def _cites(self, ids: Sequence[str], published_at: datetime) -> dict[str, Cited]:
        """The cited sightings, each of which must exist and be published no later than this."""
        unread = [cited_id for cited_id in ids if cited_id not in self.known]
        if unread:
            await self._read_known(known_sightings(Sighting.id.in_(unread)))
        return checked_cites(ids, published_at, self.known)

    async def record(self, data: SightingCreate) -> str:
        """Check one sighting and keep it for `finish`; its id. A duplicate raises Conflict."""
        if data.published_at > self.now + FUTURE_TOLERANCE:
            raise Invalid("published_at is in the future", loc=["published_at"])
        claim_id, new_claim = await self._claim(data)
        outlet_id, slug, kind, new_outlet = await self._outlet(data)
        cited: dict[str, Cited] = {}
        if data.cites_outlets:
            cited = await self._cited_outlets(
                data.cites_outlets, claim_id, data.published_at, new_claim is not None
            )
        if data.cites:
            cited.update(await self._cites(data.cites, data.published_at))
        canonical = self._canonical_of(data.url)
        if canonical not in self.read_urls:
            await self._read_places([canonical])
        existing = self.places.get((claim_id, outlet_id, canonical))
        if existing is not None:
            raise addresses.duplicate(existing)
        # Nothing below can fail: only now is what this item creates remembered.
        if new_claim is not None:
            self.new_claims[_digest(new_claim)] = (claim_id, new_claim)
        if new_outlet is not None:
            self.new_outlets[new_outlet.slug] = (outlet_id, new_outlet)
        sighting_id = new_id()
        values: dict[str, Any] = data.model_dump(
            exclude={"claim_id", "claim", "outlet", "cites", "cites_outlets"}
        )
        values |= {
            "id": sighting_id,
            "claim_id": claim_id,
            "outlet_id": outlet_id,
            "canonical_url": canonical,
            "recorded_at": self.now,
            "recorded_by": self.principal.name,
            "recorded_by_key_id": self.principal.key_id,
            **revised_values(self.principal, self.now, revision=1),
        }
        self.pending.append(Pending(values=values, outlet_slug=slug, cited=cited, kind=kind))
        self.places[claim_id, outlet_id, canonical] = sighting_id
        self.known[sighting_id] = Known(data.published_at, claim_id, outlet_id)
        return sighting_id

    async def finish(self) -> None:
        """Write every sighting recorded and bring their claims up to date; call before
        committing."""
        await writing.write(
            session=self.session,
            principal=self.principal,
            now=self.now,
            checked=writing.Checked(
                pending=self.pending,
                new_claims=self.new_claims,
                new_outlets=self.new_outlets,
                known_outlets=[outlet for outlet in self.outlets.values() if outlet is not None],
                creates_apart=self.creates_apart,
            ),
        )


async def open_transaction(session: AsyncSession) -> None:
    """Make sure the session's transaction is open in the database before any SAVEPOINT.

    The SQLite driver opens its transaction lazily, at the first INSERT, UPDATE or DELETE; a
    SAVEPOINT issued before that becomes the outermost transaction, and releasing it commits,
    which would make an atomic batch store its first items whatever happens later. A write that
    touches no row opens the transaction first (and takes SQLite's one write lock, waiting for
    it rather than failing later when a read's snapshot has been overtaken).
    """
    if session.get_bind().dialect.name == "sqlite":
        await take_write_turn(session)
        await session.execute(update(Claim).where(false()).values(updated_at=utcnow()))


async def recording(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    work: Callable[[Recorder], Awaitable[T]],
    *,
    creates_apart: bool = False,
) -> T:
    """Run `work` with a fresh recorder and finish it, from a savepoint, again when another
    writer stored a sighting it was about to, or it lost a deadlock."""
    await open_transaction(session)
    for attempt in range(1, ATTEMPTS + 1):
        recorder = Recorder(
            session=session, principal=principal, now=now, creates_apart=creates_apart
        )
        try:
            async with session.begin_nested():
                result = await work(recorder)
                await recorder.finish()
            return result
        except (DBAPIError, writing.ClaimsGone) as exc:
            # Another writer stored a sighting this one was about to (a unique key), won a
            # deadlock, or merged away a claim this one had found: what it wrote is read and
            # checked again.
            retry = isinstance(exc, IntegrityError | writing.ClaimsGone) or is_retryable(exc)
            if not retry or attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
