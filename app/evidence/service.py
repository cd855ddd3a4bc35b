"""Reading evidence: a page of sightings' evidence in one query, captures by sighting or id."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.enums import EvidenceStatus
from app.errors import NotFound
from app.evidence.models import Capture, SightingEvidence
from app.evidence.store import EvidenceStore, MissingEvidence
from app.pagination import PageParams, SortKey, paginate
from app.sightings.presenter import shown_with
from app.sightings.schemas import Capture as CaptureOut
from app.sightings.schemas import Evidence
from app.streaming import raw

CAPTURE_FIELDS = list(CaptureOut.model_fields)
_PREFIX = "evidence_"
_LATEST = "evidence_latest_"


def shown(evidence: SightingEvidence | None, latest: Capture | None) -> Evidence:
    """A sighting's `evidence`; with no row yet, its source waits to be fetched."""
    if evidence is None:
        return Evidence()
    return Evidence(
        status=evidence.status,
        checked_at=evidence.checked_at,
        captures=evidence.captures,
        latest=CaptureOut.model_validate(latest) if latest is not None else None,
        problem=evidence.problem,
    )


async def evidence_of(
    *, session: AsyncSession, sighting_ids: Sequence[str] | Select[Any]
) -> dict[str, Evidence]:
    """The evidence of these sightings, with each one's latest capture, in one query."""
    rows = await session.execute(
        select(SightingEvidence, Capture)
        .outerjoin(Capture, Capture.id == SightingEvidence.latest_capture_id)
        .where(SightingEvidence.sighting_id.in_(sighting_ids))
    )
    return {evidence.sighting_id: shown(evidence, latest) for evidence, latest in rows}


shown_with("evidence", evidence_of)


def with_evidence(statement: Select[Any], sightings: Any) -> Select[Any]:
    """`statement` over `sightings` with each one's evidence columns added, for documents
    written straight from rows (chains, reports); `evidence_document` takes them back out."""
    evidence, latest = aliased(SightingEvidence), aliased(Capture)
    columns = [
        raw(evidence.status, _PREFIX + "status"),
        raw(evidence.checked_at, _PREFIX + "checked_at"),
        raw(evidence.captures, _PREFIX + "captures"),
        raw(evidence.problem, _PREFIX + "problem"),
        *(raw(getattr(latest, name), _LATEST + name) for name in CAPTURE_FIELDS),
    ]
    return (
        statement.outerjoin(evidence, evidence.sighting_id == sightings.id)
        .outerjoin(latest, latest.id == evidence.latest_capture_id)
        .add_columns(*columns)
    )


def evidence_document(row: dict[str, Any], *, compact: bool = False) -> dict[str, Any]:
    """The `evidence` of a row read through `with_evidence`, its columns taken out of the row;
    `compact`, the status alone."""
    status = row.pop(_PREFIX + "status") or EvidenceStatus.pending.value
    checked_at = row.pop(_PREFIX + "checked_at")
    captures = row.pop(_PREFIX + "captures") or 0
    problem = row.pop(_PREFIX + "problem")
    latest = {name: row.pop(_LATEST + name) for name in CAPTURE_FIELDS}
    if compact:
        return {"status": status}
    return {
        "status": status,
        "checked_at": checked_at,
        "captures": captures,
        "latest": latest if latest["id"] is not None else None,
        "problem": problem,
    }


async def list_captures(
    *, session: AsyncSession, sighting_id: str, page: PageParams
) -> tuple[list[Any], str | None]:
    """A sighting's captures, newest first."""
    statement = select(Capture).where(Capture.sighting_id == sighting_id)
    keys = [SortKey(Capture.captured_at, descending=True), SortKey(Capture.id, descending=True)]
    return await paginate(session, statement, keys, page)


async def get_capture(*, session: AsyncSession, capture_id: str) -> Capture:
    """The capture, or 404."""
    capture = await session.get(Capture, capture_id)
    if capture is None:
        raise NotFound(f"no capture with id {capture_id!r}")
    return capture


async def text_preview(
    store: EvidenceStore, capture: CaptureOut | None, *, limit: int
) -> str | None:
    """The start of a capture's main text, at most `limit` bytes of it; None when it has none."""
    if capture is None or capture.text_sha256 is None:
        return None
    kept = bytearray()
    try:
        async for chunk in store.stream(capture.text_sha256):
            kept += chunk[: limit - len(kept)]
            if len(kept) >= limit:
                break
    except MissingEvidence:
        return None
    return kept.decode("utf-8", "ignore")
