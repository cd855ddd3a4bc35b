"""A sighting's page, and correcting or withdrawing it from there."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)

from app import outbox
from app.audit.service import Target
from app.enums import Precision, Stance
from app.errors import Gone, NotFound, TracerError
from app.evidence.service import text_preview
from app.pagination import PageParams
from app.recording import corrections
from app.sightings import service as sightings
from app.sightings.presenter import present
from app.sightings.schemas import Sighting as SightingOut
from app.transactions import SessionDep
from app.ui import forms, revising
from app.ui.claims import claim_or_404, history
from app.ui.deps import (
    PostedForm,
    Reader,
    Writer,
)
from app.ui.pages import PageError, render, when

CITE_CHOICES = 200

router = APIRouter(prefix="/ui", include_in_schema=False)
# The page shows the start of the kept text; the whole of it is a download away.
TEXT_SHOWN = 20_000


async def _current(session: SessionDep, sighting_id: str) -> SightingOut:
    try:
        found = await sightings.get_or_404(session=session, sighting_id=sighting_id)
    except Gone as exc:
        raise PageError(410, exc.detail) from None
    except NotFound:
        raise PageError(404, "There is no sighting with this id.") from None
    return (await present(session=session, sightings=[found]))[0]


async def _sighting_page(
    request: Request,
    session: SessionDep,
    sighting_id: str,
    *,
    correct: dict[str, Any] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    revisions = await history(session, Target.sighting, sighting_id)
    try:
        shown = await _current(session, sighting_id)
    except PageError as exc:
        if exc.status != 410:
            raise
        gone: dict[str, Any] = {"sighting": None, "gone": exc.message, "history": revisions}
        return render(request, "sighting.html", gone, status_code=410)
    values = correct or revising.current_values(shown)
    cited = [*shown.cites, *values.get("cites", [])]
    choices = await cite_choices(session, shown, list(dict.fromkeys(cited)))
    context: dict[str, Any] = {
        "sighting": shown,
        "claim": await claim_or_404(session, shown.claim_id),
        "cite_choices": choices,
        "cited": {s.id: s for s in choices},
        "history": revisions,
        "values": values,
        "errors": errors or {},
        "precisions": list(Precision),
        "stances": list(Stance),
        "notice": request.query_params.get("corrected"),
        "evidence_notice": request.query_params.get("evidence"),
        "evidence_text": await text_preview(
            request.app.state.evidence_store, shown.evidence.latest, limit=TEXT_SHOWN
        ),
    }
    return render(request, "sighting.html", context, status_code=status_code)


def named(sighting: SightingOut) -> str:
    """A sighting as a person names it: its outlet and its date."""
    precision = sighting.published_at_precision.value
    return f"{sighting.outlet.name}, {when(sighting.published_at, precision)}"


async def cite_choices(
    session: SessionDep, sighting: SightingOut, cited: list[str]
) -> list[SightingOut]:
    """What a sighting may cite, named: its claim's other sightings, and whatever it cites."""
    rows, _ = await sightings.list_sightings(
        session=session,
        page=PageParams(limit=CITE_CHOICES, cursor=None),
        claim_id=sighting.claim_id,
    )
    shown = [s for s in rows if s.id != sighting.id]
    known = {s.id for s in shown}
    for other in [c for c in cited if c not in known][:CITE_CHOICES]:
        try:
            shown.append(await sightings.get_or_404(session=session, sighting_id=other))
        except (NotFound, Gone):
            continue
    presented = await present(session=session, sightings=shown)
    return sorted(presented, key=lambda s: s.published_at)


@router.get("/sightings/{sighting_id}", response_class=HTMLResponse)
async def sighting_page(
    request: Request, session: SessionDep, _: Reader, sighting_id: str
) -> HTMLResponse:
    return await _sighting_page(request, session, sighting_id)


async def _refused(
    request: Request,
    session: SessionDep,
    sighting_id: str,
    which: str,
    exc: forms.FormErrors | TracerError,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The page again with the refused form's messages beside its fields; nothing kept."""
    await outbox.rollback(session)
    if isinstance(exc, forms.FormErrors):
        errors = exc.errors
    else:
        cites: list[str] = (values or {}).get("cites", [])
        shown = await _current(session, sighting_id)
        names = {s.id: named(s) for s in await cite_choices(session, shown, cites)}
        errors = forms.refusal(exc, names, cites)
    return await _sighting_page(
        request, session, sighting_id, correct=values, errors={which: errors}, status_code=422
    )


@router.post("/sightings/{sighting_id}/correct", response_class=HTMLResponse)
async def correct_sighting(
    request: Request, session: SessionDep, principal: Writer, posted: PostedForm, sighting_id: str
) -> Response:
    shown = await _current(session, sighting_id)
    try:
        await corrections.correct(
            session=session,
            actor=principal,
            sighting_id=sighting_id,
            patch=revising.correction(posted, shown),
            expected_revision=revising.expected_revision(posted),
        )
    except (forms.FormErrors, TracerError) as exc:
        values = revising.posted_correction(posted)
        return await _refused(request, session, sighting_id, "correct", exc, values)
    return RedirectResponse(f"/ui/sightings/{sighting_id}?corrected=1", status_code=303)


@router.post("/sightings/{sighting_id}/withdraw", response_class=HTMLResponse)
async def withdraw_sighting(
    request: Request, session: SessionDep, principal: Writer, posted: PostedForm, sighting_id: str
) -> Response:
    shown = await _current(session, sighting_id)
    try:
        await corrections.withdraw(
            session=session,
            actor=principal,
            sighting_id=sighting_id,
            reason=revising.withdrawal_reason(posted),
            relink=forms.text(posted, "relink") == "1",
            expected_revision=revising.expected_revision(posted),
        )
    except (forms.FormErrors, TracerError) as exc:
        return await _refused(request, session, sighting_id, "withdraw", exc)
    return RedirectResponse(f"/ui/claims/{shown.claim_id}?withdrawn=1", status_code=303)
