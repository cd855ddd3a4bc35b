"""The network page: drawn in a real Chromium, and read without scripts as a table."""

import re
from typing import Any

import httpx
import pytest

from tests.ui.conftest import Site, sign_in
from tests.ui.pages import hidden_field

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _flows(html: str) -> list[tuple[str, str]]:
    """The (from, to) outlets of the table of strongest flows."""
    table = html.split('id="flows-heading"')[1]
    row = r'<tr><td><a href="/ui/outlets/([a-z0-9-]+)">.*?<a href="/ui/outlets/([a-z0-9-]+)">'
    return re.findall(row, table)


def test_clicking_an_outlet_in_the_network_opens_its_record(page: Any, site: Site) -> None:
    sign_in(page, site.keys["read"], "/ui/network")
    legend = page.locator("[data-legend]")
    assert legend.get_by_text("Anonymous channels").is_visible()
    drawn = page.locator("[data-network][data-settled=true]")
    drawn.wait_for()
    assert drawn.locator("canvas").count() > 0
    where = page.evaluate(
        """() => {
            const box = document.querySelector("[data-network]");
            const node = box.sigma.getGraph().getNodeAttributes("asia-times");
            const at = box.sigma.graphToViewport(node);
            const rect = box.getBoundingClientRect();
            return {x: rect.left + at.x, y: rect.top + at.y};
        }"""
    )
    page.mouse.click(where["x"], where["y"])
    page.wait_for_url(re.compile(r"/ui/outlets/asia-times$"))
    assert page.get_by_role("heading", name="Asia Times").is_visible()


def test_the_network_reads_as_a_table_without_scripts(site: Site) -> None:
    with httpx.Client(base_url=site.url) as http:
        login = http.get("/ui/login")
        http.post(
            "/ui/login",
            data={
                "api_key": site.keys["read"],
                "csrf_token": hidden_field(login.text, "csrf_token"),
                "next": "/ui/claims",
            },
        )
        network = http.get("/ui/network")
        assert network.status_code == 200
        first = ("kremlin-laundress", "channel-one-russia")
        assert first in _flows(network.text)
        later = http.get("/ui/network", params={"since": "2022-08-12"})
        assert first not in _flows(later.text)
        backwards = http.get("/ui/network", params={"since": "2022-08-12", "until": "2022-08-01"})
        assert backwards.status_code == 422
        outlet = http.get("/ui/outlets/asia-times")
        assert outlet.status_code == 200
        assert 'data-figure="after_denial"' in outlet.text
        assert "No domains recorded" in outlet.text or "data-domains" in outlet.text
        assert (http.get("/ui/outlets/nobody")).status_code == 404
        listing = http.get("/ui/outlets", params={"kind": "official"})
        assert 'data-outlet="russian-mfa"' in listing.text
        assert 'data-outlet="asia-times"' not in listing.text
