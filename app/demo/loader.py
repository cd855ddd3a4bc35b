"""`tracer demo`: the worked example, recorded through the same services as the API."""

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.claims import matching
from app.claims import service as claims
from app.claims.schemas import ClaimCreate
from app.enums import Scope
from app.outlets import service as outlets
from app.outlets.schemas import OutletCreate
from app.recording import service as recording
from app.recording.schemas import SightingCreate
from app.sightings.models import Sighting
from app.urls import canonical_url

DEMO_PRINCIPAL = Principal(key_id=None, name="tracer demo", scope=Scope.write)


@dataclass(frozen=True)
class DemoResult:
    claim_ids: dict[str, str]
    created: int
    already_there: int


def worked_example() -> dict[str, Any]:
    """The worked example as shipped with the package."""
    text = resources.files("app.demo").joinpath("worked_example.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def load(*, session: AsyncSession) -> DemoResult:
    """Record the worked example; what is already stored is left as it is."""
    data = worked_example()
    url = data["source"]["url"]
    for outlet in data["outlets"]:
        await outlets.get_or_create(
            session=session, data=OutletCreate(**outlet), actor=DEMO_PRINCIPAL
        )
    claim_ids: dict[str, str] = {}
    for raw in data["claims"]:
        fields = {k: v for k, v in raw.items() if k != "ref"}
        claim, _ = await claims.get_or_create(
            session=session, data=ClaimCreate(**fields), loc=[], actor=DEMO_PRINCIPAL
        )
        claim_ids[raw["ref"]] = claim.id
    sighting_ids: dict[str, str] = {}
    created = 0
    for raw in data["sightings"]:
        fields = {k: v for k, v in raw.items() if k not in ("ref", "claim", "cites")}
        outlet = await outlets.get_or_404(session=session, slug=raw["outlet"])
        existing = await session.scalar(
            select(Sighting.id).where(
                Sighting.claim_id == claim_ids[raw["claim"]],
                Sighting.outlet_id == outlet.id,
                Sighting.canonical_url == canonical_url(url),
            )
        )
        if existing is None:
            request = SightingCreate(
                **fields,
                claim_id=claim_ids[raw["claim"]],
                url=url,
                cites=[sighting_ids[ref] for ref in raw.get("cites", [])],
            )
            recorded = await recording.record(
                session=session, principal=DEMO_PRINCIPAL, data=request
            )
            existing = recorded.id
            created += 1
        sighting_ids[raw["ref"]] = existing
    await matching.embed_pending(session=session)
    return DemoResult(
        claim_ids=claim_ids, created=created, already_there=len(data["sightings"]) - created
    )
