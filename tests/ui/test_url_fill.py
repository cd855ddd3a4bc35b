"""Log a sighting starts from the URL: in Chromium, a pasted URL fills the form."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.ui.conftest import Site, sign_in
from tests.url_info.test_url_info import ARTICLE, STATEMENT

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


class _Article(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(ARTICLE)))
        self.end_headers()
        self.wfile.write(ARTICLE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def article_server() -> Iterator[str]:
    """The article on 127.0.0.1, at any path; yields its host and port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Article)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_pasted_url_fills_the_form_and_says_it_is_known(page: Any, site: Site) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with article_server() as address, httpx.Client(base_url=site.url, headers=admin) as api:
        url = f"http://{address}/2022/08/25/troops/"
        api.patch(
            "/v1/outlets/new-eastern-outlook",
            json={"domains": ["journal-neo.org", address]},
        ).raise_for_status()
        recorded = api.post(
            "/v1/sightings",
            json={
                "claim_id": site.claims["troops"],
                "url": url + "?utm_source=telegram",
                "published_at": "2022-08-25T06:30:00Z",
                "stance": "questions",
            },
        )
        assert recorded.status_code == 201, recorded.text
        sign_in(page, site.keys["write"], "/ui/sightings/new")
        page.get_by_label("Title").fill("My own title")
        field = page.get_by_label("URL", exact=True)
        field.fill(url)
        field.dispatch_event("change")
        known = page.get_by_role("link", name="New Eastern Outlook, 2022-08-25, questions")
        assert known.get_attribute("href") == f"/ui/sightings/{recorded.json()['id']}"
        assert page.get_by_label("Outlet", exact=True).input_value() == "new-eastern-outlook"
        # In UTC, as the field says; the browser writes whole minutes without their seconds.
        published = page.get_by_label("Published at", exact=True).input_value()
        assert published.startswith("2022-08-25T06:30"), published
        assert page.get_by_label("Date precision").input_value() == "exact"
        # What the person typed stays theirs; the page's language is proposed too.
        assert page.get_by_label("Title").input_value() == "My own title"
        assert page.locator("[data-url-info]").get_attribute("data-fill-language") == "en"
        page.get_by_role("button", name="Use this claim").first.click()
        assert page.get_by_label("Claim", exact=True).input_value() == STATEMENT
