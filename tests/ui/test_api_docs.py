"""/docs and /redoc in a real Chromium: drawn from the server's own files, with nothing fetched
from anywhere else, as on a machine with no network."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from tests.conftest import ADMIN_KEY, _migrate
from tests.ui.browser import serve
from tests.ui.conftest import _in_thread

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture(scope="module")
def docs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server on SQLite: the documentation pages read no records, on either engine."""
    tmp: Path = tmp_path_factory.mktemp("docs-site")
    url = f"sqlite+aiosqlite:///{tmp / 'tracer.db'}"
    _in_thread(_migrate, url)
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=tmp / "admin-key",
        secret_key_file=tmp / "secret-key",
    )
    with serve(settings) as base_url:
        yield base_url


@dataclass
class Traffic:
    """What a tab asked for: through the network, refused by the page's policy, or failed."""

    network: list[str] = field(default_factory=list)
    failed: list[tuple[str, str | None]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def tab(browser: Any, docs_url: str) -> Iterator[tuple[Any, Traffic]]:
    context = browser.new_context(base_url=docs_url)
    traffic = Traffic()

    def through_network(route: Any) -> None:
        # Every request that reaches the network layer is recorded; none may leave the server.
        traffic.network.append(route.request.url)
        if route.request.url.startswith(docs_url + "/"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", through_network)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("requestfailed", lambda r: traffic.failed.append((r.url, r.failure)))
    page.on("console", lambda m: traffic.console_errors.append(m.text) if m.type == "error" else 0)
    yield page, traffic
    context.close()


def _left_the_server(traffic: Traffic, docs_url: str) -> list[str]:
    return [url for url in traffic.network if not url.startswith(docs_url + "/")]


def test_swagger_ui_lists_the_operations_from_the_servers_own_files(
    tab: tuple[Any, Traffic], docs_url: str
) -> None:
    page, traffic = tab

    response = page.goto("/docs")

    chain = page.locator('.opblock-get:has([data-path="/v1/claims/{claim_id}/chain"])')
    chain.first.wait_for()
    assert page.locator(".opblock").count() > 20
    assert "/ui/static/vendor/swagger-ui-dist-" in page.content()
    assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    assert _left_the_server(traffic, docs_url) == []
    assert any(url.endswith("/swagger-ui-bundle.js") for url in traffic.network)
    assert any(url.endswith("/openapi.json") for url in traffic.network)
    assert traffic.failed == []
    assert traffic.console_errors == []


def test_redoc_draws_the_document_from_the_servers_own_files(
    tab: tuple[Any, Traffic], docs_url: str
) -> None:
    page, traffic = tab

    page.goto("/redoc")

    page.get_by_role("heading", name="Tracer (1.0.0)").wait_for()
    page.locator("h2", has_text="Get Chain").first.wait_for()
    assert page.get_by_role("menuitem").count() > 10
    assert _left_the_server(traffic, docs_url) == []
    assert any(url.endswith("/redoc.standalone.js") for url in traffic.network)
    # Redoc 2 asks for its makers' logo on cdn.redoc.ly; the page's policy refuses it before
    # it reaches the network, and Redoc drops the image.
    assert {failure for _, failure in traffic.failed} <= {"csp"}
    assert all("cdn.redoc.ly" in url for url, _ in traffic.failed)
    unexpected = [e for e in traffic.console_errors if "cdn.redoc.ly" not in e]
    assert unexpected == []
