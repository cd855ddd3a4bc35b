from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from app.auth.service import Principal
from app.config import Settings
from app.enums import Scope
from app.transactions import SessionDep
from app.ui import sessions
from app.ui.pages import PageError, SignInRequired
from app.ui.security import same_token

SESSION_COOKIE = "tracer_session"
LOGIN_CSRF_COOKIE = "tracer_login_csrf"
# Form bodies are small; a larger one is refused before it is parsed.
MAX_FORM_FIELDS = 400


def session_lifetime(request: Request) -> timedelta:
    settings: Settings = request.app.state.settings
    return timedelta(hours=settings.ui_session_hours)


async def page_principal(request: Request, session: SessionDep) -> Principal:
    """Who is signed in on this browser; no live session sends it to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    row = await sessions.load(session=session, token=token) if token else None
    if row is None:
        raise SignInRequired()
    principal = sessions.principal_of(row)
    request.state.ui_principal = principal
    request.state.ui_csrf = row.csrf_token
    return principal


def need(scope: Scope) -> object:
    async def _check(principal: Annotated[Principal, Depends(page_principal)]) -> Principal:
        if not principal.may(scope):
            raise PageError(
                403,
                f"You are signed in with a {principal.scope.value} key; "
                f"this page needs a {scope.value} key.",
            )
        return principal

    return Depends(_check)


Reader = Annotated[Principal, need(Scope.read)]
Writer = Annotated[Principal, need(Scope.write)]


async def posted_form(
    request: Request, _: Annotated[Principal, Depends(page_principal)]
) -> FormData:
    """The form of a signed-in POST, refused unless it carries its session's CSRF token."""
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    presented = form.get("csrf_token")
    if not same_token(request.state.ui_csrf, presented if isinstance(presented, str) else None):
        raise PageError(403, "This form has expired or came from another site. Reload the page.")
    return form


PostedForm = Annotated[FormData, Depends(posted_form)]
