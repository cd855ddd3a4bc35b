"""Domain errors and their rendering as RFC 9457 problem documents."""

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.db import is_retryable, is_transient

log = logging.getLogger("tracer.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://tracer.dev/problems/"


class TracerError(Exception):
    """An error a client caused or should know about, rendered as a problem document."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        return problem_body(self.status, self.slug, self.title, self.detail, **self.extra)


class NotFound(TracerError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(TracerError):
    status, slug, title = 409, "conflict", "Conflict"

    def __init__(self, detail: str, *, existing_id: str) -> None:
        super().__init__(detail, existing_id=existing_id)
        self.existing_id = existing_id


class PreconditionFailed(TracerError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class Gone(TracerError):
    status, slug, title = 410, "gone", "Gone"


class CitedBy(TracerError):
    """A sighting others still cite cannot be withdrawn without saying what they cite instead."""

    status, slug, title = 409, "cited", "Still cited"

    def __init__(self, detail: str, *, cited_by: list[str]) -> None:
        super().__init__(detail, cited_by=cited_by)


class Redirect(TracerError):
    """A merged claim's id: the same request, on the surviving claim's URL."""

    status, slug, title = 308, "merged", "Permanent redirect"

    def __init__(self, detail: str, *, location: str, into: str) -> None:
        super().__init__(detail, merged_into=into)
        self.location = location


class Invalid(TracerError):
    """A well-formed request that breaks a rule; names the field as pydantic's 422s do."""

    status, slug, title = 422, "validation-error", "Validation error"

    def __init__(
        self,
        detail: str,
        *,
        loc: Sequence[str | int],
        source: str = "body",
        msg: str | None = None,
    ) -> None:
        """`source` is where the field was sent: body, query or header."""
        super().__init__(detail, errors=[{"loc": [source, *loc], "msg": msg or detail}])


class Unauthorized(TracerError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class Forbidden(TracerError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PayloadTooLarge(TracerError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class Busy(TracerError):
    """Too many heavy reads at once: this one waited its turn in vain."""

    status, slug, title = 503, "busy", "Service busy"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


def problem_body(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]


def unavailable_response(retry_after: int) -> JSONResponse:
    """503 while the database is away or busy; clients should come back shortly."""
    body = problem_body(
        503,
        "unavailable",
        "Service unavailable",
        "the database is unreachable or busy; retry after the time in Retry-After",
    )
    return problem_response(body, {"Retry-After": str(retry_after)})


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists at this path.

    The router's own 405 names only the methods of the first route matching the path, while
    GET and PATCH of one resource are usually two routes.
    """
    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    # A literal path wins over a template it also fits (`/batch` is no `{sighting_id}`).
    matching = [path] if path in paths else []
    if not matching:
        for template in paths:
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                matching.append(template)
    return sorted({method.upper() for template in matching for method in paths[template]})


def install_handlers(app: FastAPI) -> None:
    """Render every error, ours or the framework's, as application/problem+json."""

    @app.exception_handler(TracerError)
    async def _tracer_error(_request: Request, exc: TracerError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, Redirect):
            headers = {"Location": exc.location}
        if isinstance(exc, Busy):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem_response(exc.problem(), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
        return problem_response(
            problem_body(
                422, "validation-error", "Validation error", f"Invalid: {fields}", errors=errors
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase
        slug = phrase.lower().replace(" ", "-")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(
            problem_body(exc.status_code, slug, phrase, str(exc.detail)), headers
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A collision is run again by app.collisions, outside these handlers.
        if not is_transient(exc) or is_retryable(exc):
            raise exc
        # One line, the error's class and state only: its message can quote SQL and values.
        log.warning(
            "database unavailable",
            extra={"error": type(exc).__name__, "path": request.url.path},
        )
        return unavailable_response(request.app.state.settings.unavailable_retry_after_seconds)

    for fault in (DBAPIError, SATimeoutError, OSError, TimeoutError):
        app.add_exception_handler(fault, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        return problem_response(
            problem_body(
                500, "internal-error", "Internal server error", "An unexpected error occurred."
            )
        )
