"""Schema building blocks every domain shares."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

from app.input_guard import refused_character

# Both engines hold far more, but a time near year 1 or 9999 overflows as soon as its offset is
# converted to UTC or a day is added to it; this range leaves room for every such step.
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def utc_z(value: datetime) -> str:
    """RFC 3339 in UTC, written with `Z`: how every timestamp leaves the service."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Output: always UTC, written with `Z`.
Timestamp = Annotated[datetime, PlainSerializer(utc_z, return_type=str)]


_RFC3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _text_only(value: Any) -> Any:
    # pydantic would read a number, or a numeric string, as seconds since 1970; the contract
    # asks for RFC 3339 text.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339_START.match(value):
        raise ValueError("must be an RFC 3339 timestamp string, such as 2022-08-01T00:00:00Z")
    return value


def in_range(value: datetime) -> datetime:
    """`value` in UTC, refused when outside the range every conversion can hold."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"must lie between {utc_z(EARLIEST)} and {utc_z(LATEST)}")
    return utc


# Input: RFC 3339 with an offset; a bare local time is ambiguous and refused.
TimestampIn = Annotated[AwareDatetime, BeforeValidator(_text_only), AfterValidator(in_range)]


T = TypeVar("T")


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class InputSchema(BaseModel):
    """Request bodies: unknown fields are refused, so a misspelt field never passes silently.

    Text with control characters is refused here too. HTTP requests meet the same rule earlier
    (app.input_guard); this catches what arrives by other ways, such as `tracer import`.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and refused_character(text, allow_whitespace=True):
                raise ValueError("must not contain control characters")
        return value


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
