"""What each event says: one typed model per event type, the `data` of its webhook body.

They are listed in the OpenAPI document's `webhooks` section, so receivers get a schema and
every producer is type-checked. The claim inside `claim.created` is the API's own claim shape;
the other events carry the compact summaries below, which stay stable while a claim's counters
and status move on within the same transaction.
"""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, create_model

from app.claims.schemas import Claim
from app.enums import DenialStatus, OutletKind, Precision, Stance
from app.outbox.models import EventType
from app.schemas import Timestamp

Changes = dict[str, dict[str, Any]]


class EventPayload(BaseModel):
    event_type: ClassVar[EventType]


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


class ClaimSummary(BaseModel):
    """A claim's own fields, without the counters and status that follow its sightings."""

    id: str
    statement: str
    tags: list[str]
    variant_of: str | None

    @classmethod
    def of(cls, claim: Any) -> "ClaimSummary":
        return cls(
            id=claim.id, statement=claim.statement, tags=claim.tags, variant_of=claim.variant_of
        )


class ClaimCreated(EventPayload):
    event_type = EventType.claim_created
    claim: Claim = Field(description="The claim as `GET /v1/claims/{id}` shows it.")


class SightingRecorded(EventPayload):
    event_type = EventType.sighting_recorded
    sighting: SightingSummary


class DenialRecorded(EventPayload):
    """An official outlet's `denies` sighting, recorded or made so by a correction."""

    event_type = EventType.denial_recorded
    sighting: SightingSummary
    claim: ClaimSummary


class ClaimStatusChanged(EventPayload):
    event_type = EventType.claim_status_changed
    claim_id: str
    old_status: DenialStatus
    new_status: DenialStatus


class ClaimResurfaced(EventPayload):
    """A denied claim spreads again; `sighting` is the latest spreading one."""

    event_type = EventType.claim_resurfaced
    claim_id: str
    sighting: SightingSummary
    first_denial_at: Timestamp
    sightings_after_denial: int


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


class ClaimCorrected(EventPayload):
    event_type = EventType.claim_corrected
    claim: ClaimSummary
    revision: int
    reason: str
    changes: Changes


class ClaimMerged(EventPayload):
    """A duplicate claim merged into a survivor; its id now redirects there."""

    event_type = EventType.claim_merged
    claim_id: str = Field(description="The merged claim.")
    into: ClaimSummary = Field(description="The surviving claim.")
    revision: int = Field(description="The merged claim's last revision: its merge.")
    reason: str
    changes: Changes
    sightings_moved: int
    sightings_withdrawn: int


PAYLOADS: list[type[EventPayload]] = [
    ClaimCreated,
    SightingRecorded,
    DenialRecorded,
    ClaimStatusChanged,
    ClaimResurfaced,
    SightingCorrected,
    SightingWithdrawn,
    ClaimCorrected,
    ClaimMerged,
]


def webhook_body(payload: type[EventPayload]) -> type[BaseModel]:
    """The body a receiver gets for one event type: `{"type", "timestamp", "data"}`."""
    return create_model(
        f"{payload.__name__}Webhook",
        type=(Literal[payload.event_type.value], ...),  # type: ignore[arg-type]
        timestamp=(Timestamp, ...),
        data=(payload, ...),
    )
