"""The events of sightings, each a typed payload registered with the outbox."""

from typing import Any

from pydantic import BaseModel, Field

from app.enums import EventType, OutletKind, Precision, Stance
from app.outbox.payloads import Changes, EventPayload
from app.schemas import Timestamp


class OutletSummary(BaseModel):
    id: str
    slug: str
    name: str
    kind: OutletKind
    country: str | None


class SightingSummary(BaseModel):
    id: str
    claim_id: str
    outlet: OutletSummary
    url: str
    stance: Stance
    published_at: Timestamp
    published_at_precision: Precision
    recorded_at: Timestamp
    recorded_by: str
    revision: int

    @classmethod
    def of(cls, sighting: Any) -> "SightingSummary":
        """From a sighting row with its outlet loaded."""
        outlet = sighting.outlet
        return cls(
            id=sighting.id,
            claim_id=sighting.claim_id,
            outlet=OutletSummary(
                id=outlet.id,
                slug=outlet.slug,
                name=outlet.name,
                kind=outlet.kind,
                country=outlet.country,
            ),
            url=sighting.url,
            stance=sighting.stance,
            published_at=sighting.published_at,
            published_at_precision=sighting.published_at_precision,
            recorded_at=sighting.recorded_at,
            recorded_by=sighting.recorded_by,
            revision=sighting.revision,
        )


class SightingRecorded(EventPayload):
    event_type = EventType.sighting_recorded
    sighting: SightingSummary


class SightingCorrected(EventPayload):
    event_type = EventType.sighting_corrected
    sighting: SightingSummary
    revision: int
    reason: str
    changes: Changes = Field(description='`{field: {"from": old, "to": new}}`')


class SightingWithdrawn(EventPayload):
    event_type = EventType.sighting_withdrawn
    sighting_id: str
    claim_id: str
    revision: int = Field(description="The revision the withdrawal added.")
    reason: str
    changes: Changes
    withdrawn_at: Timestamp
    withdrawn_by: str
