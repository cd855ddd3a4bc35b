"""What a claim's sightings add up to: its counters, denial status, resurfacing, chain
summaries and matching data.

Whatever records, corrects, moves or withdraws sightings calls `sightings_changed` once, for
every claim it touched, under those claims' row locks, before its transaction commits.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Table, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app import outbox
from app.claims import chain_counts, matching, verdicts
from app.claims import events as claim_events
from app.claims.models import Claim, ClaimOutlet, claim_versions
from app.db import update_rows, utcnow
from app.enums import DenialStatus, OutletKind, Stance
from app.outlets import service as outlets
from app.sightings import events as sighting_events
from app.sightings import rules
from app.sightings.models import Sighting
from app.sightings.service import with_outlet
from app.versioning import archiving

# What refreshing a claim reads of its row: what it projects, and what announcing a change
# and starting the row's new version need.
_REFRESH_READS = (
    Claim.id,
    Claim.tags,
    Claim.valid_from,
    Claim.sightings_count,
    Claim.outlets_count,
    Claim.first_seen_at,
    Claim.denial_status,
    Claim.sightings_after_denial,
)
# Claims refreshed per set of statements: their ids are one parameter each. As many as a batch
# has items, so that a batch refreshes its claims in one set: each set is four round trips
# made while every other writer of the same claims waits.
_CLAIMS_PER_STATEMENT = 1000


class SightingsChangedHook(Protocol):
    async def __call__(
        self,
        *,
        session: AsyncSession,
        claim_ids: frozenset[str],
        now: datetime,
        added: chain_counts.Additions | None,
    ) -> None: ...


_sightings_changed_hooks: list[SightingsChangedHook] = []


def on_sightings_changed(hook: SightingsChangedHook) -> SightingsChangedHook:
    """Run `hook` in every transaction that changes sightings, with every claim whose sightings
    changed (a merged claim's too), after this domain's own projections are up to date.

    What is read across claims (outlet records, the network) lives above this domain and keeps
    its own projections by registering here rather than being called. `added` is given when
    recording was the only change to these claims: the sightings and citations it added, which
    a projection may move by instead of counting the claims again.
    """
    _sightings_changed_hooks.append(hook)
    return hook


async def _projections(session: AsyncSession, claim_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What these claims' sightings add up to, by claim, in four statements for all of them."""
    dialect = session.get_bind().dialect.name
    projected: dict[str, dict[str, Any]] = {
        claim_id: {
            "sightings_count": 0,
            "outlets_count": 0,
            "first_seen_at": None,
            "denial_status": DenialStatus.none,
            "sightings_after_denial": 0,
        }
        for claim_id in claim_ids
    }
    counted = await session.execute(
        select(
            Sighting.claim_id,
            func.count(),
            func.count(distinct(Sighting.outlet_id)),
            func.min(Sighting.published_at),
        )
        .where(Sighting.claim_id.in_(claim_ids))
        .group_by(Sighting.claim_id)
    )
    for claim_id, sightings, outlets_count, first_seen_at in counted:
        projected[claim_id] |= {
            "sightings_count": sightings,
            "outlets_count": outlets_count,
            "first_seen_at": first_seen_at,
        }
    stances: dict[str, set[Stance]] = {}
    for claim_id, stance in await session.execute(verdicts.official_verdicts(dialect, claim_ids)):
        stances.setdefault(claim_id, set()).add(Stance(stance))
    for claim_id, found in stances.items():
        projected[claim_id]["denial_status"] = verdicts.status_of(found)
    firsts = verdicts.first_denials(claim_ids)
    for claim_id, at in await session.execute(select(firsts.c.claim_id, firsts.c.at)):
        projected[claim_id]["first_denial_at"] = at
    spreading = await session.execute(
        select(Sighting.claim_id, func.count())
        .join(firsts, firsts.c.claim_id == Sighting.claim_id)
        .where(Sighting.stance.in_(rules.SPREADING), Sighting.published_at > firsts.c.at)
        .group_by(Sighting.claim_id)
    )
    for claim_id, spread in spreading:
        projected[claim_id]["sightings_after_denial"] = spread
    return projected


async def _moved_projections(
    session: AsyncSession, claims: Mapping[str, Any], added: chain_counts.Additions
) -> dict[str, dict[str, Any]]:
    """What these claims' counters become by what recording added to them, where that alone
    decides it: no official verdict among the added sightings (the others are counted in
    full). Sized by the sightings added, not by the claims' size."""
    by_claim: dict[str, list[chain_counts.AddedSighting]] = {}
    for sighting in added.sightings:
        if sighting.claim_id in claims:
            by_claim.setdefault(sighting.claim_id, []).append(sighting)
    moved = sorted(
        claim_id
        for claim_id, sightings in by_claim.items()
        if not any(s.kind == OutletKind.official and s.stance in rules.VERDICTS for s in sightings)
    )
    if not moved:
        return {}
    # Counted again only where an outlet may be new to the claim: counting reads a row per
    # outlet and language of the claim, hundreds for each claim of a large import.
    outlets_count = {claim_id: claims[claim_id].outlets_count for claim_id in moved}
    opened = [claim_id for claim_id in moved if claim_id in added.opened]
    if opened:
        outlets_counted = await session.execute(
            select(ClaimOutlet.claim_id, func.count(distinct(ClaimOutlet.outlet_id)))
            .where(ClaimOutlet.claim_id.in_(opened))
            .group_by(ClaimOutlet.claim_id)
        )
        outlets_count |= {claim_id: count for claim_id, count in outlets_counted}
    # Without an official verdict so far, there is no first denial to come after.
    with_verdicts = [c for c in moved if claims[c].denial_status != DenialStatus.none]
    first_at: dict[str, datetime] = {}
    if with_verdicts:
        firsts = verdicts.first_denials(with_verdicts)
        found = await session.execute(select(firsts.c.claim_id, firsts.c.at))
        first_at = {claim_id: at for claim_id, at in found}
    projected: dict[str, dict[str, Any]] = {}
    for claim_id in moved:
        claim, sightings = claims[claim_id], by_claim[claim_id]
        denied_at = first_at.get(claim_id)
        after = sum(
            1
            for s in sightings
            if denied_at is not None and s.stance in rules.SPREADING and s.at > denied_at
        )
        earliest = min(s.at for s in sightings).astimezone(UTC)
        projected[claim_id] = {
            "sightings_count": claim.sightings_count + len(sightings),
            "outlets_count": outlets_count.get(claim_id, 0),
            "first_seen_at": earliest
            if claim.first_seen_at is None
            else min(claim.first_seen_at, earliest),
            "denial_status": claim.denial_status,
            "sightings_after_denial": claim.sightings_after_denial + after,
        }
        if denied_at is not None:
            projected[claim_id]["first_denial_at"] = denied_at
    return projected


async def _announce_changes(
    session: AsyncSession, claim: Any, projected: dict[str, Any], first_denial_at: Any
) -> None:
    status, spread = projected["denial_status"], projected["sightings_after_denial"]
    if claim.denial_status != status:
        await outbox.emit(
            session=session,
            event=claim_events.ClaimStatusChanged(
                claim_id=claim.id, old_status=claim.denial_status, new_status=status
            ),
            claim_id=claim.id,
            tags=claim.tags,
        )
    if first_denial_at is not None and spread and not claim.sightings_after_denial:
        latest = await session.scalar(
            with_outlet()
            .where(
                Sighting.claim_id == claim.id,
                Sighting.stance.in_(rules.SPREADING),
                Sighting.published_at > first_denial_at,
            )
            .order_by(Sighting.recorded_at.desc(), Sighting.id.desc())
            .limit(1)
        )
        assert latest is not None
        await outbox.emit(
            session=session,
            event=claim_events.ClaimResurfaced(
                claim_id=claim.id,
                sighting=sighting_events.SightingSummary.of(latest),
                first_denial_at=first_denial_at,
                sightings_after_denial=spread,
            ),
            claim_id=claim.id,
            tags=claim.tags,
        )


async def refresh_claims(
    *,
    session: AsyncSession,
    claim_ids: Iterable[str],
    now: datetime | None = None,
    added: chain_counts.Additions | None = None,
) -> None:
    """Recompute claims' counters, denial status and resurfacing from their current sightings.

    The changes found are announced here, once per refresh, so a batch that records many
    sightings of a claim announces its new status or its resurfacing once; claims are taken
    in id order, a few statements for hundreds of them. A changed projection is a new version
    of the claim's row (its revision stays), so a past moment replays it too. With `added`
    (recording was the only change), a claim's counters move by the sightings added unless
    one of them is an official verdict.
    """
    now = now or utcnow()
    ids = sorted(set(claim_ids))
    for start in range(0, len(ids), _CLAIMS_PER_STATEMENT):
        chunk = ids[start : start + _CLAIMS_PER_STATEMENT]
        # Locked here in id order, as every writer of claims locks them: the update below
        # takes the rows in whatever order its join reads them. The lock still lets others
        # take the share lock on a claim's key that inserting one of its sightings takes, so
        # it never waits for a writer that is still inserting. Only what the refresh reads is
        # read: the rows stay locked until the commit, and every other writer of these claims
        # waits meanwhile for whatever is done in between.
        locked = (
            select(*_REFRESH_READS)
            .where(Claim.id.in_(chunk))
            .order_by(Claim.id)
            .with_for_update(key_share=True)
        )
        claims = {row.id: row for row in await session.execute(locked)}
        projections = {} if added is None else await _moved_projections(session, claims, added)
        full = [claim_id for claim_id in chunk if claim_id not in projections]
        if full:
            projections |= await _projections(session, full)
        if added is not None:
            added.refreshed.update(
                (claim_id, (p["sightings_count"], p["first_seen_at"], p["denial_status"]))
                for claim_id, p in projections.items()
                if claim_id in claims
            )
        changed = [
            claim_id
            for claim_id in chunk
            if any(
                getattr(claims[claim_id], field) != value
                for field, value in projections[claim_id].items()
                if field != "first_denial_at"
            )
        ]
        if not changed:
            continue
        rows = []
        for claim_id in changed:
            claim, projected = claims[claim_id], projections[claim_id]
            first_denial_at = projected.pop("first_denial_at", None)
            await _announce_changes(session, claim, projected, first_denial_at)
            # A writer that started later may have counted first (the lock decides, not the
            # clock): its version is then overwritten rather than archived, and kept as the
            # start, so that the claim's versions never overlap.
            rows.append({"key": claim_id, **projected, "valid_from": max(now, claim.valid_from)})
        # One statement for all of them, each row written whole; claims this session loaded
        # already are told the new values as the database's own.
        table = Claim.__table__
        assert isinstance(table, Table)
        # The versions they replace are archived by the same statement, one round trip while
        # other writers of these claims wait.
        archived = archiving(Claim, claim_versions, Claim.id.in_(changed), now)
        await update_rows(session, table, rows, before=archived)
        for row in rows:
            loaded = session.identity_map.get(identity_key(Claim, row["key"]))
            if loaded is None:
                continue
            for name, value in row.items():
                if name != "key":
                    set_committed_value(loaded, name, value)


async def refresh_claim(
    *, session: AsyncSession, claim_id: str, now: datetime | None = None
) -> None:
    """`refresh_claims` for one claim."""
    await refresh_claims(session=session, claim_ids=[claim_id], now=now)


async def sightings_added(*, session: AsyncSession, tally: chain_counts.ChainTally) -> None:
    """Add what recording counted to the chain summaries, before the claims' rows are locked;
    `sightings_changed` with `added` follows.

    It only adds (sums, rows that exist or not), in key order, so two writers of one claim add
    up whichever goes first, and wait for each other only on a row both add to.
    """
    await tally.write(session)


async def sightings_changed(
    *,
    session: AsyncSession,
    claim_ids: Iterable[str],
    now: datetime,
    tally: chain_counts.ChainTally | None = None,
    recount: Iterable[str] = (),
    reworded: Iterable[str] = (),
    wordings: Mapping[str, Iterable[str | None]] | None = None,
    added: chain_counts.Additions | None = None,
) -> None:
    """Bring claims whose sightings changed up to date.

    `tally` holds what recording counted as it wrote, added to the chain summaries as it
    stands; the claims in `recount` have their summaries counted again from their rows instead
    (a correction can change any of them). The claims in `reworded` had sightings whose wording
    changed or went: their matching terms are rebuilt; `wordings` adds new texts that find a
    claim (titles of new sightings, a merged duplicate's statement). Every claim in `claim_ids`
    then has its counters and status refreshed. Sentence vectors follow after the commit, from
    the events the change wrote (`indexing`): a claim is found by its words at once. `added`
    says that recording, written already by `sightings_added`, was the only change.
    """
    changed, recounted = frozenset(claim_ids), frozenset(recount)
    if tally is not None and added is None:
        added = tally.added
    if recounted:
        added = None
    if tally is not None:
        await tally.write(session)
    for claim_id in sorted(recounted):
        await chain_counts.recount(session, claim_id)
    for claim_id in sorted(set(reworded)):
        await matching.reindex_claim(session=session, claim_id=claim_id, embed=False)
    if wordings:
        await matching.index_many_wordings(session=session, wordings=wordings)
    await refresh_claims(session=session, claim_ids=changed, now=now, added=added)
    for hook in _sightings_changed_hooks:
        await hook(session=session, claim_ids=changed | recounted, now=now, added=added)


@outlets.on_kind_change
async def _outlet_kind_changed(*, session: AsyncSession, outlet_id: str, now: datetime) -> None:
    """Only official outlets count towards denial status, and summaries count sightings by their
    outlet's kind: every claim the outlet carried is counted again."""
    claim_ids = (
        await session.scalars(
            select(Sighting.claim_id).where(Sighting.outlet_id == outlet_id).distinct()
        )
    ).all()
    await sightings_changed(session=session, claim_ids=claim_ids, now=now, recount=claim_ids)
