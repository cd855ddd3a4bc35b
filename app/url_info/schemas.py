"""What `POST /v1/url-info` takes and answers."""

from pydantic import Field

from app.claims.schemas import ClaimMatch
from app.enums import Precision
from app.outlets.schemas import Outlet
from app.schemas import InputSchema, Schema, Timestamp
from app.sightings.schemas import Sighting
from app.validators import PageUrl


class UrlInfoQuery(InputSchema):
    url: PageUrl = Field(description="The address to read, as pasted: any form of it.")


class PageInfo(Schema):
    final_url: str = Field(description="The address after redirects.")
    http_status: int | None
    title: str | None
    site_name: str | None
    published_at: Timestamp | None = Field(
        description="From JSON-LD datePublished, article:published_time, the first "
        "<time datetime>, or a date in the URL's path (then precision `day`), in that order."
    )
    published_at_precision: Precision | None
    language: str | None
    excerpt: str | None
    canonical_link: str | None = Field(description="The address the page names as its own.")


class UrlInfo(Schema):
    url: str
    canonical_url: str
    outlet: Outlet | None = Field(description="The outlet whose domains match the URL.")
    sightings: list[Sighting] = Field(
        description="Sightings already recorded at this canonical URL, newest first."
    )
    page: PageInfo | None = Field(description="What the page says; null when it could not be read.")
    matches: list[ClaimMatch] = Field(
        description="Tracked claims the page's title and text match, as /v1/claims/match ranks "
        "them."
    )
    problem: str | None = Field(
        description='Why `page` is null: "timeout", "HTTP 404", "too large", "host not found"…'
    )
