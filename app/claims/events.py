"""The events of claims, each a typed payload registered with the outbox.

The claim inside `claim.created` is the API's own claim shape; the other events carry the compact
summaries below, which stay stable while a claim's counters and status move on within the same
transaction.
"""

from typing import Any

from pydantic import BaseModel, Field

from app.claims.schemas import Claim
from app.enums import DenialStatus, EventType
from app.outbox.payloads import Changes, EventPayload
from app.schemas import Timestamp
from app.sightings.events import SightingSummary


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
