from typing import Annotated

from pydantic import AfterValidator, Field, StrictInt, StringConstraints

from app.claims.normalize import has_content
from app.enums import DenialStatus, MatchVerdict
from app.schemas import InputSchema, Reason, Revisioned, Schema, Timestamp
from app.validators import Language

Tag = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _with_content(value: str) -> str:
    if not has_content(value):
        raise ValueError("must contain letters, digits or symbols, not only invisible characters")
    return value


Statement = Annotated[
    str, StringConstraints(min_length=1, max_length=5000), AfterValidator(_with_content)
]


class ClaimCreate(InputSchema):
    statement: Statement
    summary: Annotated[str, StringConstraints(max_length=20000)] | None = None
    language: Language | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    variant_of: str | None = Field(
        default=None, description="The id of the claim this one grew from."
    )


class ClaimUpdate(InputSchema):
    """A correction: the fields sent are changed, `null` clears an optional one."""

    statement: Statement | None = None
    summary: Annotated[str, StringConstraints(max_length=20000)] | None = None
    language: Language | None = None
    tags: list[Tag] | None = Field(default=None, max_length=50)
    variant_of: str | None = Field(default=None, max_length=64)
    reason: Reason = Field(description="Why the claim is corrected, for its history.")


class ClaimMergeRequest(InputSchema):
    into: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The claim that survives and takes the sightings."
    )
    reason: Reason


class Claim(Revisioned):
    id: str
    statement: str
    summary: str | None
    language: str | None
    tags: list[str]
    variant_of: str | None
    created_at: Timestamp
    denial_status: DenialStatus
    first_seen_at: Timestamp | None
    sightings_count: int
    outlets_count: int


class ClaimMatchQuery(InputSchema):
    text: Annotated[str, StringConstraints(min_length=1, max_length=5000)] = Field(
        description="The claim in your own words, in any language."
    )
    limit: StrictInt = Field(default=5, ge=1, le=50)


class ClaimMatch(Schema):
    claim: Claim
    score: float = Field(ge=0, le=1, description="1 is the same wording; higher is closer.")
    match: MatchVerdict = Field(
        description='"same": safe to link without review; "similar": for a person to confirm.'
    )


class ClaimMatches(Schema):
    items: list[ClaimMatch] = Field(description="Best first.")
