"""Moving `outlet_days`, `outlet_flows` and their totals by what recording added.

Recording only adds sightings and citations, and what it adds changes a claim's rows by simple
sums, except where it changes a fact about the whole claim: which sighting came first (the
outlet that carried it first) and when it was first officially denied (which sightings came
after). A claim whose first sighting or first denial a recording may have moved is counted
again in full (`flows.recount`); every other claim's rows, and the outlets' totals, move by the
added rows only, so the cost of a batch follows the batch and not the size of its claims.

Runs under the claims' row locks, after the claims' own projections are up to date: a claim's
`sightings_count` and `first_seen_at` already include what was added.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import verdicts
from app.claims.chain_counts import AddedCitation, AddedSighting, Additions
from app.db import keys_present
from app.enums import DenialStatus, OutletKind, Stance
from app.network import totals
from app.network.models import OutletDay, OutletFlow
from app.sightings import rules

# Keys per statement: a few parameters each, well under both engines' limits.
_KEYS_PER_STATEMENT = 300


def _day(moment: datetime) -> datetime:
    """The start of the UTC day, as `flows.day_of` computes it in the database."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _chunks(keys: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(keys), _KEYS_PER_STATEMENT):
        yield keys[start : start + _KEYS_PER_STATEMENT]


def _is_official_denial(sighting: AddedSighting) -> bool:
    return sighting.kind == OutletKind.official and sighting.stance == Stance.denies


class _Claim:
    """What one claim's rows move by: its first sighting and first denial as they now stand."""

    def __init__(self, sightings: list[AddedSighting], stored: int, first_seen_at: Any) -> None:
        self.sightings = sightings
        earliest = min(sighting.at for sighting in sightings)
        denials = [s.at for s in sightings if _is_official_denial(s)]
        self.first_denial: datetime | None = min(denials) if denials else None
        new = stored == len(sightings)
        if new:
            # Every sighting of the claim is here: the earliest carried it first, unless two
            # share its time (then the order of their ids decides, which only the rows hold).
            self.whole = sum(1 for s in sightings if s.at == earliest) > 1
            self.first: AddedSighting | None = next(s for s in sightings if s.at == earliest)
        else:
            # An earlier sighting stays first only if it is strictly earlier than all added;
            # a first denial among the added ones moves which sightings came after it.
            self.whole = first_seen_at is None or earliest <= first_seen_at or bool(denials)
            self.first = None
        self.stored_denial_unknown = not new


async def _first_denials(session: AsyncSession, claim_ids: list[str]) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    for chunk in _chunks(claim_ids):
        firsts = verdicts.first_denials(list(chunk))
        for claim_id, at in await session.execute(select(firsts.c.claim_id, firsts.c.at)):
            found[claim_id] = at
    return found


async def add(
    session: AsyncSession, claim_ids: Iterable[str], added: Additions
) -> tuple[list[str], totals.Figures]:
    """Move the rows of these claims by what was added; the claims whose rows must be counted
    again in full instead, and what the rows moved add to the totals."""
    by_claim: dict[str, list[AddedSighting]] = defaultdict(list)
    for sighting in added.sightings:
        by_claim[sighting.claim_id].append(sighting)
    wanted = sorted(set(claim_ids) & by_claim.keys())
    # As the claims' refresh left them, just before this runs (`Additions.refreshed`): every
    # claim of these that still exists.
    stored = added.refreshed
    claims = {
        claim_id: _Claim(by_claim[claim_id], *stored[claim_id][:2])
        for claim_id in wanted
        if claim_id in stored
    }
    whole = sorted(claim_id for claim_id, claim in claims.items() if claim.whole)
    moved = {claim_id: claim for claim_id, claim in claims.items() if not claim.whole}
    denied = [
        claim_id
        for claim_id, claim in moved.items()
        if claim.stored_denial_unknown and stored[claim_id][2] != DenialStatus.none
    ]
    for claim_id, at in (await _first_denials(session, denied)).items():
        moved[claim_id].first_denial = at
    outlets = await _add_days(session, moved)
    links = await _add_flows(session, moved, added.citations)
    return whole, totals.Figures(links=links, totals=outlets)


async def _add_days(
    session: AsyncSession, claims: dict[str, _Claim]
) -> dict[str, tuple[int, int, int, int]]:
    days: dict[tuple[str, str, datetime, str], list[int]] = {}
    for claim_id, claim in claims.items():
        for sighting in claim.sightings:
            key = (claim_id, sighting.outlet_id, _day(sighting.at), sighting.stance.value)
            row = days.setdefault(key, [0, 0, 0])
            row[0] += 1
            if (
                claim.first_denial is not None
                and sighting.stance in rules.SPREADING
                and sighting.at > claim.first_denial
            ):
                row[1] += 1
            if sighting is claim.first:
                row[2] += 1
    if not days:
        return {}
    pairs = sorted({(claim_id, outlet_id) for claim_id, outlet_id, _, _ in days})
    carried = await keys_present(session, [OutletDay.claim_id, OutletDay.outlet_id], pairs)
    outlets: dict[str, list[int]] = {}
    for (_, outlet_id, _, _), (sightings, after, first) in days.items():
        total = outlets.setdefault(outlet_id, [0, 0, 0, 0])
        total[1] += sightings
        total[2] += first
        total[3] += after
    for claim_id, outlet_id in pairs:
        if (claim_id, outlet_id) not in carried:
            outlets[outlet_id][0] += 1
    await totals.add_to(
        session,
        OutletDay,
        [
            {
                "claim_id": claim_id,
                "outlet_id": outlet_id,
                "day": day,
                "stance": stance,
                "sightings": sightings,
                "after_denial": after,
                "carried_first": first,
            }
            for (claim_id, outlet_id, day, stance), (sightings, after, first) in sorted(
                days.items()
            )
        ],
    )
    return {outlet_id: (f[0], f[1], f[2], f[3]) for outlet_id, f in outlets.items()}


async def _add_flows(
    session: AsyncSession, claims: dict[str, _Claim], citations: list[AddedCitation]
) -> dict[totals.Pair, totals.Link]:
    flows: dict[tuple[str, str, str, datetime], list[Any]] = {}
    for citation in citations:
        # An outlet following up its own story is no flow between outlets.
        if (
            citation.claim_id not in claims
            or citation.source_outlet_id == citation.target_outlet_id
        ):
            continue
        key = (
            citation.claim_id,
            citation.source_outlet_id,
            citation.target_outlet_id,
            _day(citation.at),
        )
        row = flows.setdefault(key, [0, citation.at, citation.at])
        row[0] += 1
        row[1], row[2] = min(row[1], citation.at), max(row[2], citation.at)
    if not flows:
        return {}
    triples = sorted({key[:3] for key in flows})
    columns = [OutletFlow.claim_id, OutletFlow.source_outlet_id, OutletFlow.target_outlet_id]
    linked = await keys_present(session, columns, triples)
    links: dict[tuple[str, str], list[Any]] = {}
    for (_, source, target, _), (count, first_at, last_at) in flows.items():
        link = links.setdefault((source, target), [0, 0, first_at, last_at])
        link[0] += count
        link[2], link[3] = min(link[2], first_at), max(link[3], last_at)
    for claim_id, source, target in triples:
        if (claim_id, source, target) not in linked:
            links[source, target][1] += 1
    await totals.add_to(
        session,
        OutletFlow,
        [
            {
                "claim_id": claim_id,
                "source_outlet_id": source,
                "target_outlet_id": target,
                "day": day,
                "citations": count,
                "first_at": first_at,
                "last_at": last_at,
            }
            for (claim_id, source, target, day), (count, first_at, last_at) in sorted(flows.items())
        ],
    )
    return {pair: totals.Link(*link) for pair, link in links.items()}
