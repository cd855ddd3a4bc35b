"""Evidence a person uploads (a screenshot, a recording, a PDF of a deleted post), kept like a
fetched body; and the asking for a source to be fetched again now."""

import asyncio
import re
import unicodedata
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from app import outbox
from app.claims.models import Claim
from app.db import new_id, utcnow
from app.enums import CaptureSource, EvidenceStatus
from app.errors import PayloadTooLarge
from app.evidence.capturing import put_bytes
from app.evidence.events import EvidenceCaptured
from app.evidence.models import Capture, SightingEvidence
from app.evidence.queue import enqueue
from app.evidence.readers import read_body
from app.evidence.reading import text_sha256
from app.evidence.store import BodyFile, EvidenceStore
from app.sightings.models import Sighting

UPLOAD_MAX_BYTES = 50 * 2**20
CHUNK = 64 * 1024
# type/subtype with optional parameters, in the tokens RFC 9110 allows: anything else a client
# declares is not repeated back in a header.
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}"
    r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]{1,64}=(\"[^\"\\\\\r\n]{0,64}\"|[A-Za-z0-9!#$&^_.+-]{1,64}))*"
)


def media_type(declared: str | None) -> str:
    """The declared content type when it is a well-formed media type, else a neutral one."""
    value = (declared or "").strip()
    if len(value) <= 255 and _MEDIA_TYPE.fullmatch(value):
        return value
    return "application/octet-stream"


def file_name(declared: str | None) -> str | None:
    """The upload's own name without any folder, control or format characters; None if
    nothing is left."""
    base = re.split(r"[\\/]", declared or "")[-1]
    kept = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return kept[:255] or None


def _copy(source: BinaryIO, body: BodyFile) -> None:
    while chunk := source.read(CHUNK):
        if body.size + len(chunk) > UPLOAD_MAX_BYTES:
            raise PayloadTooLarge("file: an upload may be at most 50 MiB")
        body.write(chunk)


async def keep_upload(
    *,
    session: AsyncSession,
    store: EvidenceStore,
    sighting: Sighting,
    file: BinaryIO,
    filename: str | None,
    content_type: str | None,
    temp_dir: Path | None = None,
) -> Capture:
    """Store an uploaded file as a capture of the sighting; its status is the source's and
    stays as it is."""
    with BodyFile(temp_dir) as body:
        await asyncio.to_thread(_copy, file, body)
        sha256 = body.finish()
    try:
        kind = media_type(content_type)
        title, text = await read_body(body.path, url=sighting.url, content_type=kind)
        await store.put_file(body.path, sha256=sha256)
    finally:
        body.path.unlink(missing_ok=True)
    if text:
        await put_bytes(store, text.encode("utf-8"), temp_dir)
    capture = Capture(
        id=new_id(),
        sighting_id=sighting.id,
        source=CaptureSource.upload,
        content_type=kind,
        size=body.size,
        sha256=sha256,
        text_sha256=text_sha256(text),
        title=title,
        captured_at=utcnow(),
        filename=file_name(filename),
    )
    session.add(capture)
    evidence = await session.get(SightingEvidence, sighting.id)
    if evidence is None:
        evidence = SightingEvidence(
            sighting_id=sighting.id,
            status=EvidenceStatus.pending,
            captures=0,
            rechecks=0,
            attempts=0,
            due_at=utcnow(),
        )
        session.add(evidence)
    previous = evidence.latest_capture_id
    evidence.captures += 1
    evidence.latest_capture_id = capture.id
    await session.flush()
    if evidence.captures == 1:
        event = EvidenceCaptured(
            sighting_id=sighting.id,
            claim_id=sighting.claim_id,
            outlet=sighting.outlet.slug,
            url=sighting.url,
            capture_id=capture.id,
            previous_capture_id=previous,
            http_status=None,
        )
        claim = await session.get(Claim, sighting.claim_id)
        tags = claim.tags if claim is not None else []
        await outbox.emit(session=session, event=event, claim_id=sighting.claim_id, tags=tags)
    return capture


async def check_now(*, session: AsyncSession, sighting: Sighting) -> None:
    """Fetch the sighting's source again as soon as a worker is free."""
    await enqueue(session=session, sighting_ids=[sighting.id], now=utcnow())
