"""Browser tests: one Chromium, one real server per database engine."""

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from app.auth.service import COMMAND_LINE
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo.loader import load
from app.enums import Scope
from app.keys.service import create_key
from app.transactions import transaction
from tests.conftest import (
    ADMIN_KEY,
    BACKENDS,
    _migrate,
    create_postgres_database,
    drop_postgres_database,
)
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, chromium_path, serve

T = TypeVar("T")


@dataclass
class Site:
    url: str
    settings: Settings
    claims: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)


async def _seed(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            result = await load(session=session)
            keys = {}
            for scope in (Scope.read, Scope.write):
                _, keys[scope.value] = await create_key(
                    session=session, name=f"{scope.value} desk", scope=scope, actor=COMMAND_LINE
                )
    finally:
        await engine.dispose()
    return result.claim_ids, keys


def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run database set-up beside Playwright, whose sync API holds this thread's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A server holding the worked example, with a read and a write key besides the admin's."""
    tmp = tmp_path_factory.mktemp("ui-site")
    postgres_url = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'tracer.db'}"
    else:
        postgres_url = url = _in_thread(create_postgres_database)
    _in_thread(_migrate, url)
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=tmp / "admin-key",
        secret_key_file=tmp / "secret-key",
        stream_poll_seconds=0.2,
        # A pasted URL is read from a page server of the test's own, on 127.0.0.1.
        fetch_allow_private=True,
    )
    try:
        claims, keys = _in_thread(asyncio.run, _seed(settings))
        with serve(settings) as base_url:
            yield Site(url=base_url, settings=settings, claims=claims, keys=keys)
    finally:
        if postgres_url:
            _in_thread(drop_postgres_database, postgres_url)


# One browser for the module: Playwright's sync API holds the thread's event loop while it
# runs, and the async tests that follow need it back.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip(f"Chromium is not installed ({CHROMIUM}): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _same_origin(url: str, base_url: str) -> bool:
    # data: and blob: URLs are made in the page itself; nothing goes out for them.
    return url.startswith((base_url + "/", "data:", "blob:"))


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh browser tab on the site; fails the test if anything left the site's origin
    or the Content-Security-Policy refused anything."""
    context = browser.new_context(base_url=site.url)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    elsewhere: list[str] = []
    refused: list[str] = []
    tab.on("request", lambda r: None if _same_origin(r.url, site.url) else elsewhere.append(r.url))
    tab.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield tab
    context.close()
    assert elsewhere == [], f"requests left the server's origin: {elsewhere}"
    assert refused == [], f"the Content-Security-Policy refused: {refused}"


def sign_in(page: Any, key: str, path: str = "/ui/claims") -> None:
    page.goto(path)
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: url.endswith(path))
