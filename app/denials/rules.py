"""The contract's denial rules, as pure functions over sightings with their outlets loaded.

The denial endpoint and the chain metrics both read a claim's state through these, so the two
can never disagree.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from app.enums import DenialStatus, OutletKind, Stance
from app.sightings.models import Sighting

VERDICTS = (Stance.denies, Stance.confirms)
SPREADING = (Stance.asserts, Stance.reports)


def _order(sighting: Sighting) -> tuple[datetime, datetime, str]:
    return (sighting.published_at, sighting.recorded_at, sighting.id)


def is_official_verdict(sighting: Sighting) -> bool:
    return sighting.outlet.kind == OutletKind.official and sighting.stance in VERDICTS


def is_official_denial(sighting: Sighting) -> bool:
    return sighting.outlet.kind == OutletKind.official and sighting.stance == Stance.denies


def is_fact_check(sighting: Sighting) -> bool:
    """Listed beside official word but never counted: debunks, and fact-checkers' verdicts."""
    if is_official_verdict(sighting):
        return False
    return sighting.stance == Stance.debunks or sighting.outlet.kind == OutletKind.fact_checker


def status(sightings: Iterable[Sighting]) -> DenialStatus:
    """Each official outlet counts once, by its latest denial or confirmation."""
    latest: dict[str, Sighting] = {}
    for sighting in sorted(filter(is_official_verdict, sightings), key=_order):
        latest[sighting.outlet_id] = sighting
    stances = {s.stance for s in latest.values()}
    if not stances:
        return DenialStatus.none
    if stances == {Stance.denies}:
        return DenialStatus.denied
    if stances == {Stance.confirms}:
        return DenialStatus.confirmed
    return DenialStatus.contested


def first_denial(sightings: Iterable[Sighting]) -> Sighting | None:
    denials = sorted(filter(is_official_denial, sightings), key=_order)
    return denials[0] if denials else None


def spread_after(sightings: Iterable[Sighting], moment: datetime) -> int:
    """How many sightings asserted or reported the claim after `moment`."""
    return sum(1 for s in sightings if s.stance in SPREADING and s.published_at > moment)


def lag_seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds())


def in_time_order(sightings: Iterable[Sighting]) -> list[Sighting]:
    return sorted(sightings, key=_order)


def earliest(sightings: Sequence[Sighting]) -> datetime | None:
    return min((s.published_at for s in sightings), default=None)
