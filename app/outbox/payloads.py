"""What an event says: the base of the typed payloads, the `data` of an event's webhook body.

Each domain declares the payloads of its own events (`claims/events.py`, `sightings/events.py`)
as subclasses of `EventPayload` naming their `event_type`; declaring one registers it, and the
OpenAPI document lists every registered payload under `webhooks`. This module knows no domain.
"""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, create_model

from app.enums import EventType
from app.schemas import Timestamp

Changes = dict[str, dict[str, Any]]


class EventPayload(BaseModel):
    event_type: ClassVar[EventType]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        _REGISTERED[cls.event_type] = cls


_REGISTERED: dict[EventType, type[EventPayload]] = {}


def registered() -> list[type[EventPayload]]:
    """Every declared payload, in the order the event types are listed."""
    return [_REGISTERED[t] for t in EventType if t in _REGISTERED]


def webhook_body(payload: type[EventPayload]) -> type[BaseModel]:
    """The body a receiver gets for one event type: `{"type", "timestamp", "data"}`."""
    return create_model(
        f"{payload.__name__}Webhook",
        type=(Literal[payload.event_type.value], ...),  # type: ignore[arg-type]
        timestamp=(Timestamp, ...),
        data=(payload, ...),
    )
