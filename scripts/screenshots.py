"""Screenshots of the pages for the documentation, from the worked example: `make screenshots`.

Loads the worked example into a fresh SQLite database, serves it on a free local port, and
photographs in Debian's Chromium the claim page, its timeline and graph, the "Log a sighting"
form (filled in, and refused with two wrong fields), a sighting's correction form and a claim's
merge page.
`--prefix before-` names the files for a comparison with an earlier version of the pages.
"""

import argparse
import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo.loader import load
from app.migrate import upgrade_to_head
from app.transactions import transaction
from tests.ui.browser import CHROMIUM_ARGS, chromium_path, serve

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ADMIN = "screenshot-admin-key"


async def _prepare(url: str) -> dict[str, str]:
    engine = create_engine(Settings(database_url=url))
    await upgrade_to_head(engine)
    async with transaction(create_sessionmaker(engine)) as session:
        result = await load(session=session)
    await engine.dispose()
    return result.claim_ids


def _cookie(base_url: str) -> str:
    with httpx.Client(base_url=base_url) as http:
        page = http.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        http.post("/ui/login", data={"api_key": ADMIN, "csrf_token": token.group(1)})
        return str(http.cookies["tracer_session"])


def _section(page: Any, heading: str) -> Any:
    return page.locator("section").filter(has=page.get_by_role("heading", name=heading))


def _claim_page(page: Any, claims: dict[str, str], prefix: str) -> None:
    page.goto(f"/ui/claims/{claims['troops']}")
    page.locator("#graph[data-drawn=true]").wait_for()
    page.wait_for_timeout(300)
    _section(page, "Propagation timeline").screenshot(path=str(OUT / f"{prefix}timeline.png"))
    _section(page, "Citation graph").screenshot(path=str(OUT / f"{prefix}graph.png"))
    if not prefix:
        page.locator("svg[data-chain-timeline] a.mark").nth(1).focus()
        page.screenshot(path=str(OUT / "claim-page.png"), full_page=True)


def _sighting_form(page: Any, claims: dict[str, str], prefix: str) -> None:
    if not prefix:
        page.goto("/ui/sightings/new")
        page.get_by_label("Claim", exact=True).fill(
            "КНДР предложила ДНР и ЛНР 100 тысяч добровольцев"
        )
        page.get_by_role("radio").first.check()
        page.locator("#cite-choices input").first.wait_for()
        page.get_by_label("Outlet", exact=True).fill("asia-times")
        page.get_by_label("URL", exact=True).fill("https://asiatimes.com/2022/08/example/")
        page.get_by_label("Published at", exact=True).fill("2022-08-04T09:00:00")
        page.get_by_label("Date precision").select_option("day")
        page.get_by_label("Stance").select_option("reports")
        page.screenshot(path=str(OUT / "log-a-sighting.png"), full_page=True)
    # Two wrong fields: a web address without its scheme and a country written out.
    page.goto(f"/ui/sightings/new?claim_id={claims['troops']}")
    page.get_by_label("Outlet", exact=True).fill("kyiv-evening")
    page.get_by_label("New outlet's name").fill("Kyiv Evening")
    page.get_by_label("New outlet's kind").select_option("news_outlet")
    page.get_by_label("New outlet's country").fill("Ukraine")
    page.get_by_label("URL", exact=True).fill("kyiv-evening.example/troops")
    page.get_by_label("Published at", exact=True).fill("2022-08-07T10:00:00")
    page.get_by_label("Stance").select_option("reports")
    page.get_by_role("button", name="Record").click()
    page.wait_for_load_state()
    page.screenshot(path=str(OUT / f"{prefix}form-errors.png"), full_page=True)


def _correct_form(page: Any, claims: dict[str, str], prefix: str) -> None:
    page.goto(f"/ui/claims/{claims['troops']}")
    mark = page.locator('svg[data-chain-timeline] a.mark[data-outlet="asia-times"]')
    page.goto(f"/ui/sightings/{mark.get_attribute('data-sighting-id')}")
    _section(page, "Correct this sighting").screenshot(path=str(OUT / f"{prefix}correct-form.png"))


def _merge_page(page: Any, claims: dict[str, str]) -> None:
    page.goto(f"/ui/claims/{claims['workers']}/merge?q=North+Korean+workers")
    page.screenshot(path=str(OUT / "claim-merge.png"), full_page=True)


def _shoot(browser: Any, base_url: str, cookie: str, claims: dict[str, str], prefix: str) -> None:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "tracer_session", "value": cookie, "url": base_url + "/ui"}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    _claim_page(page, claims, prefix)
    _sighting_form(page, claims, prefix)
    _correct_form(page, claims, prefix)
    if not prefix:
        _merge_page(page, claims)
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="", help="prefix of the file names, e.g. before-")
    prefix = parser.parse_args().prefix
    path = chromium_path()
    if path is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'screens.db'}"
        claims = asyncio.run(_prepare(url))
        settings = Settings(
            database_url=url,
            bootstrap_admin_key=ADMIN,
            admin_key_file=Path(folder) / "admin-key",
            secret_key_file=Path(folder) / "secret-key",
        )
        with serve(settings) as base_url:
            cookie = _cookie(base_url)
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS)
                _shoot(browser, base_url, cookie, claims, prefix)
                browser.close()
    print(f"wrote the screenshots to {OUT}")


if __name__ == "__main__":
    main()
