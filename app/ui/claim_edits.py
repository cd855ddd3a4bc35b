"""Correcting a claim and merging a duplicate into another, from the pages, through the same
services as `PATCH /v1/claims/{id}` and `POST /v1/claims/{id}/merge`."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import outbox
from app.claims import matching, merge
from app.claims import service as claims
from app.claims.models import Claim
from app.errors import TracerError
from app.transactions import SessionDep
from app.ui import forms, revising
from app.ui.claims import claim_or_404
from app.ui.deps import PostedForm, Writer
from app.ui.pages import render

router = APIRouter(prefix="/ui", include_in_schema=False)

CHOICES = 8
# The fields a claim choice may fill: a sighting's claim, a survivor, the claim grown from.
CHOICE_NAMES = {"claim_id", "into", "variant_of"}


async def _choices(
    request: Request, session: SessionDep, text: str, exclude: str
) -> list[matching.Match]:
    """Tracked claims like the words typed, across wording and language; never `exclude`."""
    if not text.strip():
        return []
    found = await matching.match(
        session=session, text=text, limit=CHOICES + 1, settings=request.app.state.settings
    )
    return [m for m in found if m.claim.id != exclude][:CHOICES]


@router.get("/fragments/claim-choices", response_class=HTMLResponse)
async def claim_choices(
    request: Request,
    session: SessionDep,
    _: Writer,
    q: Annotated[str, Query(max_length=500)] = "",
    claim_search: Annotated[str, Query(max_length=500)] = "",
    name: Annotated[str, Query(max_length=20)] = "claim_id",
    exclude: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    found = await _choices(request, session, q or claim_search, exclude)
    field = name if name in CHOICE_NAMES else "claim_id"
    context = {"choices": found, "name": field, "typed": (q or claim_search).strip()}
    return render(request, "fragments/claim_choices.html", context)


async def _edit_page(
    request: Request,
    session: SessionDep,
    claim: Claim,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = values or revising.claim_values(claim)
    parent = values.get("variant_of")
    context: dict[str, Any] = {
        "claim": claim,
        "values": values,
        "errors": errors or {},
        "parent": await claims.get(session=session, claim_id=parent) if parent else None,
    }
    return render(request, "claim_edit.html", context, status_code=status_code)


@router.get("/claims/{claim_id}/edit", response_class=HTMLResponse)
async def edit_claim(
    request: Request, session: SessionDep, _: Writer, claim_id: str
) -> HTMLResponse:
    return await _edit_page(request, session, await claim_or_404(session, claim_id))


@router.post("/claims/{claim_id}/edit", response_class=HTMLResponse)
async def correct_claim(
    request: Request, session: SessionDep, principal: Writer, posted: PostedForm, claim_id: str
) -> Response:
    claim = await claim_or_404(session, claim_id)
    try:
        await claims.correct(
            session=session,
            claim_id=claim.id,
            data=revising.claim_correction(posted, claim),
            actor=principal,
            expected_revision=revising.expected_revision(posted),
        )
    except (forms.FormErrors, TracerError) as exc:
        await outbox.rollback(session)
        errors = exc.errors if isinstance(exc, forms.FormErrors) else _claim_refusal(exc)
        claim = await claim_or_404(session, claim_id)
        values = revising.posted_claim(posted)
        return await _edit_page(request, session, claim, values, errors, status_code=422)
    return RedirectResponse(f"/ui/claims/{claim.id}?corrected=1", status_code=303)


def _claim_refusal(exc: TracerError) -> dict[str, str]:
    existing = exc.extra.get("existing_id")
    if existing:
        return {"statement": "Another tracked claim says the same: merge this one into it instead."}
    return forms.refusal(exc)


async def _merge_page(
    request: Request,
    session: SessionDep,
    claim: Claim,
    q: str,
    errors: dict[str, str] | None = None,
    picked: str = "",
    reason: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "claim": claim,
        "q": q,
        "choices": await _choices(request, session, q or claim.statement, claim.id),
        "picked": picked,
        "reason": reason,
        "errors": errors or {},
    }
    return render(request, "claim_merge.html", context, status_code=status_code)


@router.get("/claims/{claim_id}/merge", response_class=HTMLResponse)
async def merge_page(
    request: Request,
    session: SessionDep,
    _: Writer,
    claim_id: str,
    q: Annotated[str, Query(max_length=500)] = "",
) -> HTMLResponse:
    return await _merge_page(request, session, await claim_or_404(session, claim_id), q.strip())


@router.post("/claims/{claim_id}/merge", response_class=HTMLResponse)
async def merge_claim(
    request: Request, session: SessionDep, principal: Writer, posted: PostedForm, claim_id: str
) -> Response:
    claim = await claim_or_404(session, claim_id)
    try:
        asked = revising.merge_request(posted)
        survivor = await merge.merge(
            session=session,
            actor=principal,
            claim_id=claim.id,
            into=asked.into,
            reason=asked.reason,
            expected_revision=revising.expected_revision(posted),
        )
    except (forms.FormErrors, TracerError) as exc:
        await outbox.rollback(session)
        errors = exc.errors if isinstance(exc, forms.FormErrors) else forms.refusal(exc)
        claim = await claim_or_404(session, claim_id)
        return await _merge_page(
            request,
            session,
            claim,
            forms.text(posted, "q"),
            errors,
            picked=forms.text(posted, "into"),
            reason=forms.text(posted, "reason"),
            status_code=422,
        )
    return RedirectResponse(f"/ui/claims/{survivor.id}?merged=1", status_code=303)
