"""The limits of a fetch: one deadline, one size after decoding, two requests per host."""

import asyncio
import gzip
import time
import tracemalloc
from pathlib import Path

import pytest

from app.evidence.fetching import Fetcher
from tests.evidence.conftest import MakeFetcher
from tests.evidence.pages import Pages, after, dribble, endless, page, redirect, silent

ARTICLE = b"<html><head><title>Troops</title></head><body><p>An article.</p></body></html>"


async def test_a_server_that_never_answers_times_out(
    pages: Pages, make_fetcher: MakeFetcher
) -> None:
    pages.routes["/"] = silent()
    started = time.monotonic()

    result = await make_fetcher(timeout_seconds=1.0).fetch(pages.url("/"))

    assert result.problem == "timeout"
    assert 0.9 < time.monotonic() - started < 2.0
    assert result.hops[0].status_line is None and result.http_status is None


async def test_a_server_that_dribbles_times_out_on_the_total_deadline(
    pages: Pages, make_fetcher: MakeFetcher, tmp_path: Path
) -> None:
    # A byte every quarter second keeps any per-read timeout happy; only a total deadline ends it.
    pages.routes["/"] = dribble(0.25)
    started = time.monotonic()

    result = await make_fetcher(timeout_seconds=1.5).fetch(pages.url("/"))

    assert result.problem == "timeout"
    assert 1.4 < time.monotonic() - started < 2.5
    assert result.http_status == 200 and result.body_path is None
    assert result.hops[0].truncated == "time"
    assert list(tmp_path.iterdir()) == []


async def test_the_deadline_covers_every_hop(pages: Pages, make_fetcher: MakeFetcher) -> None:
    pages.routes["/a"] = after(0.6, redirect("/b"))
    pages.routes["/b"] = after(0.6, redirect("/c"))
    pages.routes["/c"] = after(0.6, page(ARTICLE))

    result = await make_fetcher(timeout_seconds=1.5).fetch(pages.url("/a"))

    assert result.problem == "timeout"
    assert len(result.hops) == 3


async def test_a_body_past_the_limit_is_too_large_in_bounded_memory(
    pages: Pages, make_fetcher: MakeFetcher, tmp_path: Path
) -> None:
    pages.routes["/endless"] = endless()
    fetcher = make_fetcher(max_bytes=4 * 2**20)

    tracemalloc.start()
    try:
        result = await fetcher.fetch(pages.url("/endless"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.problem == "too large"
    assert result.body_path is None and result.sha256 is None
    assert result.hops[0].truncated == "length"
    assert list(tmp_path.iterdir()) == []
    assert peak < 1 * 2**20, f"peak Python allocation {peak} bytes"


async def test_a_declared_length_past_the_limit_is_refused_unread(
    pages: Pages, fetcher: Fetcher
) -> None:
    pages.routes["/huge"] = endless(declared=2**30)

    result = await fetcher.fetch(pages.url("/huge"))

    assert result.problem == "too large"


async def test_a_body_exactly_at_the_limit_is_kept(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/full"] = page(b"x" * fetcher.max_bytes)
    pages.routes["/over"] = page(b"x" * (fetcher.max_bytes + 1))

    full = await fetcher.fetch(pages.url("/full"))
    over = await fetcher.fetch(pages.url("/over"))

    assert full.problem is None and full.size == fetcher.max_bytes
    assert over.problem == "too large"


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """50 MiB of zeros in about 50 KB."""
    return gzip.compress(bytes(50 * 2**20), compresslevel=9)


async def test_a_gzip_bomb_stops_at_the_limit_without_inflating(
    pages: Pages, make_fetcher: MakeFetcher, gzip_bomb: bytes
) -> None:
    assert len(gzip_bomb) < 100_000
    pages.routes["/bomb"] = page(gzip_bomb, content_encoding="gzip")
    fetcher = make_fetcher(max_bytes=2 * 2**20)

    tracemalloc.start()
    try:
        result = await fetcher.fetch(pages.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.problem == "too large"
    assert peak < 1 * 2**20, f"peak Python allocation {peak} bytes"


async def test_one_host_gets_two_fetches_at_once(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/slow"] = after(0.3, page(ARTICLE))

    results = await asyncio.gather(*(fetcher.fetch(pages.url("/slow")) for _ in range(5)))

    assert [r.problem for r in results] == [None] * 5
    assert pages.most_busy == 2
    assert len(fetcher.slots) == 0
