from typing import Any

from pydantic import Field

from app.schemas import Schema, Timestamp


class Revision(Schema):
    """One revision of a record, as its history lists it."""

    revision: int
    action: str = Field(description="created, corrected, withdrawn, merged or moved")
    at: Timestamp
    by: str = Field(validation_alias="key_name", description="The name of the key that made it.")
    key_id: str | None
    reason: str | None
    changes: dict[str, Any] = Field(description='`{field: {"from": old, "to": new}}`')


class AuditEntry(Schema):
    at: Timestamp
    action: str
    key_id: str | None
    key_name: str
    target_type: str = Field(description="outlet, claim, sighting, key or subscription")
    target_id: str
    revision: int | None
    reason: str | None
    changes: dict[str, Any]
    request_id: str | None
