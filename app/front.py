"""What a browser finds outside `/v1` and `/ui`: `/` leads to the pages, and `/docs` and `/redoc`
document the API from scripts and styles this server serves itself, so they work offline.
"""

import base64
import hashlib
import re

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

from app.ui.pages import vendor_url

PAGES = "/ui/"
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _hash_sources(pattern: re.Pattern[str], html: str) -> list[str]:
    """CSP hash sources for the inline blocks of a page, which FastAPI's helpers write."""
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in pattern.findall(html)
    ]


def content_security_policy(html: str, *, redoc: bool) -> str:
    """The pages' strict policy, opened only as far as a documentation page needs.

    FastAPI's helpers write an inline start-up script: it is allowed by its hash, never by
    'unsafe-inline'. Swagger UI needs nothing more. Redoc writes its styles into <style>
    elements as it renders (styled-components), which no hash can name in advance, and runs
    its search in a worker built from a blob: its page alone allows both. Redoc 2 also asks
    for its makers' logo on cdn.redoc.ly; `img-src 'self'` refuses it before it leaves the
    browser, and Redoc then leaves the image out.
    """
    directives = [
        "default-src 'none'",
        " ".join(["script-src 'self'", *_hash_sources(INLINE_SCRIPT, html)]),
        "style-src 'self' 'unsafe-inline'" if redoc else "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
    if redoc:
        directives.append("worker-src blob:")
    return "; ".join(directives)


def _page(response: HTMLResponse, *, redoc: bool) -> tuple[str, dict[str, str]]:
    """A documentation page's HTML, and the headers every page of this server sends."""
    html = bytes(response.body).decode()
    headers = {
        "Content-Security-Policy": content_security_policy(html, redoc=redoc),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
    }
    return html, headers


def install(app: FastAPI) -> None:
    """`/` to the pages; `/docs` (Swagger UI) and `/redoc` from the vendored files."""
    assert app.openapi_url, "the documentation pages read the OpenAPI document"
    swagger = _page(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} API",
            swagger_js_url=vendor_url("swagger-ui-dist", "swagger-ui-bundle.js"),
            swagger_css_url=vendor_url("swagger-ui-dist", "swagger-ui.css"),
            swagger_favicon_url=vendor_url("swagger-ui-dist", "favicon-32x32.png"),
            # The validator badge would send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        ),
        redoc=False,
    )
    redoc = _page(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} API",
            redoc_js_url=vendor_url("redoc", "redoc.standalone.js"),
            redoc_favicon_url=vendor_url("swagger-ui-dist", "favicon-32x32.png"),
            with_google_fonts=False,
        ),
        redoc=True,
    )

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(PAGES, status_code=307)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(swagger[0], headers=swagger[1])

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc[0], headers=redoc[1])
