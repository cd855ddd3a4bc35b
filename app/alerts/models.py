from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, new_id, utcnow
from app.enums import EventType
from app.outbox.models import EventId


class SubscriptionStatus(StrEnum):
    active = "active"
    # Deliveries keep failing; attempts go on and the events stay for redelivery.
    failing = "failing"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class AttemptOutcome(StrEnum):
    succeeded = "succeeded"
    retrying = "retrying"
    failed = "failed"
    gone = "gone"
    # The worker making the attempt stopped (was killed) before it could record the answer.
    interrupted = "interrupted"


class Addressed(Protocol):
    """What a subscription is matched on: an event's row without its payload."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> EventType: ...
    @property
    def claim_id(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    claim_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_column(SubscriptionStatus, "subscription_status"), default=SubscriptionStatus.active
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Events up to this id happened before the subscription and are not sent to it.
    after_event_id: Mapped[int] = mapped_column(EventId, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def wants(self, event: Addressed) -> bool:
        """Whether this event is one this subscription asked for: types, claims and tags."""
        if event.id <= self.after_event_id or event.type.value not in self.event_types:
            return False
        if self.claim_ids and event.claim_id not in self.claim_ids:
            return False
        return not self.tags or bool(set(self.tags) & set(event.tags))


class Delivery(Base):
    """One event owed to one subscription; a worker leases it by pushing `next_attempt_at`."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "delivery_status"), default=DeliveryStatus.pending
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Failures since the last success or redelivery request; picks the next back-off step.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"
    __table_args__ = (
        Index(
            "ix_delivery_attempts_subscription_id_attempted_at", "subscription_id", "attempted_at"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(EventId)
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[AttemptOutcome] = mapped_column(enum_column(AttemptOutcome, "attempt_outcome"))
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DispatchCursor(Base):
    """How far events have been fanned out into deliveries."""

    __tablename__ = "dispatch_cursors"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    event_id: Mapped[int] = mapped_column(EventId, default=0)
