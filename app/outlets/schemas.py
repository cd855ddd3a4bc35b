from pydantic import Field

from app.enums import OutletKind
from app.schemas import InputSchema, Reason, Revisioned, Timestamp
from app.validators import Country, DomainEntries, Language, PageUrl, ShortText, Slug

Aliases = list[ShortText]
DOMAINS = (
    "The addresses it publishes under: hosts (covering their subdomains) or hosts with a path "
    "prefix, such as `asiatimes.com` or `t.me/kremlinlaundress`; stored in canonical form."
)


class OutletCreate(InputSchema):
    slug: Slug
    name: ShortText
    kind: OutletKind
    country: Country | None = None
    language: Language | None = None
    url: PageUrl | None = None
    aliases: Aliases = Field(default_factory=list, max_length=50)
    domains: DomainEntries = Field(default_factory=list, max_length=50, description=DOMAINS)


class OutletUpdate(InputSchema):
    """Fields sent are changed; `null` clears an optional one; the slug stays."""

    name: ShortText | None = None
    kind: OutletKind | None = None
    country: Country | None = None
    language: Language | None = None
    url: PageUrl | None = None
    aliases: Aliases | None = Field(default=None, max_length=50)
    domains: DomainEntries | None = Field(default=None, max_length=50, description=DOMAINS)
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
    domains: list[str] = Field(default_factory=list, description=DOMAINS)
    created_at: Timestamp
    updated_at: Timestamp
