"""Outlets: the list, and an outlet's record across claims."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app import outbox
from app.claims import service as claims
from app.claims.schemas import Claim as ClaimOut
from app.enums import OutletKind
from app.errors import Conflict, NotFound, TracerError
from app.network import service as network
from app.network.filters import Selection
from app.outlets import service as outlets
from app.outlets.schemas import Outlet as OutletOut
from app.outlets.schemas import OutletUpdate
from app.pagination import PageParams
from app.transactions import SessionDep
from app.ui import forms, revising
from app.ui.deps import PostedForm, Reader, Writer
from app.ui.legend import KIND_LABELS
from app.ui.pages import PageError, render

router = APIRouter(prefix="/ui", include_in_schema=False)

OUTLETS_PER_PAGE = 50
CLAIMS_SHOWN = 50
MAX_DOMAINS = 50


def _kind(value: str | None) -> OutletKind | None:
    if not value:
        return None
    try:
        return OutletKind(value)
    except ValueError:
        raise PageError(422, f"Unknown kind {value!r}.") from None


@router.get("/outlets", response_class=HTMLResponse)
async def outlets_page(
    request: Request,
    session: SessionDep,
    _: Reader,
    q: Annotated[str | None, Query(max_length=300)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    rows, next_cursor = await outlets.list_outlets(
        session=session,
        page=PageParams(limit=OUTLETS_PER_PAGE, cursor=cursor),
        kind=_kind(kind),
        q=q or None,
    )
    filters = {"q": q or "", "kind": kind or ""}
    more = urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
    context = {
        "outlets": [OutletOut.model_validate(o) for o in rows],
        "filters": filters,
        "kinds": KIND_LABELS,
        "more": more,
    }
    return render(request, "outlets.html", context)


@router.get("/outlets/{slug}", response_class=HTMLResponse)
async def outlet_page(request: Request, session: SessionDep, _: Reader, slug: str) -> HTMLResponse:
    return await _outlet_page(request, session, slug)


@router.post("/outlets/{slug}/domains", response_class=HTMLResponse)
async def correct_domains(
    request: Request, session: SessionDep, principal: Writer, posted: PostedForm, slug: str
) -> Response:
    """The outlet's addresses, one a line, corrected as a new revision of the outlet."""
    entries = [line.strip() for line in forms.text(posted, "domains").splitlines() if line.strip()]
    try:
        if len(entries) > MAX_DOMAINS:
            raise forms.FormErrors({"domains": f"An outlet has at most {MAX_DOMAINS} addresses."})
        try:
            data = OutletUpdate(domains=entries, reason=forms.text(posted, "reason") or None)
        except ValidationError:
            raise forms.FormErrors(
                {
                    "domains": "Write each address as a host (asiatimes.com) or a host with a "
                    "path (t.me/channel), one a line, without http:// or spaces."
                }
            ) from None
        await outlets.correct(
            session=session,
            slug=slug,
            data=data,
            actor=principal,
            expected_revision=revising.expected_revision(posted),
        )
    except NotFound:
        raise PageError(404, "There is no such outlet.") from None
    except (forms.FormErrors, TracerError) as exc:
        await outbox.rollback(session)
        errors = exc.errors if isinstance(exc, forms.FormErrors) else _domains_refusal(exc)
        typed = forms.text(posted, "domains")
        return await _outlet_page(request, session, slug, errors, typed, status_code=422)
    return RedirectResponse(f"/ui/outlets/{slug}?corrected=1", status_code=303)


def _domains_refusal(exc: TracerError) -> dict[str, str]:
    if isinstance(exc, Conflict):
        return {"domains": "Another outlet already publishes under one of these addresses."}
    return forms.refusal(exc)


async def _outlet_page(
    request: Request,
    session: SessionDep,
    slug: str,
    errors: dict[str, str] | None = None,
    typed_domains: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        outlet = await outlets.get_or_404(session=session, slug=slug)
    except NotFound:
        raise PageError(404, "There is no such outlet.") from None
    record = await network.record(session=session, outlet=outlet, selection=Selection())
    carried, more_claims = await claims.list_claims(
        session=session, page=PageParams(limit=CLAIMS_SHOWN, cursor=None), outlet_id=outlet.id
    )
    repeated = await network.repeated_after_denial(
        session=session, outlet_id=outlet.id, limit=CLAIMS_SHOWN
    )
    domains = list(record.outlet.domains)
    context: dict[str, Any] = {
        "outlet": record.outlet,
        "record": record,
        "kind_label": KIND_LABELS[record.outlet.kind],
        "claims": [ClaimOut.model_validate(c) for c in carried],
        "more_claims": more_claims is not None,
        "repeated": repeated,
        "domains": domains,
        "domains_text": "\n".join(domains) if typed_domains is None else typed_domains,
        "revision": outlet.revision,
        "errors": errors or {},
    }
    return render(request, "outlet.html", context, status_code=status_code)
