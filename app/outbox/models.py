from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.columns import enum_column
from app.db import Base, UTCDateTime, utcnow
from app.enums import EventType

# SQLite only gives a column the rowid's auto-numbering when it is declared plain INTEGER.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Event(Base):
    """The outbox: one row per change, written in the change's own transaction."""

    __tablename__ = "events"
    # Never reuse the id of a deleted row: clients resume from the last id they saw.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    type: Mapped[EventType] = mapped_column(enum_column(EventType, "event_type"), index=True)
    claim_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # The claim's tags when the event happened, so subscriptions can filter on them.
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
