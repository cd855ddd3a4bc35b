"""A sighting's evidence from its page: fetching its source again, uploading evidence, and
downloading what was kept."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, StreamingResponse

from app.errors import Gone, NotFound, PayloadTooLarge
from app.evidence import router as downloads
from app.evidence import service, uploads
from app.sightings import service as sightings
from app.sightings.models import Sighting
from app.transactions import SessionDep
from app.ui.deps import PostedForm, Reader, Writer
from app.ui.pages import PageError
from app.ui.security import same_token

router = APIRouter(prefix="/ui", include_in_schema=False)


async def _sighting(session: SessionDep, sighting_id: str) -> Sighting:
    try:
        return await sightings.get_or_404(session=session, sighting_id=sighting_id)
    except Gone as exc:
        raise PageError(410, exc.detail) from None
    except NotFound:
        raise PageError(404, "There is no sighting with this id.") from None


@router.post("/sightings/{sighting_id}/capture")
async def capture_again(
    session: SessionDep, _: Writer, posted: PostedForm, sighting_id: str
) -> RedirectResponse:
    sighting = await _sighting(session, sighting_id)
    await uploads.check_now(session=session, sighting=sighting)
    return RedirectResponse(f"/ui/sightings/{sighting_id}?evidence=queued", status_code=303)


@router.post("/sightings/{sighting_id}/captures")
async def upload_evidence(
    request: Request, session: SessionDep, _: Writer, sighting_id: str
) -> RedirectResponse:
    sighting = await _sighting(session, sighting_id)
    form = await request.form(max_files=1, max_fields=2)
    try:
        token = form.get("csrf_token")
        if not same_token(request.state.ui_csrf, token if isinstance(token, str) else None):
            raise PageError(403, "This form has expired or came from another site. Reload it.")
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise PageError(422, "Choose a file to upload as evidence.")
        try:
            await uploads.keep_upload(
                session=session,
                store=downloads.store_of(request),
                sighting=sighting,
                file=upload.file,
                filename=upload.filename,
                content_type=upload.content_type,
            )
        except PayloadTooLarge:
            raise PageError(
                413, "That file is over 50 MiB, the most evidence one upload may be."
            ) from None
    finally:
        await form.close()
    return RedirectResponse(f"/ui/sightings/{sighting_id}?evidence=uploaded", status_code=303)


async def _download(
    request: Request, session: SessionDep, capture_id: str, what: str
) -> StreamingResponse:
    try:
        capture = await service.get_capture(session=session, capture_id=capture_id)
        store = downloads.store_of(request)
        if what == "warc":
            return await downloads.serve_bytes(
                store,
                capture.warc_sha256,
                media_type="application/warc",
                name=downloads.download_name(capture, ".warc.gz"),
            )
        return await downloads.serve_bytes(
            store,
            capture.sha256,
            media_type=uploads.media_type(capture.content_type),
            name=downloads.download_name(capture, ""),
        )
    except NotFound:
        raise PageError(404, "Nothing of this kind was kept for this capture.") from None


@router.get("/captures/{capture_id}/content")
async def capture_content(
    request: Request, session: SessionDep, _: Reader, capture_id: str
) -> StreamingResponse:
    return await _download(request, session, capture_id, "content")


@router.get("/captures/{capture_id}/warc")
async def capture_warc(
    request: Request, session: SessionDep, _: Reader, capture_id: str
) -> StreamingResponse:
    return await _download(request, session, capture_id, "warc")
