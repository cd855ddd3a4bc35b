"""Rendering pages: the Jinja2 environment, the vendored assets, and errors shown as pages."""

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.schemas import utc_z

HERE = Path(__file__).parent
STATIC = HERE / "static"
VENDOR = STATIC / "vendor"
STATIC_URL = "/ui/static"


class PageError(Exception):
    """A refusal shown to a person as a page (or, for a fragment request, as its text)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page, and back afterwards."""


@lru_cache
def vendor_manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((VENDOR / "manifest.json").read_text("utf-8"))
    return manifest


def vendor_url(npm_name: str, file_name: str) -> str:
    """The URL of a vendored file, by the npm package it came from."""
    for package in vendor_manifest()["packages"]:
        if package["npm"] == npm_name and file_name in package["files"]:
            return f"{STATIC_URL}/vendor/{package['folder']}/{file_name}"
    raise KeyError(f"{npm_name}/{file_name} is not vendored")


def when(value: datetime | None, precision: str = "exact") -> str:
    """A timestamp as people read it, no finer than what is known of it."""
    if value is None:
        return "—"
    if precision == "month":
        return value.strftime("%B %Y")
    if precision == "day":
        return value.strftime("%d %b %Y")
    if precision == "approximate":
        return "about " + value.strftime("%d %b %Y")
    return value.strftime("%d %b %Y %H:%M UTC")


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    return f"{hours} h {rest % 3600 // 60} min"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = duration
    env.filters["utc_z"] = utc_z
    env.globals["vendor_url"] = vendor_url
    env.globals["static_url"] = STATIC_URL
    return env


templates = Jinja2Templates(env=_environment())


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context.setdefault("principal", getattr(request.state, "ui_principal", None))
    context.setdefault("csrf_token", getattr(request.state, "ui_csrf", ""))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def install(app: FastAPI) -> None:
    """Show the UI's refusals as pages rather than as problem documents."""

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return render(
            request, "error.html", {"status": exc.status, "message": exc.message}, exc.status
        )

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/ui/login?" + urlencode({"next": asked})
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
