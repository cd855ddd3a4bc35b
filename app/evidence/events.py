"""The events of evidence, each a typed payload registered with the outbox."""

from pydantic import BaseModel, Field

from app.enums import EventType
from app.outbox.payloads import EventPayload


class SourceEvent(BaseModel):
    """What every evidence event says: whose source, and which captures."""

    sighting_id: str
    claim_id: str
    outlet: str = Field(description="The outlet's slug.")
    url: str
    capture_id: str | None = Field(description="The capture this check kept, if any.")
    previous_capture_id: str | None = Field(description="The sighting's capture before it.")
    http_status: int | None


class EvidenceCaptured(SourceEvent, EventPayload):
    """A sighting's source was captured for the first time."""

    event_type = EventType.evidence_captured


class SourceChanged(SourceEvent, EventPayload):
    """A re-check found the source's text changed; the new text was kept as a capture."""

    event_type = EventType.source_changed


class SourceGone(SourceEvent, EventPayload):
    """The source answered 404 or 410; earlier captures stay served."""

    event_type = EventType.source_gone
