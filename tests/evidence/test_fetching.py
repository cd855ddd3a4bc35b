"""Fetching for evidence, against a real local HTTP server that misbehaves on request."""

import gzip
import hashlib
import ipaddress
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from app import netguard
from app.config import Settings
from app.evidence.fetching import Fetcher, FetchResult
from tests.evidence.conftest import USER_AGENT, MakeFetcher
from tests.evidence.pages import Pages, page, raw, redirect

ARTICLE = (
    "<html><head><title>Troops</title></head><body><p>North Korea offered 100,000 troops."
    "</p><p>Пхеньян предложил.</p></body></html>"
).encode()


def body_of(result: FetchResult) -> bytes:
    assert result.body_path is not None
    return result.body_path.read_bytes()


async def test_an_article_is_fetched_whole_with_its_hash(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/news/1"] = page(ARTICLE)

    result = await fetcher.fetch(pages.url("/news/1"))

    assert result.problem is None
    assert result.http_status == 200
    assert result.requested_url == result.final_url == pages.url("/news/1")
    assert result.content_type == "text/html; charset=utf-8"
    assert body_of(result) == ARTICLE
    assert result.size == len(ARTICLE)
    assert result.sha256 == hashlib.sha256(ARTICLE).hexdigest()
    [hop] = result.hops
    assert hop.request_line == "GET /news/1 HTTP/1.1"
    assert ("user-agent", USER_AGENT) in [(k.lower(), v) for k, v in hop.request_headers]
    assert hop.status_line == "HTTP/1.1 200 Status"
    assert ("content-length", str(len(ARTICLE))) in hop.response_headers
    assert hop.body_file == result.body_path
    assert hop.ip_address == "127.0.0.1"
    assert pages.seen[0].headers["user-agent"] == USER_AGENT
    result.discard()
    assert not hop.body_file.exists()


async def test_the_settings_name_tracer_in_the_user_agent() -> None:
    async with Fetcher.from_settings(Settings()) as fetcher:
        assert fetcher.user_agent.startswith("Tracer/")
        assert fetcher.max_bytes == 20 * 2**20
        assert fetcher.timeout_seconds == 15
        assert fetcher.max_redirects == 5
        assert not fetcher.allow_private


async def test_a_redirect_chain_is_followed_and_every_hop_kept(
    pages: Pages, fetcher: Fetcher
) -> None:
    pages.routes["/a"] = redirect("/b", status=301)
    pages.routes["/b"] = redirect(pages.url("/c?x=1"), status=307)
    pages.routes["/c?x=1"] = page(ARTICLE)

    result = await fetcher.fetch(pages.url("/a"))

    assert result.problem is None
    assert result.final_url == pages.url("/c?x=1")
    assert [hop.url for hop in result.hops] == [pages.url(p) for p in ("/a", "/b", "/c?x=1")]
    assert [hop.http_status for hop in result.hops] == [301, 307, 200]
    assert [hop.request_line for hop in result.hops][2] == "GET /c?x=1 HTTP/1.1"
    assert result.hops[0].body == b"<a href='elsewhere'>moved</a>"
    assert result.hops[0].body_file is None
    assert body_of(result) == ARTICLE


async def test_cookies_travel_along_one_fetch_only(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/consent"] = redirect("/article", **{"set_cookie": "ok=1; Path=/"})
    pages.routes["/article"] = page(ARTICLE)

    await fetcher.fetch(pages.url("/consent"))
    await fetcher.fetch(pages.url("/article"))

    assert [s.headers.get("cookie") for s in pages.seen] == [None, "ok=1", None]


@pytest.mark.parametrize(
    "location", ["ftp://example.org/file", "javascript:alert(1)", "data:text/html,hi"]
)
async def test_a_redirect_to_another_scheme_is_refused(
    pages: Pages, fetcher: Fetcher, location: str
) -> None:
    pages.routes["/go"] = redirect(location)

    result = await fetcher.fetch(pages.url("/go"))

    assert result.problem == "redirect to a non-http URL"
    assert result.http_status == 302
    assert result.body_path is None
    assert len(result.hops) == 1


async def test_a_redirect_to_a_malformed_url_is_refused(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/go"] = redirect("http://[::1/")

    result = await fetcher.fetch(pages.url("/go"))

    assert result.problem == "invalid redirect"
    assert len(result.hops) == 1


async def test_six_redirects_are_too_many(pages: Pages, fetcher: Fetcher) -> None:
    for n in range(6):
        pages.routes[f"/r{n}"] = redirect(f"/r{n + 1}")
    pages.routes["/r6"] = page(ARTICLE)

    result = await fetcher.fetch(pages.url("/r0"))

    assert result.problem == "too many redirects"
    assert len(result.hops) == 6
    assert "/r6" not in pages.paths()


async def test_five_redirects_are_followed(pages: Pages, fetcher: Fetcher) -> None:
    for n in range(5):
        pages.routes[f"/r{n}"] = redirect(f"/r{n + 1}")
    pages.routes["/r5"] = page(ARTICLE)

    result = await fetcher.fetch(pages.url("/r0"))

    assert result.problem is None and len(result.hops) == 6


async def test_a_private_address_is_refused_unless_allowed(
    pages: Pages, make_fetcher: MakeFetcher
) -> None:
    pages.routes["/"] = page(ARTICLE)

    result = await make_fetcher(allow_private=False).fetch(pages.url("/"))

    assert result.problem == "refused address"
    assert result.hops == [] and pages.seen == []


@pytest.fixture
def loopback_one_is_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """127.0.0.1 stands for a public server: every other address keeps the guard's verdict."""
    stand_in = ipaddress.ip_address("127.0.0.1")
    judge = netguard.is_forbidden
    monkeypatch.setattr(netguard, "is_forbidden", lambda a: a != stand_in and judge(a))


@pytest.mark.usefixtures("loopback_one_is_public")
@pytest.mark.parametrize("path", ["/", "/private"])
async def test_a_redirect_to_a_private_address_is_refused(
    pages: Pages, make_fetcher: MakeFetcher, path: str
) -> None:
    inside = Pages(host="127.0.0.2")
    await inside.start()
    try:
        inside.routes[path] = page(b"secret")
        pages.routes["/public"] = page(ARTICLE)
        pages.routes["/leak"] = redirect(inside.url(path))
        pages.routes["/meta"] = redirect("http://169.254.169.254/latest/meta-data/")
        fetcher = make_fetcher(allow_private=False)

        allowed = await fetcher.fetch(pages.url("/public"))
        leaked = await fetcher.fetch(pages.url("/leak"))
        metadata = await fetcher.fetch(pages.url("/meta"))
    finally:
        await inside.stop()

    assert allowed.problem is None
    assert leaked.problem == metadata.problem == "refused address"
    assert leaked.final_url == pages.url("/leak") and len(leaked.hops) == 1
    assert inside.seen == []


async def test_a_404_keeps_its_status_and_page(pages: Pages, fetcher: Fetcher) -> None:
    result = await fetcher.fetch(pages.url("/deleted"))

    assert result.problem == "HTTP 404"
    assert result.http_status == 404
    assert body_of(result) == b"<h1>Not found</h1>"


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        # Bare deflate, without zlib's wrapper, as some servers send it.
        ("deflate", lambda data: zlib.compress(data)[2:-4]),
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
    ],
)
async def test_a_compressed_body_is_kept_decoded(
    pages: Pages, fetcher: Fetcher, coding: str, encode: Callable[[bytes], bytes]
) -> None:
    pages.routes["/z"] = page(encode(ARTICLE), content_encoding=coding)

    result = await fetcher.fetch(pages.url("/z"))

    assert result.problem is None
    assert body_of(result) == ARTICLE
    assert result.sha256 == hashlib.sha256(ARTICLE).hexdigest()
    assert pages.seen[0].headers["accept-encoding"] == "gzip, deflate"


async def test_a_broken_or_unknown_coding_is_a_problem(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/broken"] = page(b"\x1f\x8bnot gzip at all", content_encoding="gzip")
    pages.routes["/br"] = page(b"\x0b\x02\x80hi\x03", content_encoding="br")

    broken = await fetcher.fetch(pages.url("/broken"))
    unknown = await fetcher.fetch(pages.url("/br"))

    assert broken.problem == "malformed response"
    assert unknown.problem == "unsupported content encoding"


async def test_a_wrong_content_type_is_kept_as_served(pages: Pages, fetcher: Fetcher) -> None:
    pages.routes["/img"] = page(ARTICLE, content_type="image/png")

    result = await fetcher.fetch(pages.url("/img"))

    assert result.problem is None
    assert result.content_type == "image/png"
    assert body_of(result) == ARTICLE


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.org/", "not an http URL"),
        ("javascript:alert(1)", "not an http URL"),
        ("http://user:pw@example.org/", "URL with credentials"),
        ("http://exa mple.org/", "invalid URL"),
        ("http://example.org:99999/", "invalid URL"),
        ("http://[::1/", "invalid URL"),
        ("http://xn--/", "invalid URL"),
    ],
)
async def test_a_url_that_cannot_be_fetched_is_a_problem(
    fetcher: Fetcher, url: str, problem: str
) -> None:
    result = await fetcher.fetch(url)

    assert result.problem == problem
    assert result.hops == []


async def test_a_closed_port_is_a_connection_failure(pages: Pages, fetcher: Fetcher) -> None:
    url = pages.url("/")
    await pages.stop()

    result = await fetcher.fetch(url)

    assert result.problem == "connection failed"


@pytest.mark.parametrize("answer", [b"", b"HELLO THERE\r\n\r\n", b"HTTP/1.1 200 OK\r\nconte"])
async def test_a_server_that_hangs_up_or_speaks_no_http_is_a_connection_failure(
    pages: Pages, fetcher: Fetcher, answer: bytes
) -> None:
    pages.routes["/"] = raw(answer)

    result = await fetcher.fetch(pages.url("/"))

    assert result.problem == "connection failed"
    assert result.body_path is None


async def test_a_body_cut_short_is_a_connection_failure(
    pages: Pages, fetcher: Fetcher, tmp_path: Path
) -> None:
    pages.routes["/"] = raw(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this")

    result = await fetcher.fetch(pages.url("/"))

    assert result.problem == "connection failed"
    assert result.hops[0].truncated == "disconnect"
    assert list(tmp_path.iterdir()) == []
