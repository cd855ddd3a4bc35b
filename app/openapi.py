"""The OpenAPI document, completed with the answers every operation can give besides success.

Routes declare what they return when things go well; the refusals come from layers every route
shares (authentication, rate limits, the input guard, body limits, database faults), so they are
added here, to every operation, including those written after this module.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.errors import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For 422: each field refused, and why.",
            "items": {
                "type": "object",
                "required": ["loc", "msg"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
            },
        },
        "existing_id": {"type": "string", "description": "For 409: the record already there."},
    },
}

# The input guard's rule, stated where clients and fuzzers read it: no control characters in
# parameters; in bodies, tab, line feed and carriage return are allowed.
_PARAMETER_TEXT = r"^[^\u0000-\u001f\u007f-\u009f]*$"
_BODY_TEXT = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"

_RATE_HEADERS = {
    "RateLimit-Limit": "Requests this key may make in the current window.",
    "RateLimit-Remaining": "Requests left in the current window.",
    "RateLimit-Reset": "Seconds until the window resets.",
}

_ALWAYS = {
    422: "A parameter, header or body field is invalid; `errors` names it.",
    429: "Too many requests from this key or address; wait `Retry-After` seconds.",
    503: "The database is unreachable or busy; retry after `Retry-After` seconds.",
}
_AUTHENTICATED = {
    401: "No API key, or one that is unknown or revoked.",
    403: "The key lacks the scope this operation needs.",
}
_WITH_BODY = {
    400: "The body cannot be read.",
    413: "The body is over the size limit.",
}
_WRITING = {409: "A conflicting record exists; `existing_id` points at it when there is one."}
_WITH_PATH_PARAMETERS = {404: "No such record."}


def _problem(description: str, *, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if retry:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        }
    return response


def _statuses(method: str, operation: dict[str, Any]) -> dict[int, str]:
    statuses = dict(_ALWAYS)
    if operation.get("security"):
        statuses |= _AUTHENTICATED
    if "requestBody" in operation:
        statuses |= _WITH_BODY
    if method in ("post", "put", "patch", "delete"):
        statuses |= _WRITING
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        statuses |= _WITH_PATH_PARAMETERS
    return statuses


def _complete(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in _statuses(method, operation).items():
        existing = responses.get(str(status))
        # FastAPI's own 422 describes a JSON body this service never sends.
        if existing is None or status == 422:
            responses[str(status)] = _problem(description, retry=status in (429, 503))
        else:
            existing.setdefault("content", {})[PROBLEM_JSON] = {
                "schema": {"$ref": "#/components/schemas/Problem"}
            }
    if path.startswith("/v1/"):
        for response in responses.values():
            headers = response.setdefault("headers", {})
            for name, description in _RATE_HEADERS.items():
                headers[name] = {"description": description, "schema": {"type": "integer"}}


def _state_text_rule(schema: Any, pattern: str) -> None:
    """Give every free-text string in `schema` the guard's pattern, recursively."""
    if isinstance(schema, list):
        for item in schema:
            _state_text_rule(item, pattern)
        return
    if not isinstance(schema, dict):
        return
    free = not ({"pattern", "format", "enum", "const"} & schema.keys())
    if schema.get("type") == "string" and free:
        schema["pattern"] = pattern
    for key, value in schema.items():
        if key not in ("examples", "example", "default"):
            _state_text_rule(value, pattern)


def _refs(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return set().union(*(_refs(item) for item in schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = {schema["$ref"].rsplit("/", 1)[-1]} if isinstance(schema.get("$ref"), str) else set()
    return found.union(*(_refs(value) for value in schema.values()))


def _request_schemas(document: dict[str, Any]) -> set[str]:
    """Names of the component schemas a request body can contain, however deeply."""
    schemas = document.get("components", {}).get("schemas", {})
    pending = {
        name
        for item in document.get("paths", {}).values()
        for operation in item.values()
        for name in _refs(operation.get("requestBody", {}))
    }
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        pending |= _refs(schemas[name])
    return seen


def document_problems(app: FastAPI) -> None:
    """Make `app.openapi()` list every problem each operation can answer."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                webhooks=app.webhooks.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas["Problem"] = PROBLEM_SCHEMA
            for name in _request_schemas(document):
                _state_text_rule(schemas[name], _BODY_TEXT)
            for path, item in document.get("paths", {}).items():
                for method, operation in item.items():
                    _complete(path, method, operation)
                    _state_text_rule(operation.get("parameters", []), _PARAMETER_TEXT)
            for item in document.get("webhooks", {}).values():
                for operation in item.values():
                    # What a receiver answers is its own affair (a 2xx ends delivery, anything
                    # else is retried); FastAPI's 422 would point at the schema removed above.
                    operation.get("responses", {}).pop("422", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
