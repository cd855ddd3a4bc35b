"""Official verdicts on claims: which official outlets deny or confirm a claim, the denial
status they add up to, and when a claim was first officially denied."""

from typing import Any

from sqlalchemy import Select, Subquery, func, select

from app.enums import DenialStatus, OutletKind, Stance
from app.outlets.models import Outlet
from app.sightings import rules
from app.sightings.models import Sighting
from app.streaming import time_order_in


def official_verdicts(dialect: str, claim_ids: list[str]) -> Select[Any]:
    """Per claim and official outlet, the stance of its latest denial or confirmation.

    Each official outlet counts once, by its latest verdict; the answer is sized by outlets,
    not by sightings, however often a claim was denied.
    """
    latest_first = func.row_number().over(
        partition_by=(Sighting.claim_id, Sighting.outlet_id),
        order_by=[column.desc() for column in time_order_in(dialect, Sighting)],
    )
    ranked = (
        select(Sighting.claim_id, Sighting.stance, latest_first.label("rank"))
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .where(
            Sighting.claim_id.in_(claim_ids),
            Outlet.kind == OutletKind.official,
            Sighting.stance.in_(rules.VERDICTS),
        )
        .subquery()
    )
    return select(ranked.c.claim_id, ranked.c.stance).where(ranked.c.rank == 1).distinct()


def status_of(stances: set[Stance]) -> DenialStatus:
    """The status the official outlets' latest verdicts add up to."""
    if not stances:
        return DenialStatus.none
    if stances == {Stance.denies}:
        return DenialStatus.denied
    if stances == {Stance.confirms}:
        return DenialStatus.confirmed
    return DenialStatus.contested


def first_denials(claim_ids: list[str]) -> Subquery:
    """When each claim was first officially denied."""
    return (
        select(Sighting.claim_id, func.min(Sighting.published_at).label("at"))
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .where(
            Sighting.claim_id.in_(claim_ids),
            Outlet.kind == OutletKind.official,
            Sighting.stance == Stance.denies,
        )
        .group_by(Sighting.claim_id)
        .subquery()
    )
