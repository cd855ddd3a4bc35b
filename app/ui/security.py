"""What every page sends and checks: a strict Content-Security-Policy and CSRF tokens."""

import hmac

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts and styles come from this origin's own files only: no inline script, no other host.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
UI_PREFIX = "/ui"


class PageHeaders:
    """Adds the security headers to every answer under /ui, pages, fragments and files alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not (path == UI_PREFIX or path.startswith(UI_PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_token(expected: str | None, presented: str | None) -> bool:
    """Whether a form carried the token its page was given, compared in constant time."""
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
