from pydantic import Field

from app.enums import OutletKind
from app.schemas import InputSchema, Reason, Revisioned, Timestamp
from app.validators import Country, Language, ShortText, Slug, WebUrl

Aliases = list[ShortText]


class OutletCreate(InputSchema):
    slug: Slug
    name: ShortText
    kind: OutletKind
    country: Country | None = None
    language: Language | None = None
    url: WebUrl | None = None
    aliases: Aliases = Field(default_factory=list, max_length=50)


class OutletUpdate(InputSchema):
    """Fields sent are changed; `null` clears an optional one; the slug stays."""

    name: ShortText | None = None
    kind: OutletKind | None = None
    country: Country | None = None
    language: Language | None = None
    url: WebUrl | None = None
    aliases: Aliases | None = Field(default=None, max_length=50)
    reason: Reason | None = Field(default=None, description="Why, for the outlet's history.")


class Outlet(Revisioned):
    id: str
    slug: str
    name: str
    kind: OutletKind
    country: str | None
    language: str | None
    url: str | None
    aliases: list[str]
    created_at: Timestamp
    updated_at: Timestamp
