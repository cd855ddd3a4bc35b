"""A chain or trace read in one pass: edges and outlets first, then the sightings as a stream.

What the main path and metrics need is kept as compact per-sighting lists while the sightings
go by, so a document can be written as it is read, and memory follows the number of sightings
only through a few small values each, never through whole rows.
"""

from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from operator import itemgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.chains import service
from app.chains.paths import main_path
from app.chains.schemas import Hop, Metrics
from app.chains.service import Direction, Members
from app.enums import OutletKind, Stance
from app.evidence.service import evidence_document
from app.ledger import CURRENT, LedgerView
from app.outlets.schemas import Outlet as OutletOut
from app.sightings.rules import SPREADING, lag_seconds
from app.streaming import stream_dicts, stream_rows

# The basis as read, a plain string equal to its `CitationBasis`.
Cited = tuple[str, str]


@dataclass
class Summary:
    origins: list[str]
    path: list[str]
    hops: list[Hop]
    metrics: Metrics


@dataclass
class _Outline:
    """Per sighting, in time order, only what the path and the metrics read."""

    ids: list[str] = field(default_factory=list)
    published: list[datetime] = field(default_factory=list)
    outlet_ids: list[str] = field(default_factory=list)
    stances: list[str] = field(default_factory=list)
    languages: list[str | None] = field(default_factory=list)


def _within_depth(
    cites: dict[str, list[Cited]], start: str, direction: Direction, max_depth: int | None
) -> set[str]:
    neighbours: dict[str, list[str]] = {}
    for citing, cited in cites.items():
        for cited_id, _ in cited:
            if direction is Direction.upstream:
                neighbours.setdefault(citing, []).append(cited_id)
            else:
                neighbours.setdefault(cited_id, []).append(citing)
    depth = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if depth[current] == max_depth:
            continue
        for nxt in neighbours.get(current, ()):
            if nxt not in depth:
                depth[nxt] = depth[current] + 1
                queue.append(nxt)
    return set(depth)


class GraphReader:
    """One chain or trace, read through one session (which must stay open while it streams)."""

    def __init__(
        self,
        *,
        session: AsyncSession,
        members: Members,
        view: LedgerView = CURRENT,
        outline_only: bool = False,
        citations: bool = True,
        own_rows: bool = False,
    ) -> None:
        self.outline_only = outline_only
        # The view holds the chain's own rows alone (`service.ChainView`): its citations are
        # few enough to read whole and keep those between members here. Joined to the members
        # by the database, each end a union of the live and history rows, they are planned
        # badly without fresh statistics: 15 s and more on a chain of 20,000 sightings.
        self.own_rows = own_rows
        # Whether each node carries its `cites` and `citations` (files list edges apart).
        self.citations = citations
        self.session = session
        self.view = view
        self.members = members
        self.cites: dict[str, list[Cited]] = {}
        self.outlets: dict[str, OutletOut] = {}
        self.outline = _Outline()
        self.included: set[str] | None = None

    async def load(
        self,
        *,
        trace_from: str | None = None,
        direction: Direction = Direction.upstream,
        max_depth: int | None = service.MAX_TRACE_DEPTH,
        cited_members: Members | None = None,
    ) -> None:
        """Read the edges and outlets.

        For a walk from `trace_from`, the members are what the walk reached (at any depth);
        the edges leaving them are dropped here, and so is what lies beyond `max_depth`.
        """
        # Ids repeat across edges; one string object per id keeps the index small.
        canonical: dict[str, str] = {}
        same_id = canonical.setdefault
        cites = self.cites
        member_ids: set[str] | None = None
        if self.own_rows and cited_members is None:
            if trace_from is None:
                statement = service.member_ids_statement(self.view, self.members)
                member_ids = set(await self.session.scalars(statement))
            # A walk's edges need only start at a member, as below.
            edges = service.own_citations_statement(self.view)
        else:
            edges = service.edges_statement(
                self.view, self.members, cited_members, walk=trace_from is not None
            )
        async for chunk in stream_rows(self.session, edges):
            for citing_id, cited_id, basis in chunk:
                if member_ids is not None and (
                    citing_id not in member_ids or cited_id not in member_ids
                ):
                    continue
                cited = cites.get(citing_id)
                if cited is None:
                    cites[same_id(citing_id, citing_id)] = [(same_id(cited_id, cited_id), basis)]
                else:
                    cited.append((same_id(cited_id, cited_id), basis))
        for cited in self.cites.values():
            cited.sort()
        if trace_from is not None:
            self.included = _within_depth(self.cites, trace_from, direction, max_depth)
            self.cites = {
                citing: [c for c in cited if c[0] in self.included]
                for citing, cited in self.cites.items()
                if citing in self.included
            }
        statement = service.outlets_statement(self.view, self.members)
        rows = (await self.session.scalars(statement)).all()
        self.outlets = {row.id: OutletOut.model_validate(row) for row in rows}

    async def nodes(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Members in time order, in chunks, each as its columns (plus `cites` and `citations`
        unless the reader was made without)."""
        statement = service.nodes_statement(
            self.session, self.view, self.members, outline_only=self.outline_only
        )
        outline = self.outline
        ids, published, outlet_ids = outline.ids, outline.published, outline.outlet_ids
        stances, languages = outline.stances, outline.languages
        cites, included, with_citations = self.cites, self.included, self.citations
        async for chunk in stream_dicts(self.session, statement):
            shown = []
            for node in chunk:
                sighting_id = node["id"]
                if included is not None and sighting_id not in included:
                    continue
                ids.append(sighting_id)
                published.append(node["published_at"])
                outlet_ids.append(node["outlet_id"])
                stances.append(node["stance"])
                languages.append(node["language"])
                if "evidence_status" in node:
                    node["evidence"] = evidence_document(node)
                if with_citations:
                    cited = cites.get(sighting_id, ())
                    node["cites"] = [cited_id for cited_id, _ in cited]
                    node["citations"] = [{"sighting_id": i, "basis": b} for i, b in cited]
                shown.append(node)
            if shown:
                yield shown

    def edges(self) -> Iterator[tuple[str, str, str]]:
        """(from, to, basis) per edge, from the cited sighting to the one citing it, in the
        citing sighting's time order; call after `nodes` has been read."""
        for citing in self.outline.ids:
            for cited_id, basis in self.cites.get(citing, ()):
                yield cited_id, citing, basis

    async def read_outline(self) -> None:
        """Read the members for their outline alone, when no document needs their rows."""
        async for _ in self.nodes():
            pass

    def main_path(
        self, *, towards_denial: bool = True, position: dict[str, int] | None = None
    ) -> list[str]:
        """The main path alone (`summary` gives it with the rest); call after `nodes`.

        `position`, each node's place in time order, when the caller has it already.
        """
        outline, cites = self.outline, self.cites
        if position is None:
            position = {sid: i for i, sid in enumerate(outline.ids)}
        denial = self._first_denial() if towards_denial else None
        first = itemgetter(0)
        return main_path(
            outline.ids,
            lambda node: map(first, cites.get(node, ())),
            (sid for sid in outline.ids if not cites.get(sid)),
            outline.ids[denial] if denial is not None else None,
            order=position.__getitem__,
        )

    def summary(self, *, towards_denial: bool = True) -> Summary:
        """Origins, main path, hops and metrics; call after `nodes` has been read.

        Without `towards_denial`, the path runs to the latest node reached, as the contract's
        path does when the first denial is reached by nothing.
        """
        outline = self.outline
        position = {sid: i for i, sid in enumerate(outline.ids)}
        origins = [sid for sid in outline.ids if not self.cites.get(sid)]
        path = self.main_path(towards_denial=towards_denial, position=position)
        denial = self._first_denial()
        hops = [
            Hop(
                from_=a,
                to=b,
                from_outlet=self._outlet(position[a]).slug,
                to_outlet=self._outlet(position[b]).slug,
                lag_seconds=lag_seconds(
                    outline.published[position[a]], outline.published[position[b]]
                )
                or 0,
            )
            for a, b in pairwise(path)
        ]
        return Summary(origins=origins, path=path, hops=hops, metrics=self._metrics(denial))

    def _outlet(self, index: int) -> OutletOut:
        return self.outlets[self.outline.outlet_ids[index]]

    def _first_denial(self) -> int | None:
        for index, stance in enumerate(self.outline.stances):
            if stance == Stance.denies and self._outlet(index).kind == OutletKind.official:
                return index
        return None

    def _metrics(self, denial: int | None) -> Metrics:
        outline = self.outline
        outlets = [self.outlets[oid] for oid in set(outline.outlet_ids)]
        languages = {
            language
            for i, own in enumerate(outline.languages)
            if (language := own or self._outlet(i).language)
        }
        first_seen = min(outline.published, default=None)
        denial_at = outline.published[denial] if denial is not None else None
        after = 0
        if denial_at is not None:
            after = sum(
                1
                for stance, at in zip(outline.stances, outline.published, strict=True)
                if stance in SPREADING and at > denial_at
            )
        return Metrics(
            sightings=len(outline.ids),
            outlets=len(outlets),
            countries=len({o.country for o in outlets if o.country}),
            languages=len(languages),
            first_seen_at=first_seen,
            first_denial_at=denial_at,
            denial_lag_seconds=lag_seconds(first_seen, denial_at),
            sightings_after_denial=after,
        )
