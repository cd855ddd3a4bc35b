from pydantic import BaseModel, ConfigDict, Field

from app.claims.schemas import Claim
from app.enums import CitationBasis
from app.schemas import Timestamp
from app.sightings.schemas import Sighting


class Edge(BaseModel):
    """The claim went from `from` (the cited sighting) to `to` (the one citing it)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    basis: CitationBasis


class Hop(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    from_outlet: str
    to_outlet: str
    lag_seconds: int


class Metrics(BaseModel):
    sightings: int
    outlets: int
    countries: int
    languages: int
    first_seen_at: Timestamp | None
    first_denial_at: Timestamp | None
    denial_lag_seconds: int | None
    sightings_after_denial: int


class Chain(BaseModel):
    claim: Claim
    nodes: list[Sighting]
    edges: list[Edge]
    origins: list[str]
    path: list[str]
    hops: list[Hop]
    metrics: Metrics


class Trace(BaseModel):
    nodes: list[Sighting]
    edges: list[Edge]
