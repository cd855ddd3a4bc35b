"""Signing in with an API key and out again; the pages' front door."""

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import (
    HTMLResponse,
    RedirectResponse,
    Response,
)

from app.auth.gate import FailedKeyChecks, client_address
from app.auth.service import authenticate
from app.config import Settings
from app.transactions import SessionDep
from app.ui import sessions
from app.ui.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    PostedForm,
    Reader,
    session_lifetime,
)
from app.ui.pages import PageError, render
from app.ui.security import same_token

router = APIRouter(prefix="/ui", include_in_schema=False)


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
        wait = await _refused_for(request, session)
        if wait is not None:
            message = f"Too many wrong keys from your address: try again in {wait} seconds."
            page = render(request, "error.html", {"status": 429, "message": message}, 429)
            page.headers["Retry-After"] = str(wait)
            return page
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


async def _refused_for(request: Request, session: SessionDep) -> int | None:
    """Count a wrong key at sign-in against its address, as the API does; the seconds to wait
    once the address is past its limit, else None."""
    failures: FailedKeyChecks = request.app.state.failed_key_checks
    address = client_address(request.scope)
    wait = failures.blocked_for(address)
    if wait is None:
        quota = await failures.count(lambda: session, address)
        wait = quota.reset_seconds if quota.exceeded else None
    return wait


@router.post("/logout")
async def logout(request: Request, session: SessionDep, _: Reader, __: PostedForm) -> Response:
    await sessions.close(session=session, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return response
