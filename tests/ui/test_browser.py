"""The pages in a real Chromium against a real server: what a fact-checker sees and does."""

import re
from datetime import date
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.ui.conftest import Site, sign_in

# The browser tests share one server per engine; each leaves the worked example in place.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _mark(page: Any, outlet: str) -> Any:
    return page.locator(f'svg[data-chain-timeline] a.mark[data-outlet="{outlet}"]')


def test_worked_example_path_and_denial(page: Any, site: Site) -> None:
    sign_in(page, site.keys["read"])
    page.get_by_role("link", name=re.compile("100,000 troops")).click()
    timeline = page.locator("svg[data-chain-timeline]")
    assert timeline.get_attribute("role") == "img"
    laundress = _mark(page, "kremlin-laundress").get_attribute("data-sighting-id")
    mfa = _mark(page, "russian-mfa").get_attribute("data-sighting-id")
    steps = timeline.locator("line.citation[data-main-path]")
    path = [(s.get_attribute("data-from"), s.get_attribute("data-to")) for s in steps.all()]
    # The highlighted steps join up into one walk from the anonymous channel to the ministry.
    walk = [laundress]
    while (following := [b for a, b in path if a == walk[-1]]) and len(walk) <= len(path):
        walk.append(following[0])
    assert walk[-1] == mfa and len(walk) == len(path) + 1 >= 3
    assert timeline.locator(f'[data-first-denial="{mfa}"]').count() == 1
    after = _mark(page, "runet-discussion")
    assert "after-denial" in after.get_attribute("class")
    assert "after-denial" not in _mark(page, "asia-times").get_attribute("class")
    # Approximate dates are spans, never points.
    talk_show = _mark(page, "channel-one-russia")
    assert talk_show.locator("rect.span[data-precision=approximate]").count() == 1
    # The graph is laid out after the first frame; wait for it rather than race it.
    page.locator("#graph[data-drawn=true] canvas").first.wait_for()
    assert page.get_by_text("Officially denied").first.is_visible()


def test_the_graph_draws_each_stance_in_its_own_shape_named_in_the_legend(
    page: Any, site: Site
) -> None:
    sign_in(page, site.keys["read"], f"/ui/claims/{site.claims['troops']}")
    page.locator("#graph[data-drawn=true] canvas").first.wait_for()
    drawn = page.evaluate(
        """() => document.getElementById("graph").cytoscape.nodes().map(
            (node) => [node.data("stance"), node.style("shape"),
                       node.style("shape-polygon-points"), node.style("background-color")])"""
    )
    looks: dict[str, set[tuple[str, str]]] = {}
    for stance, shape, points, _ in drawn:
        looks.setdefault(stance, set()).add((shape, points if shape == "polygon" else ""))
    assert {"asserts", "reports", "denies"} <= set(looks)
    # One look per stance, and no two stances alike: colour is not the only cue.
    assert all(len(shapes) == 1 for shapes in looks.values())
    assert len({next(iter(shapes)) for shapes in looks.values()}) == len(looks)
    legend = page.locator("[data-graph-legend]")
    for stance in looks:
        assert legend.locator(f'[data-legend-item="stance-{stance}"]').count() == 1, stance


def test_timeline_ticks_read_back_at_the_sightings_dates(page: Any, site: Site) -> None:
    sign_in(page, site.keys["read"], f"/ui/claims/{site.claims['troops']}")
    ticks = page.locator("svg[data-chain-timeline] g[data-tick]")
    read = [
        (t.get_attribute("data-tick"), t.locator("line").bounding_box(), t.text_content())
        for t in ticks.all()
    ]
    assert len(read) >= 3
    dates = [date.fromisoformat(d) for d, _, _ in read]
    for (tick, _, label), day in zip(read, dates, strict=True):
        assert label.startswith(f"{day.day} {day:%b}"), (tick, label)
    # Days are evenly spaced, each tick standing at its date's midnight.
    x = [box["x"] + box["width"] / 2 for _, box, _ in read]
    per_day = (x[-1] - x[0]) / (dates[-1] - dates[0]).days
    for xi, day in zip(x, dates, strict=True):
        assert abs(xi - (x[0] + per_day * (day - dates[0]).days)) < 1
    # A sighting known to the day spans from its own date's tick to the next midnight.
    day_marks = page.locator("svg[data-chain-timeline] a.mark[data-precision=day]")
    assert day_marks.count() >= 2
    for mark in day_marks.all():
        published = date.fromisoformat(mark.get_attribute("data-published-at")[:10])
        bar = mark.locator("rect.span").bounding_box()
        expected = x[0] + per_day * (published - dates[0]).days
        assert abs(bar["x"] - expected) < 1.5, (published, bar["x"], expected)
        assert abs(bar["width"] - per_day) < 1.5


def test_keyboard_reaches_every_mark(page: Any, site: Site) -> None:
    sign_in(page, site.keys["read"], f"/ui/claims/{site.claims['troops']}")
    marks = page.locator("svg[data-chain-timeline] a.mark")
    count = marks.count()
    visited = []
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('data-sighting-id')")
        if focused:
            visited.append(focused)
            if len(visited) == count:
                break
    assert visited == [m.get_attribute("data-sighting-id") for m in marks.all()]
    # The focused mark's details (outlet, date and precision, stance, links) are shown.
    details = page.locator("#mark-details")
    assert marks.last.get_attribute("aria-label") in details.inner_text()
    assert details.get_by_role("link", name="source").count() == 1
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.getAttribute('data-sighting-id')") == visited[-2]
    page.keyboard.press("Enter")
    assert page.url.endswith(f"#s-{visited[-2]}")


def test_log_a_sighting_with_inline_outlet_and_cite(page: Any, site: Site) -> None:
    sign_in(page, site.keys["write"], "/ui/sightings/new")
    page.get_by_label("Claim", exact=True).fill("КНДР предложила отправить 100 тысяч солдат")
    match = page.get_by_role("radio", name=re.compile("100,000 troops"))
    match.check()
    page.locator("#cites").get_by_role("checkbox", name=re.compile("Kremlin Laundress")).check()
    page.get_by_label("Outlet", exact=True).fill("browser-test-blog")
    page.get_by_label("New outlet's name").fill("Browser Test Blog")
    page.get_by_label("New outlet's kind").select_option("social_account")
    page.get_by_label("URL", exact=True).fill("https://blog.example/troops")
    page.get_by_label("Published at", exact=True).fill("2022-08-03T09:30:00")
    page.get_by_label("Date precision").select_option("exact")
    page.get_by_label("Stance").select_option("reports")
    page.get_by_label("Archive URL").fill("https://archive.example/blog-troops")
    page.get_by_role("button", name="Record").click()
    page.wait_for_url(re.compile(r"/ui/claims/[^/?]+\?recorded="))
    new_id = page.url.rsplit("#s-", 1)[1]
    mark = page.locator(f'svg[data-chain-timeline] a.mark[data-sighting-id="{new_id}"]')
    assert mark.get_attribute("data-outlet") == "browser-test-blog"
    laundress = _mark(page, "kremlin-laundress").get_attribute("data-sighting-id")
    arrow = page.locator(f'line.citation[data-from="{laundress}"][data-to="{new_id}"]')
    assert arrow.count() == 1


def test_two_wrong_fields_are_both_named_beside_their_inputs(page: Any, site: Site) -> None:
    sign_in(page, site.keys["write"], f"/ui/sightings/new?claim_id={site.claims['workers']}")
    page.get_by_label("Outlet", exact=True).fill("kyiv-evening")
    page.get_by_label("New outlet's name").fill("Kyiv Evening")
    page.get_by_label("New outlet's kind").select_option("news_outlet")
    page.get_by_label("New outlet's country").fill("Ukraine")
    page.get_by_label("URL", exact=True).fill("kyiv-evening.example/workers")
    page.get_by_label("Published at", exact=True).fill("2022-08-07")
    page.get_by_label("Date precision").select_option("day")
    page.get_by_label("Stance").select_option("reports")
    page.get_by_role("button", name="Record").click()
    page.get_by_role("alert").wait_for()
    shown = {}
    for label, words in (("New outlet's country", "country code"), ("URL", "https://")):
        field = page.get_by_label(label, exact=True)
        assert field.get_attribute("aria-invalid") == "true"
        error_id = next(i for i in field.get_attribute("aria-describedby").split() if "err-" in i)
        error = page.locator(f"#{error_id}")
        shown[label] = error.inner_text()
        assert words in shown[label]
        # The message sits in the field's own block, beside the input it names.
        assert error.evaluate(
            "(e, id) => e.parentElement.contains(document.getElementById(id))",
            field.get_attribute("id"),
        )
    assert page.locator("p.error").count() == 2
    assert "Input should" not in " ".join(shown.values())
    assert page.get_by_label("Outlet", exact=True).get_attribute("aria-invalid") is None
    assert page.get_by_label("URL", exact=True).input_value() == "kyiv-evening.example/workers"


def test_read_key_is_refused_at_the_form(page: Any, site: Site) -> None:
    sign_in(page, site.keys["read"])
    assert page.get_by_role("link", name="Log a sighting").count() == 0
    answer = page.goto("/ui/sightings/new")
    assert answer is not None and answer.status == 403
    assert "needs a write key" in page.get_by_role("alert").inner_text()


def test_live_denials_arrive_without_reload(page: Any, site: Site) -> None:
    sign_in(page, site.keys["read"], "/ui/denials")
    page.get_by_text("Live: new denials appear").wait_for()
    before = page.locator("#denials tr").count()
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as api:
        answer = api.post(
            "/v1/sightings",
            json={
                "claim_id": site.claims["workers"],
                "outlet": "russian-mfa",
                "url": "https://mid.ru/live-denial-test",
                "published_at": "2022-08-26T10:00:00Z",
                "stance": "denies",
            },
        )
        assert answer.status_code == 201, answer.text
    row = page.locator(f'#denials tr[data-sighting-id="{answer.json()["id"]}"]')
    row.wait_for()
    assert "construction workers" in row.inner_text()
    assert page.locator("#denials tr").count() == before + 1
    assert (
        page.locator("#denials tr").first.get_attribute("data-sighting-id") == answer.json()["id"]
    )
