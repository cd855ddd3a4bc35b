"""How a sighting is shown."""

from pydantic import Field

from app.enums import CitationBasis, Precision, Stance
from app.outlets.schemas import Outlet
from app.schemas import Revisioned, Schema, Timestamp


class CitationOut(Schema):
    sighting_id: str
    basis: CitationBasis


class Sighting(Revisioned):
    id: str
    claim_id: str
    outlet: Outlet
    url: str
    canonical_url: str = Field(
        description="`url` in the one form its equivalent forms share: the duplicate rule and "
        "`?url=` compare this."
    )
    published_at: Timestamp
    published_at_precision: Precision
    stance: Stance
    cites: list[str] = Field(description="Ids of the sightings this one took the claim from.")
    citations: list[CitationOut] = Field(description="`cites` with how each was established.")
    attribution: str | None
    title: str | None
    excerpt: str | None
    language: str | None
    archive_url: str | None
    content_sha256: str | None
