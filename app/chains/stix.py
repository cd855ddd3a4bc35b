"""Sightings as a STIX 2.1 bundle, for threat-intelligence platforms (OpenCTI, MISP).

Each outlet is an `identity`; each sighting an `observed-data` of its page's `url`, published by
its outlet; each citation a relationship from the citing sighting to the cited one; one
`report` names every object. Ids are UUIDv5 over Tracer's own ids, so one record has one STIX id
in every export. docs/stix.md gives the whole mapping and the reasons for it.

Objects are built and checked by the `stix2` library a chunk at a time and written as they are
made; the report, which names all of them, is written last from a second read of the ids.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import stix2
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.chains.service import Members
from app.enums import OutletKind, Stance
from app.ledger import LedgerView
from app.outlets.models import Outlet
from app.sightings.models import Citation, Sighting
from app.streaming import raw, stream_dicts

MEDIA_TYPE = "application/stix+json;version=2.1"
# Tracer's namespace for the UUIDv5 of its objects: a fixed value, so ids never change.
NAMESPACE = uuid.UUID("6f1d3c2a-8b4e-5f70-9a12-3c4d5e6f7a80")
# Tracer as the creator of every object it writes; its date is fixed, so the object never changes.
TRACER = stix2.Identity(
    id=f"identity--{uuid.uuid5(NAMESPACE, 'tracer')}",
    name="Tracer",
    identity_class="system",
    description="Records how claims travel between outlets, each step backed by evidence.",
    created=datetime(2026, 1, 1, tzinfo=UTC),
    modified=datetime(2026, 1, 1, tzinfo=UTC),
)
IDENTITY_CLASSES = {
    OutletKind.anonymous_channel: "unknown",
    OutletKind.social_account: "individual",
    OutletKind.news_outlet: "organization",
    OutletKind.broadcaster: "organization",
    OutletKind.official: "organization",
    OutletKind.fact_checker: "organization",
    OutletKind.other: "unknown",
}
SECTORS = {
    OutletKind.news_outlet: ["communications"],
    OutletKind.broadcaster: ["communications"],
    OutletKind.fact_checker: ["communications"],
    OutletKind.official: ["government"],
}
# A sighting that passes a claim on derives from what it cites; one that answers a claim says
# how it answers it.
SPREADING = {Stance.asserts, Stance.reports, Stance.questions}


def stix_id(kind: str, record_id: str) -> str:
    """The STIX id of one of Tracer's records, the same in every export."""
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}:{record_id}')}"


def relationship_type(stance: str) -> str:
    return "derived-from" if stance in SPREADING else f"{stance}"


def _objects(chunk: list[Any]) -> bytes:
    return b",".join(obj.serialize().encode() for obj in chunk)


def _outlet(row: dict[str, Any]) -> stix2.Identity:
    kind = OutletKind(row["kind"])
    return stix2.Identity(
        id=stix_id("identity", row["id"]),
        name=row["name"],
        identity_class=IDENTITY_CLASSES[kind],
        sectors=SECTORS.get(kind),
        contact_information=row["url"],
        created=row["created_at"],
        modified=max(row["created_at"], row["revised_at"]),
        created_by_ref=TRACER.id,
        custom_properties={"x_tracer_slug": row["slug"], "x_tracer_kind": kind.value},
    )


def _page(row: dict[str, Any]) -> stix2.URL:
    return stix2.URL(value=row["url"])


def _sighting(row: dict[str, Any]) -> list[Any]:
    observed = stix2.ObservedData(
        id=stix_id("observed-data", row["id"]),
        first_observed=row["published_at"],
        last_observed=row["published_at"],
        number_observed=1,
        object_refs=[_page(row).id],
        created=row["recorded_at"],
        modified=max(row["recorded_at"], row["revised_at"]),
        created_by_ref=TRACER.id,
        custom_properties={
            "x_tracer_sighting_id": row["id"],
            "x_tracer_claim_id": row["claim_id"],
            "x_tracer_stance": row["stance"],
            "x_tracer_published_at_precision": row["published_at_precision"],
        },
    )
    published_by = stix2.Relationship(
        id=stix_id("relationship", f"published-by:{row['id']}"),
        relationship_type="published-by",
        source_ref=observed.id,
        target_ref=stix_id("identity", row["outlet_id"]),
        created=row["recorded_at"],
        modified=row["recorded_at"],
        created_by_ref=TRACER.id,
    )
    return [observed, published_by]


def _citation_id(row: dict[str, Any]) -> str:
    return stix_id("relationship", f"{row['citing_id']}:{row['cited_id']}")


def _citation(row: dict[str, Any]) -> stix2.Relationship:
    return stix2.Relationship(
        id=_citation_id(row),
        relationship_type=relationship_type(row["stance"]),
        source_ref=stix_id("observed-data", row["citing_id"]),
        target_ref=stix_id("observed-data", row["cited_id"]),
        created=row["valid_from"],
        modified=row["valid_from"],
        created_by_ref=TRACER.id,
        custom_properties={"x_tracer_basis": row["basis"]},
    )


class Bundle:
    """The sightings `members` selects, seen through `view`, as one bundle."""

    def __init__(self, session: AsyncSession, view: LedgerView, members: Members) -> None:
        self.session = session
        self.sightings = view[Sighting]
        self.outlets = view[Outlet]
        self.citations = view[Citation]
        self.members = members

    def _outlet_rows(self) -> Select[Any]:
        outlets = self.outlets
        carried = select(self.sightings.outlet_id).where(self.members(self.sightings))
        fields = ["id", "slug", "name", "url", "created_at", "revised_at"]
        return (
            select(
                *(getattr(outlets, name).label(name) for name in fields), raw(outlets.kind, "kind")
            )
            .where(outlets.id.in_(carried))
            .order_by(outlets.slug)
        )

    def _page_rows(self) -> Select[Any]:
        """Each address once: pages carrying several claims are one `url` object."""
        s = self.sightings
        return select(s.url.label("url")).where(self.members(s)).distinct().order_by(s.url)

    def _sighting_rows(self) -> Select[Any]:
        s = self.sightings
        fields = ["id", "claim_id", "outlet_id", "url", "published_at", "recorded_at", "revised_at"]
        return (
            select(
                *(getattr(s, name).label(name) for name in fields),
                raw(s.stance, "stance"),
                raw(s.published_at_precision, "published_at_precision"),
            )
            .where(self.members(s))
            .order_by(s.published_at, s.id)
        )

    def _citation_rows(self) -> Select[Any]:
        citing, cited = aliased(self.sightings), aliased(self.sightings)
        c = self.citations
        return (
            select(
                c.citing_id.label("citing_id"),
                c.cited_id.label("cited_id"),
                raw(c.basis, "basis"),
                c.valid_from.label("valid_from"),
                raw(citing.stance, "stance"),
            )
            .join(citing, citing.id == c.citing_id)
            .join(cited, cited.id == c.cited_id)
            .where(self.members(citing), self.members(cited))
            .order_by(c.citing_id, c.cited_id)
        )

    async def _written(
        self, statement: Select[Any], build: Callable[[dict[str, Any]], Any]
    ) -> AsyncIterator[bytes]:
        async for chunk in stream_dicts(self.session, statement):
            objects: list[Any] = []
            for row in chunk:
                built = build(row)
                objects.extend(built if isinstance(built, list) else [built])
            if objects:
                yield b"," + _objects(objects)

    async def _ids(self) -> AsyncIterator[bytes]:
        """Every object's id but the report's, as the items of a JSON array."""
        yield f'"{TRACER.id}"'.encode()
        async for chunk in stream_dicts(self.session, self._outlet_rows()):
            yield "".join(f',"{stix_id("identity", row["id"])}"' for row in chunk).encode()
        async for chunk in stream_dicts(self.session, self._page_rows()):
            yield "".join(f',"{_page(row).id}"' for row in chunk).encode()
        async for chunk in stream_dicts(self.session, self._sighting_rows()):
            ids: list[str] = []
            for row in chunk:
                ids += [
                    stix_id("observed-data", row["id"]),
                    stix_id("relationship", f"published-by:{row['id']}"),
                ]
            yield "".join(f',"{value}"' for value in ids).encode()
        async for chunk in stream_dicts(self.session, self._citation_rows()):
            yield "".join(f',"{_citation_id(row)}"' for row in chunk).encode()

    async def write(
        self, *, key: str, name: str, description: str | None, published: datetime
    ) -> AsyncIterator[bytes]:
        """The bundle, its objects written as they are read; `key` names the report for its id."""
        yield f'{{"type":"bundle","id":"{stix_id("bundle", key)}","objects":['.encode()
        yield TRACER.serialize().encode()
        async for part in self._written(self._outlet_rows(), _outlet):
            yield part
        async for part in self._written(self._page_rows(), _page):
            yield part
        async for part in self._written(self._sighting_rows(), _sighting):
            yield part
        async for part in self._written(self._citation_rows(), _citation):
            yield part
        # The report is checked by the library with one reference, then written with all of
        # them streamed in its place: holding every id at once would grow with the bundle.
        report = stix2.Report(
            id=stix_id("report", key),
            name=name,
            description=description,
            report_types=["threat-report"],
            published=published,
            created=published,
            modified=published,
            created_by_ref=TRACER.id,
            object_refs=[TRACER.id],
        )
        before, after = report.serialize().split(f'["{TRACER.id}"]', 1)
        yield ("," + before + "[").encode()
        async for part in self._ids():
            yield part
        yield ("]" + after + "]}").encode()
