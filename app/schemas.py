"""Schema building blocks every domain shares."""

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer


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


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `?cursor=` to fetch the next page.")
