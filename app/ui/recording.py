"""Logging a sighting: the form, the suggestions it offers as a person types, and recording it."""

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)

from app import outbox
from app.claims import lexical, matching
from app.claims import service as claims
from app.config import Settings
from app.enums import OutletKind, Precision, Stance
from app.errors import TracerError
from app.idempotency.service import IdempotencyGuard
from app.outlets import service as outlets
from app.pagination import PageParams
from app.recording import service as recording
from app.sightings import service as sightings
from app.sightings.presenter import present
from app.transactions import SessionDep
from app.ui import fields, forms
from app.ui.deps import (
    PostedForm,
    Writer,
)
from app.ui.pages import render, when

router = APIRouter(prefix="/ui", include_in_schema=False)

SUGGESTIONS = 8
# How the summary of a refused form names each field: by its label, as the form shows it.
FIELD_LABELS = {
    "claim": "Claim",
    "summary": "Summary",
    "tags": "Tags",
    "outlet": "Outlet",
    "new_outlet_name": "New outlet's name",
    "new_outlet_kind": "New outlet's kind",
    "new_outlet_country": "New outlet's country",
    "url": "URL",
    "published_at": "Published at",
    "published_at_precision": "Date precision",
    "stance": "Stance",
    "cites": "Cites",
    "cites_outlets": "Cites outlets",
    "title": "Title",
    "language": "Language",
    "attribution": "Attribution",
    "excerpt": "Excerpt",
    "archive_url": "Archive URL",
    "content_sha256": "Content SHA-256",
    "form": "The form",
}
CITE_CHOICES = 200


@router.get("/sightings/new", response_class=HTMLResponse)
async def new_sighting(
    request: Request,
    session: SessionDep,
    _: Writer,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    form = forms.SightingForm(values={"form_token": secrets.token_urlsafe(24)})
    chosen = await claims.get(session=session, claim_id=claim_id) if claim_id else None
    if chosen is not None:
        form.values["claim_id"] = chosen.id
        form.values["claim_text"] = chosen.statement
    return await _sighting_form(request, session, form, {})


async def _sighting_form(
    request: Request,
    session: SessionDep,
    form: forms.SightingForm,
    errors: dict[str, str],
    matches: list[matching.Match] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    claim_id = form.get("claim_id")
    chosen = await claims.get(session=session, claim_id=claim_id) if claim_id else None
    cite_choices = await _cite_choices(session, chosen.id) if chosen else []
    context = {
        "form": form,
        "errors": errors,
        "matches": matches or [],
        "chosen": chosen,
        "cite_choices": cite_choices,
        "outlet_choices": _outlets_of(cite_choices),
        "labels": FIELD_LABELS,
        "kinds": list(OutletKind),
        "precisions": list(Precision),
        "stances": list(Stance),
    }
    return render(request, "sighting_form.html", context, status_code=status_code)


def _outlets_of(choices: list[Any]) -> list[Any]:
    """The outlets that carried the claim, the ones a new sighting may name as its source."""
    return list({s.outlet.slug: s.outlet for s in choices}.values())


async def _cite_choices(session: SessionDep, claim_id: str) -> list[Any]:
    """The claim's latest sightings, the ones a new sighting may cite."""
    rows, _ = await sightings.list_sightings(
        session=session, page=PageParams(limit=CITE_CHOICES, cursor=None), claim_id=claim_id
    )
    return rows


@router.post("/sightings/new", response_class=HTMLResponse)
async def record_sighting(
    request: Request, session: SessionDep, principal: Writer, posted: PostedForm
) -> Response:
    form = forms.read(posted)
    if not form.get("form_token"):
        form.values["form_token"] = secrets.token_urlsafe(24)
    # Every field is checked before anything is looked up or recorded, so that a refused form
    # names all its wrong fields at once rather than one per round.
    errors = forms.check(form) | await _unknown_outlet(session, form)
    matches: list[matching.Match] = []
    if "claim" not in errors and not form.get("claim_id"):
        matches = await _offer_matches(session, form, request.app.state.settings)
        if matches:
            errors["claim"] = (
                "Claims like this one are tracked already: pick one below, "
                "or tick “This is a new claim”."
            )
    if errors:
        return await _sighting_form(request, session, form, errors, matches, status_code=422)
    try:
        data = forms.request(form, claim_id=form.get("claim_id") or None)
        guard = IdempotencyGuard(
            session=session,
            principal=principal.idempotency_scope,
            key=f"ui-sighting:{form.get('form_token')}",
            request_hash=form.request_hash,
        )

        async def produce() -> Any:
            recorded = await recording.record(session=session, principal=principal, data=data)
            return (await present(session=session, sightings=[recorded]))[0]

        answer = await guard.respond(201, produce)
    except (forms.FormErrors, TracerError) as exc:
        # Nothing of a refused form is kept: no inline outlet, no claim, no spent form token,
        # and none of the events its recording had written.
        await outbox.rollback(session)
        if isinstance(exc, forms.FormErrors):
            errors = exc.errors
        else:
            chosen = form.get("claim_id")
            choices = await _cite_choices(session, chosen) if chosen else []
            names = {s.id: _named(s) for s in choices}
            errors = forms.problem_errors(exc, names, form.cites)
        return await _sighting_form(request, session, form, errors, status_code=422)
    shown = json.loads(bytes(answer.body))
    target = f"/ui/claims/{shown['claim_id']}?recorded={shown['id']}#s-{shown['id']}"
    return RedirectResponse(target, status_code=303)


def _named(sighting: Any) -> str:
    return f"{sighting.outlet.name}, {when(sighting.published_at, sighting.published_at_precision)}"


async def _unknown_outlet(session: SessionDep, form: forms.SightingForm) -> dict[str, str]:
    slug = form.get("outlet")
    if not slug or form.get("new_outlet_name") or not fields.valid("outlet", slug):
        return {}
    if await outlets.get_by_slug(session=session, slug=slug) is not None:
        return {}
    return {
        "outlet": f"There is no outlet with the slug “{slug}” yet: pick one from the list, "
        "or give the new outlet's name and kind below."
    }


async def _offer_matches(
    session: SessionDep, form: forms.SightingForm, settings: Settings
) -> list[matching.Match]:
    """Tracked claims like the one typed, unless the person confirmed it is a new one."""
    if form.get("new_claim"):
        return []
    text = form.get("claim_text")
    found = await matching.match(session=session, text=text, limit=SUGGESTIONS, settings=settings)
    if found and found[0].score >= 1.0:
        form.values["claim_id"] = found[0].claim.id
        return []
    # A match safe to link without review is chosen in advance; sending the form again takes it.
    same = [m for m in found if m.match == "same"]
    if same:
        form.values["claim_id"] = same[0].claim.id
    return found


@router.get("/fragments/claim-matches", response_class=HTMLResponse)
async def claim_matches(
    request: Request,
    session: SessionDep,
    _: Writer,
    claim_text: Annotated[str, Query(max_length=5000)] = "",
) -> HTMLResponse:
    found: list[matching.Match] = []
    if lexical.match_key(claim_text):
        found = await matching.match(
            session=session,
            text=claim_text,
            limit=SUGGESTIONS,
            settings=request.app.state.settings,
        )
    context = {"matches": found, "typed": claim_text.strip(), "chosen_id": ""}
    return render(request, "fragments/claim_matches.html", context)


@router.get("/fragments/outlets", response_class=HTMLResponse)
async def outlet_options(
    request: Request,
    session: SessionDep,
    _: Writer,
    outlet: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    found, _next = await outlets.list_outlets(
        session=session, page=PageParams(limit=SUGGESTIONS, cursor=None), q=outlet.strip() or None
    )
    exists = any(o.slug == outlet.strip() for o in found)
    context = {"outlets": found, "typed": outlet.strip(), "exists": exists}
    return render(request, "fragments/outlets.html", context)


@router.get("/fragments/cites", response_class=HTMLResponse)
async def cite_options(
    request: Request,
    session: SessionDep,
    _: Writer,
    claim_id: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    choices = await _cite_choices(session, claim_id) if claim_id else []
    context = {
        "cite_choices": choices,
        "outlet_choices": _outlets_of(choices),
        "picked": [],
        "picked_outlets": [],
        "claim_id": claim_id,
        "errors": {},
    }
    return render(request, "fragments/cites.html", context)
