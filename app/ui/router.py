"""Pages for people under /ui/: they call the domain services, as the API's routes do."""

import json
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Header, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles

from app import outbox
from app.alerts import service as alerts
from app.alerts.models import EventType
from app.alerts.stream import event_stream
from app.audit import service as audit
from app.audit.schemas import Revision
from app.audit.service import Target
from app.auth.service import authenticate
from app.chains import claimreview
from app.chains.exports import ChainFormat
from app.chains.outline import outline
from app.chains.responses import chain_response
from app.claims import lexical, matching
from app.claims import service as claims
from app.claims.models import Claim
from app.claims.schemas import Claim as ClaimOut
from app.config import Settings
from app.denials import service as denials
from app.enums import DenialStatus, OutletKind, Precision, Stance
from app.errors import Gone, NotFound, TracerError
from app.idempotency.service import IdempotencyGuard
from app.outlets import service as outlets
from app.pagination import PageParams
from app.sightings import corrections
from app.sightings import service as sightings
from app.sightings.presenter import present
from app.sightings.schemas import Sighting as SightingOut
from app.transactions import SessionDep
from app.ui import corrections as ui_corrections
from app.ui import forms, graph, pages, sessions, timeline
from app.ui.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PostedForm,
    Reader,
    Writer,
    session_lifetime,
)
from app.ui.pages import PageError, render
from app.ui.security import PageHeaders, same_token

router = APIRouter(prefix="/ui", include_in_schema=False)

CLAIMS_PER_PAGE = 50
TABLE_ROWS = 200
SUGGESTIONS = 8
CITE_CHOICES = 200
MAX_EVENT_ID = 2**63 - 1
HISTORY_ROWS = 100
OFFICIAL_WORD_SHOWN = 100


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _safe_next(target: str | None) -> str:
    """Only a path of this site's pages: never another host after signing in."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/claims"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/ui/claims", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, next_: Annotated[str | None, Query(alias="next", max_length=500)] = None
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next_)})
    _cookie(response, request, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next_: Annotated[str, Form(alias="next", max_length=500)] = "",
) -> Response:
    if not same_token(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        raise PageError(403, "This sign-in form has expired. Reload the page and try again.")
    settings: Settings = request.app.state.settings
    bootstrap = settings.bootstrap_admin_key
    principal = (
        await authenticate(
            session=session,
            presented=api_key.strip(),
            bootstrap_key=bootstrap.get_secret_value() if bootstrap else None,
        )
        if api_key.strip()
        else None
    )
    if principal is None:
        context = {
            "login_csrf": csrf_token,
            "next": _safe_next(next_),
            "error": "This API key is unknown or revoked.",
        }
        return render(request, "login.html", context, status_code=401)
    lifetime = session_lifetime(request)
    token, _ = await sessions.open_session(session=session, principal=principal, lifetime=lifetime)
    response = RedirectResponse(_safe_next(next_), status_code=303)
    _cookie(response, request, SESSION_COOKIE, token, int(lifetime.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep, _: Reader, __: PostedForm) -> Response:
    await sessions.close(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def _status(value: str | None) -> DenialStatus | None:
    if not value:
        return None
    try:
        return DenialStatus(value)
    except ValueError:
        raise PageError(422, f"Unknown status {value!r}.") from None


@router.get("/claims", response_class=HTMLResponse)
async def claims_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    q: Annotated[str | None, Query(max_length=500)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    tag: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    found, next_cursor = await claims.list_claims(
        session=session,
        page=PageParams(limit=CLAIMS_PER_PAGE, cursor=cursor or None),
        q=q or None,
        status=_status(status),
        tag=tag or None,
    )
    filters = {"q": q or "", "status": status or "", "tag": tag or ""}
    more = urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    context = {"claims": found, "filters": filters, "statuses": list(DenialStatus), "more": more}
    return render(request, "claims.html", context)


async def _claim_or_404(session: SessionDep, claim_id: str) -> Claim:
    claim = await claims.get(session=session, claim_id=claim_id)
    if claim is None:
        raise PageError(404, "There is no claim with this id.")
    return claim


@router.get("/claims/{claim_id}", response_class=HTMLResponse)
async def claim_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    claim_id: str,
    recorded: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    if (survivor := await claims.merged_into(session=session, claim_id=claim_id)) is not None:
        # A duplicate merged away: its page is the survivor's, as in the API.
        return RedirectResponse(f"/ui/claims/{survivor}", status_code=308)
    claim = await _claim_or_404(session, claim_id)
    chain = await outline(
        session=session,
        claim=claim,
        whole_up_to=timeline.MAX_MARKS,
        shown=TABLE_ROWS,
        busiest=graph.MAX_OUTLET_NODES,
        lanes=timeline.MAX_LANES,
    )
    word, word_total = await denials.official_word_preview(
        session=session, claim=claim, limit=OFFICIAL_WORD_SHOWN
    )
    denial = chain.first_denial
    context = {
        "claim": claim,
        "chain": chain,
        "word": [SightingOut.model_validate(s) for s in word],
        "word_total": word_total,
        "svg": timeline.render(chain),
        "graph": graph.elements(chain),
        "rows": chain.nodes[:TABLE_ROWS],
        "on_path": set(chain.path),
        "denial_at": denial.published_at if denial else None,
        "recorded": recorded,
        "withdrawn": request.query_params.get("withdrawn"),
        "history": await _history(session, Target.claim, claim.id),
        "formats": ["json", "csv", "graphml", "gexf", "claimreview"],
    }
    return render(request, "claim.html", context)


@router.get("/claims/{claim_id}/export/{file_format}")
async def export(
    request: Request, session: SessionDep, _: Reader, claim_id: str, file_format: str
) -> Response:
    claim = await _claim_or_404(session, claim_id)
    disposition = {"Content-Disposition": f'attachment; filename="claim-{claim.id}.{file_format}"'}
    if file_format == "claimreview":
        reviews = await claimreview.reviews(session=session, claim=claim)
        return JSONResponse(reviews, media_type="application/ld+json", headers=disposition)
    try:
        chosen = ChainFormat(file_format)
    except ValueError:
        raise PageError(404, f"There is no export format {file_format!r}.") from None
    return chain_response(
        sessionmaker=request.app.state.sessionmaker,
        claim=claim,
        file_format=chosen,
        filename=f"claim-{claim.id}.{file_format}",
    )


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
        "kinds": list(OutletKind),
        "precisions": list(Precision),
        "stances": list(Stance),
    }
    return render(request, "sighting_form.html", context, status_code=status_code)


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
    claim_id = form.get("claim_id") or None
    try:
        if claim_id is None:
            matches = await _offer_matches(session, form, request.app.state.settings)
            if matches:
                message = (
                    "Claims like this one are tracked already: pick one below, "
                    "or tick “This is a new claim”."
                )
                return await _sighting_form(
                    request, session, form, {"claim": message}, matches, status_code=422
                )
        data = forms.request(form, claim_id=claim_id)
        guard = IdempotencyGuard(
            session=session,
            principal=principal.idempotency_scope,
            key=f"ui-sighting:{form.get('form_token')}",
            request_hash=form.request_hash,
        )

        async def produce() -> Any:
            recorded = await sightings.record(session=session, principal=principal, data=data)
            return (await present(session=session, sightings=[recorded]))[0]

        answer = await guard.respond(201, produce)
    except (forms.FormErrors, TracerError) as exc:
        # Nothing of a refused form is kept: no inline outlet, no claim, no spent form token,
        # and none of the events its recording had written.
        await outbox.rollback(session)
        errors = exc.errors if isinstance(exc, forms.FormErrors) else forms.problem_errors(exc)
        return await _sighting_form(request, session, form, errors, status_code=422)
    shown = json.loads(bytes(answer.body))
    target = f"/ui/claims/{shown['claim_id']}?recorded={shown['id']}#s-{shown['id']}"
    return RedirectResponse(target, status_code=303)


async def _offer_matches(
    session: SessionDep, form: forms.SightingForm, settings: Settings
) -> list[matching.Match]:
    """Tracked claims like the one typed, unless the person confirmed it is a new one."""
    text = form.get("claim_text")
    if not text:
        raise forms.FormErrors({"claim": "Pick a claim, or type a new one."})
    if form.get("new_claim"):
        return []
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
    context = {"cite_choices": choices, "picked": [], "claim_id": claim_id}
    return render(request, "fragments/cites.html", context)


async def _history(session: SessionDep, target: Target, target_id: str) -> list[Any]:
    rows, _ = await audit.history(
        session=session,
        target_type=target,
        target_id=target_id,
        page=PageParams(limit=HISTORY_ROWS, cursor=None),
    )
    return [Revision.model_validate(r) for r in rows]


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
    correct: dict[str, str] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    history = await _history(session, Target.sighting, sighting_id)
    try:
        shown = await _current(session, sighting_id)
    except PageError as exc:
        if exc.status != 410:
            raise
        gone: dict[str, Any] = {"sighting": None, "gone": exc.message, "history": history}
        return render(request, "sighting.html", gone, status_code=410)
    context: dict[str, Any] = {
        "sighting": shown,
        "claim": await _claim_or_404(session, shown.claim_id),
        "history": history,
        "values": correct or ui_corrections.current_values(shown),
        "errors": errors or {},
        "precisions": list(Precision),
        "stances": list(Stance),
        "notice": request.query_params.get("corrected"),
    }
    return render(request, "sighting.html", context, status_code=status_code)


@router.get("/sightings/{sighting_id}", response_class=HTMLResponse)
async def sighting_page(
    request: Request, session: SessionDep, _: Reader, sighting_id: str
) -> HTMLResponse:
    return await _sighting_page(request, session, sighting_id)


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
            patch=ui_corrections.patch(posted, shown),
            expected_revision=ui_corrections.expected_revision(posted),
        )
    except (forms.FormErrors, TracerError) as exc:
        await outbox.rollback(session)
        errors = exc.errors if isinstance(exc, forms.FormErrors) else ui_corrections.refusal(exc)
        values = ui_corrections.posted_values(posted)
        return await _sighting_page(
            request,
            session,
            sighting_id,
            correct=values,
            errors={"correct": errors},
            status_code=422,
        )
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
            reason=ui_corrections.withdrawal_reason(posted),
            relink=ui_corrections.text(posted, "relink") == "1",
            expected_revision=ui_corrections.expected_revision(posted),
        )
    except (forms.FormErrors, TracerError) as exc:
        await outbox.rollback(session)
        errors = exc.errors if isinstance(exc, forms.FormErrors) else ui_corrections.refusal(exc)
        return await _sighting_page(
            request, session, sighting_id, errors={"withdraw": errors}, status_code=422
        )
    return RedirectResponse(f"/ui/claims/{shown.claim_id}?withdrawn=1", status_code=303)


@router.get("/denials", response_class=HTMLResponse)
async def denials_page(request: Request, session: SessionDep, _: Reader) -> HTMLResponse:
    # Read the event position before the list: a denial landing in between shows in both, and
    # the page drops the repeat, rather than in neither.
    after = await alerts.last_event_id(session=session)
    rows, _next, view = await denials.list_denials(
        session=session, page=PageParams(limit=CLAIMS_PER_PAGE, cursor=None)
    )
    found = await denials.claims_by_id(
        session=session, claim_ids=[r.claim_id for r in rows], view=view
    )
    shown = await present(session=session, sightings=rows, view=view)
    items = [(s, ClaimOut.model_validate(found[s.claim_id])) for s in shown]
    return render(request, "denials.html", {"items": items, "after": after})


@router.get("/denials/stream")
async def denials_stream(
    request: Request,
    _: Reader,
    after: Annotated[int, Query(ge=0, le=MAX_EVENT_ID)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=30)] = None,
) -> StreamingResponse:
    """The alerts event stream, official denials only, for a signed-in browser."""
    if last_event_id and last_event_id.strip().isdigit():
        after = min(int(last_event_id), MAX_EVENT_ID)
    settings: Settings = request.app.state.settings
    body = event_stream(
        sessionmaker=request.app.state.sessionmaker,
        wakeup=request.app.state.wakeup,
        after=after,
        types=[EventType.denial_recorded],
        claim_id=None,
        heartbeat_seconds=settings.stream_heartbeat_seconds,
        poll_seconds=settings.stream_poll_seconds,
    )
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def install(app: FastAPI) -> None:
    """Serve the pages, their files and their security headers from this app."""
    pages.install(app)
    app.add_middleware(PageHeaders)
    app.include_router(router)
    app.mount(pages.STATIC_URL, StaticFiles(directory=pages.STATIC), name="ui-static")
