from pydantic import BaseModel

from app.enums import OutletKind
from app.outlets.schemas import Outlet
from app.schemas import Schema, Timestamp


class AfterDenial(BaseModel):
    sightings: int
    claims: int


class Lag(BaseModel):
    median: float
    p90: float


class Counterpart(BaseModel):
    outlet: str
    citations: int
    claims: int


class Month(Schema):
    start: Timestamp
    sightings: int
    after_denial: int


class Record(Schema):
    outlet: Outlet
    claims: int
    sightings: int
    first_to_carry: int
    after_denial: AfterDenial
    denials: int
    by_stance: dict[str, int]
    lag_seconds: Lag | None
    took_from: list[Counterpart]
    gave_to: list[Counterpart]
    timeline: list[Month]


class Node(Schema):
    slug: str
    name: str
    kind: OutletKind
    country: str | None
    claims: int
    sightings: int
    first_to_carry: int
    after_denial: int


class Edge(Schema):
    from_outlet: str
    to_outlet: str
    citations: int
    claims: int
    first_at: Timestamp
    last_at: Timestamp


class Network(Schema):
    nodes: list[Node]
    edges: list[Edge]
