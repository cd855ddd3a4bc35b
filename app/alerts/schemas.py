from typing import Annotated, Any

from pydantic import Field, StrictBool, StringConstraints

from app.alerts.models import AttemptOutcome, DeliveryStatus, SubscriptionStatus
from app.claims.schemas import Tag
from app.enums import EventType
from app.schemas import InputSchema, Schema, Timestamp
from app.validators import WebUrl

ClaimId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Description = Annotated[str, StringConstraints(max_length=1000)]


class SubscriptionCreate(InputSchema):
    url: WebUrl = Field(description="Where events are POSTed: http or https, public addresses.")
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))
    claim_ids: list[ClaimId] = Field(
        default_factory=list, max_length=1000, description="Only events about these claims."
    )
    tags: list[Tag] = Field(
        default_factory=list, max_length=50, description="Only events about claims so tagged."
    )
    description: Description | None = None


class SubscriptionUpdate(InputSchema):
    url: WebUrl | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    claim_ids: list[ClaimId] | None = Field(default=None, max_length=1000)
    tags: list[Tag] | None = Field(default=None, max_length=50)
    description: Description | None = None
    enabled: StrictBool | None = Field(
        default=None,
        description="false stops deliveries; true resumes them and clears a failing mark.",
    )


class Subscription(Schema):
    id: str
    url: str | None = Field(description="Shown to admin keys only; null for other keys.")
    event_types: list[EventType]
    claim_ids: list[str]
    tags: list[str]
    description: str | None
    status: SubscriptionStatus
    status_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp


class SubscriptionCreated(Subscription):
    secret: str = Field(
        description="The signing secret (`whsec_...`). Shown only in this response: keep it."
    )


class Event(Schema):
    id: int
    type: EventType
    timestamp: Timestamp = Field(validation_alias="created_at")
    claim_id: str | None
    data: dict[str, Any]


class Attempt(Schema):
    """One try at delivering one event."""

    id: str
    event_id: int
    attempt: int = Field(description="1 for the first try of this event, then 2, 3, ...")
    attempted_at: Timestamp
    duration_ms: int
    status_code: int | None = Field(description="The receiver's status; null if none came.")
    error: str | None
    outcome: AttemptOutcome
    next_retry_at: Timestamp | None


class Delivery(Schema):
    subscription_id: str
    event_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: Timestamp | None
