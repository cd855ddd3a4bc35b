"""How a sighting is shown, its evidence included."""

from pydantic import Field

from app.enums import CaptureSource, CitationBasis, EvidenceStatus, Precision, Stance
from app.outlets.schemas import Outlet
from app.schemas import Revisioned, Schema, Timestamp


class CitationOut(Schema):
    sighting_id: str
    basis: CitationBasis


class Capture(Schema):
    """What the source answered once, or what a person uploaded."""

    id: str
    sighting_id: str
    source: CaptureSource
    requested_url: str | None
    final_url: str | None
    http_status: int | None
    content_type: str | None
    size: int
    sha256: str = Field(description="Hex SHA-256 of the body as received (after decoding).")
    text_sha256: str | None = Field(description="Hex SHA-256 of the extracted main text.")
    title: str | None
    captured_at: Timestamp
    filename: str | None


class Evidence(Schema):
    """Where capturing the sighting's source stands."""

    status: EvidenceStatus = EvidenceStatus.pending
    checked_at: Timestamp | None = None
    captures: int = 0
    latest: Capture | None = None
    problem: str | None = None


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
    evidence: Evidence = Field(
        default_factory=Evidence, description="What Tracer kept of the source."
    )
