"""Text no database should receive is refused before any route sees the request.

PostgreSQL refuses NUL in text and cannot encode a lone UTF-16 surrogate; SQLite stores both and
breaks every XML export that later reads them back. Rather than trusting each field to check for
them, every string of the path, query, headers and JSON body passes through here once, and the
first offending one is named in a 422.
"""

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import problem_body, problem_response

# A JSON body needs a closer look only if it could hold a refused character: a \u escape of a
# control character or surrogate (after an even number of backslashes, so not "\\u0000" text),
# a raw DEL, or a raw C1 control or noncharacter encoded in UTF-8. Most bodies match none and
# are not parsed twice.
_SUSPECT_BODY = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u(?:00[0-1][0-9a-f]|007f|00[89][0-9a-f]|d[89a-f][0-9a-f]{2}|fff[ef])"
    rb"|\x7f|\xc2[\x80-\x9f]|\xef\xbf[\xbe\xbf]",
    re.IGNORECASE,
)
# What every match of it contains: looked for first with `in`, which scans a batch's body some
# forty times faster than the pattern does.
_SUSPECT_PARTS = (b"\\u", b"\\U", b"\x7f", b"\xc2", b"\xef\xbf")


# Unicode's Cc (C0, DEL, C1) and Cs categories, and the two noncharacters, as one character
# class: searched in C rather than character by character in Python, on every request. In
# text bodies, tab, line feed and carriage return are ordinary.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# A header value's bytes are its characters (Latin-1), where a tab is legal whitespace.
_REFUSED_IN_HEADER = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_REFUSED_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def refused_character(value: str, *, allow_whitespace: bool) -> str | None:
    """The first character of `value` that must not be stored, or None."""
    found = (_REFUSED_IN_TEXT if allow_whitespace else _REFUSED).search(value)
    return found.group() if found else None


def _first_bad_string(value: Any, loc: list[str | int]) -> tuple[list[str | int], str] | None:
    if isinstance(value, str):
        ch = refused_character(value, allow_whitespace=True)
        return (loc, ch) if ch is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _first_bad_string(key, [*loc, key]) or _first_bad_string(item, [*loc, key])
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_bad_string(item, [*loc, index])
            if found:
                return found
    return None


def _in_request_line(scope: Scope) -> tuple[list[str | int], str] | None:
    ch = refused_character(scope["path"], allow_whitespace=False)
    if ch is not None:
        return ["path"], ch
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True) if query else ():
        ch = refused_character(name + value, allow_whitespace=False)
        if ch is not None:
            return ["query", name], ch
    headers = scope["headers"]
    # All values at once, then the one that holds it: almost every request holds none.
    if _REFUSED_IN_HEADER.search(b" ".join(value for _, value in headers)):
        for raw_name, raw_value in headers:
            found = _REFUSED_IN_HEADER.search(raw_value)
            if found:
                return ["header", raw_name.decode("latin-1")], chr(found.group()[0])
    return None


def _in_body(body: bytes) -> tuple[list[str | int], str] | None:
    if not any(part in body for part in _SUSPECT_PARTS) or not _SUSPECT_BODY.search(body):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parsing answers with its 422
    return _first_bad_string(parsed, ["body"])


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return True


class RequestLineGuard:
    """Refuses control characters in the path, the query and the headers.

    It runs before authentication, so nothing a client typed reaches even the key lookup.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _in_request_line(scope) if scope["type"] == "http" else None
        if found:
            await _refuse(found, scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyGuard:
    """Refuses control characters, lone surrogates and noncharacters in JSON bodies.

    It runs after authentication and the size limit, which has already buffered the body.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE")
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        found = _in_body(body)
        if found:
            await _refuse(found, scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(
    found: tuple[list[str | int], str], scope: Scope, receive: Receive, send: Send
) -> None:
    loc, ch = found
    where = ".".join(str(part) for part in loc)
    msg = f"must not contain the control character U+{ord(ch):04X}"
    body = problem_body(
        422,
        "validation-error",
        "Validation error",
        f"Invalid: {where} {msg}",
        errors=[{"loc": loc, "msg": msg, "type": "control_character"}],
    )
    await problem_response(body)(scope, receive, send)
