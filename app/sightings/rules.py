"""The contract's denial rules, as pure functions over sightings with their outlets loaded.

A claim's status itself is aggregated by the database (`claims.projection`), sized by outlets
rather than by sightings; what reads sightings one by one reads them through these.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from app.enums import OutletKind, Stance
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
