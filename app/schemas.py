"""Schema building blocks every domain shares."""

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints


def utc_z(value: datetime) -> str:
    """RFC 3339 in UTC, written with `Z`: how every timestamp leaves the service."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Output: always UTC, written with `Z`.
Timestamp = Annotated[datetime, PlainSerializer(utc_z, return_type=str)]
# Input: RFC 3339 with an offset; a bare local time is ambiguous and refused.
TimestampIn = AwareDatetime


T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    """Request bodies: unknown fields are refused, so a misspelt field never passes silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Revisioned(Schema):
    """The stamp every versioned record carries in responses."""

    recorded_at: Timestamp = Field(description="When the record was first recorded.")
    recorded_by: str = Field(description="The name of the key that first recorded it.")
    revision: int = Field(description="1 when first recorded, one more with each correction.")
    revised_at: Timestamp = Field(description="When the latest revision was made.")
    revised_by: str = Field(description="The name of the key that made the latest revision.")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `?cursor=` to fetch the next page.")
