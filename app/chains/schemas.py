from pydantic import BaseModel, ConfigDict, Field

from app.claims.schemas import Claim
from app.enums import CitationBasis, OutletKind, Stance
from app.outlets.schemas import Outlet
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


class CompactSighting(Sighting):
    outlet: str = Field(description="The outlet's slug; the outlet itself is in `outlets`.")  # type: ignore[assignment]


class CompactChain(Chain):
    """`?shape=compact`: each outlet once, nodes naming theirs by slug."""

    outlets: dict[str, Outlet] = Field(description="Every outlet of the chain, by slug.")
    nodes: list[CompactSighting]  # type: ignore[assignment]


class SpreadOutlet(BaseModel):
    slug: str
    kind: OutletKind
    country: str | None
    sightings: int
    first_at: Timestamp
    last_at: Timestamp


class Flow(BaseModel):
    """Citations from sightings in `from_outlet` to sightings in `to_outlet`."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_outlet: str
    to_outlet: str
    citations: int
    first_at: Timestamp = Field(description="When the first of these citations was published.")


class Bucket(BaseModel):
    start: Timestamp
    sightings: int
    by_kind: dict[OutletKind, int]
    by_stance: dict[Stance, int]


class Spread(BaseModel):
    """The chain summarised for dashboards: sized by outlets and time, not by sightings."""

    claim: Claim
    outlets: list[SpreadOutlet]
    flows: list[Flow]
    timeline: list[Bucket]
    path: list[str]
    hops: list[Hop]
    metrics: Metrics
