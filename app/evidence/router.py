"""Captures over HTTP: listing, the stored bytes (served so no browser runs them), uploads and
fetching again now."""

import contextlib
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse

from app.auth.deps import ReadKey, WriteKey
from app.errors import Gone, Invalid, NotFound
from app.evidence import service, uploads
from app.evidence.models import Capture
from app.evidence.store import EvidenceStore, MissingEvidence
from app.pagination import PageDep
from app.schemas import Page
from app.sightings import service as sightings
from app.sightings.presenter import present
from app.sightings.schemas import Capture as CaptureOut
from app.sightings.schemas import Evidence
from app.transactions import SessionDep

router = APIRouter(tags=["evidence"])

# Stored bytes are the source's, not the service's: never rendered or run as its own page.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "private, max-age=3600",
}
BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The stored bytes."},
    404: {"description": "No such capture, or nothing of this kind was kept."},
}


def _disposition(name: str) -> str:
    """An attachment header any client reads: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def serve_bytes(
    store: EvidenceStore, sha256: str | None, *, media_type: str, name: str
) -> StreamingResponse:
    if sha256 is None:
        raise NotFound("nothing of this kind was kept for this capture")
    try:
        stored = await store.open(sha256)
    except MissingEvidence as exc:
        raise NotFound("the stored bytes of this capture are missing from the store") from exc
    headers = {
        **SAFE_HEADERS,
        "Content-Disposition": _disposition(name),
        "Content-Length": str(stored.size),
    }
    return StreamingResponse(stored.chunks, media_type=media_type, headers=headers)


def store_of(request: Request) -> EvidenceStore:
    store: EvidenceStore = request.app.state.evidence_store
    return store


async def _known_sighting(session: Any, sighting_id: str) -> None:
    """404 for a sighting never recorded; a withdrawn one keeps its captures."""
    with contextlib.suppress(Gone):
        await sightings.get_or_404(session=session, sighting_id=sighting_id)


@router.get("/v1/sightings/{sighting_id}/captures", responses={410: {}})
async def list_captures(
    sighting_id: str, session: SessionDep, page: PageDep, _: ReadKey
) -> Page[CaptureOut]:
    """The sighting's captures, newest first."""
    await _known_sighting(session, sighting_id)
    rows, next_cursor = await service.list_captures(
        session=session, sighting_id=sighting_id, page=page
    )
    return Page(items=[CaptureOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/v1/sightings/{sighting_id}/captures",
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {"model": CaptureOut, "description": "The upload, stored as a capture."},
        202: {"model": Evidence, "description": "Queued: the source is fetched again now."},
        410: {"description": "The sighting was withdrawn."},
        413: {"description": "The file is over 50 MiB."},
    },
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        }
    },
)
async def capture_now(
    sighting_id: str, request: Request, session: SessionDep, _: WriteKey
) -> Response:
    """With no body, fetch the source again now (202); with a multipart `file`, keep the
    upload as a capture (201)."""
    sighting = await sightings.get_or_404(session=session, sighting_id=sighting_id)
    kind = request.headers.get("content-type", "")
    if not kind.lower().startswith("multipart/form-data"):
        if await request.body():
            raise Invalid(
                "send no body to fetch again, or multipart/form-data with a field `file`",
                loc=["file"],
            )
        await uploads.check_now(session=session, sighting=sighting)
        await session.flush()
        shown = (await present(session=session, sightings=[sighting]))[0]
        return JSONResponse(shown.evidence.model_dump(mode="json"), status.HTTP_202_ACCEPTED)
    form = await request.form(max_files=1, max_fields=1)
    try:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid("a multipart field `file` holding the evidence is required", loc=["file"])
        capture = await uploads.keep_upload(
            session=session,
            store=store_of(request),
            sighting=sighting,
            file=upload.file,
            filename=upload.filename,
            content_type=upload.content_type,
        )
    finally:
        await form.close()
    body = CaptureOut.model_validate(capture).model_dump(mode="json")
    return JSONResponse(body, status.HTTP_201_CREATED)


@router.get("/v1/captures/{capture_id}", responses={404: {}})
async def get_capture(capture_id: str, session: SessionDep, _: ReadKey) -> CaptureOut:
    return CaptureOut.model_validate(
        await service.get_capture(session=session, capture_id=capture_id)
    )


def download_name(capture: Capture, suffix: str) -> str:
    return capture.filename if capture.filename and not suffix else f"capture-{capture.id}{suffix}"


@router.get("/v1/captures/{capture_id}/content", response_class=Response, responses=BYTES)
async def capture_content(
    capture_id: str, request: Request, session: SessionDep, _: ReadKey
) -> StreamingResponse:
    """The body as received, as an attachment in its own content type."""
    capture = await service.get_capture(session=session, capture_id=capture_id)
    kind = uploads.media_type(capture.content_type)
    return await serve_bytes(
        store_of(request), capture.sha256, media_type=kind, name=download_name(capture, "")
    )


@router.get(
    "/v1/captures/{capture_id}/warc",
    response_class=Response,
    responses={**BYTES, 200: {"content": {"application/warc": {}}, "description": "WARC 1.1"}},
)
async def capture_warc(
    capture_id: str, request: Request, session: SessionDep, _: ReadKey
) -> StreamingResponse:
    """The fetch as a gzipped WARC 1.1 file: a request and a response record for every hop."""
    capture = await service.get_capture(session=session, capture_id=capture_id)
    return await serve_bytes(
        store_of(request),
        capture.warc_sha256,
        media_type="application/warc",
        name=download_name(capture, ".warc.gz"),
    )


@router.get(
    "/v1/captures/{capture_id}/text",
    response_class=Response,
    responses={**BYTES, 200: {"content": {"text/plain": {}}, "description": "The main text."}},
)
async def capture_text(
    capture_id: str, request: Request, session: SessionDep, _: ReadKey
) -> StreamingResponse:
    """The main text read from the capture; 404 when it had none."""
    capture = await service.get_capture(session=session, capture_id=capture_id)
    response = await serve_bytes(
        store_of(request),
        capture.text_sha256,
        media_type="text/plain; charset=utf-8",
        name=download_name(capture, ".txt"),
    )
    response.headers["Content-Disposition"] = response.headers["Content-Disposition"].replace(
        "attachment", "inline", 1
    )
    return response
