from app.claims.schemas import Claim
from app.enums import DenialStatus
from app.schemas import Schema
from app.sightings.schemas import Sighting


class DenialReport(Schema):
    claim_id: str
    status: DenialStatus
    first_denial: Sighting | None
    denials: list[Sighting]
    confirmations: list[Sighting]
    fact_checks: list[Sighting]
    denial_lag_seconds: int | None
    sightings_after_denial: int
    resurfaced: bool


class Denial(Sighting):
    claim: Claim
