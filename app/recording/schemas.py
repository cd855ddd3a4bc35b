"""What a fact-checker sends to record or correct a sighting."""

from typing import Annotated

from pydantic import Field, StringConstraints

from app.claims.schemas import ClaimCreate
from app.enums import Precision, Stance
from app.outlets.schemas import OutletCreate
from app.schemas import InputSchema, Reason, TimestampIn
from app.validators import Language, PageUrl, Slug

Text = Annotated[str, StringConstraints(max_length=20000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class SightingCreate(InputSchema):
    claim_id: Id | None = Field(default=None, description="An existing claim; or send `claim`.")
    claim: ClaimCreate | None = Field(
        default=None,
        description="A claim to create inline; an existing normalised match is reused.",
    )
    outlet: Slug | OutletCreate | None = Field(
        default=None,
        description="An existing outlet's slug, or an outlet to create inline "
        "(an existing slug is reused); left out, the outlet whose domains match `url`.",
    )
    url: PageUrl
    published_at: TimestampIn
    published_at_precision: Precision = Precision.exact
    stance: Stance
    cites: list[Id] = Field(default_factory=list, max_length=200)
    cites_outlets: list[Slug] = Field(default_factory=list, max_length=200)
    attribution: Text | None = None
    title: Text | None = None
    excerpt: Text | None = None
    language: Language | None = None
    archive_url: PageUrl | None = None
    content_sha256: Sha256 | None = None


class SightingPatch(InputSchema):
    """A correction as a JSON merge patch: fields sent are changed, `null` clears an optional one.

    `cites` replaces every citation; `cites_outlets` alone replaces those resolved from outlets.
    """

    claim_id: Id | None = Field(default=None, description="Move the sighting to this claim.")
    outlet: Slug | OutletCreate | None = None
    url: PageUrl | None = None
    published_at: TimestampIn | None = None
    published_at_precision: Precision | None = None
    stance: Stance | None = None
    cites: list[Id] | None = Field(default=None, max_length=200)
    cites_outlets: list[Slug] | None = Field(default=None, max_length=200)
    attribution: Text | None = None
    title: Text | None = None
    excerpt: Text | None = None
    language: Language | None = None
    archive_url: PageUrl | None = None
    content_sha256: Sha256 | None = None
    reason: Reason = Field(description="Why the sighting is corrected, for its history.")
