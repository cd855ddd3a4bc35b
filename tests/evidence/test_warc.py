"""WARC files of real fetches, read back with warcio as any archive tool would read them."""

import base64
import gzip
import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from app.evidence.fetching import Fetcher, FetchResult
from app.evidence.store import BodyFile, file_digest
from app.evidence.warc import write_warc
from tests.evidence.pages import Pages, endless, page, redirect, silent

ARTICLE = b"<html><title>Denial</title><body>The ministry calls it fake.</body></html>"


@pytest.fixture
async def fetcher(tmp_path: Path) -> AsyncIterator[Fetcher]:
    async with Fetcher(
        user_agent="Tracer/test", allow_private=True, timeout_seconds=1.0, temp_dir=tmp_path
    ) as fetcher:
        yield fetcher


def archived(result: FetchResult, path: Path) -> list[dict[str, Any]]:
    """Write the WARC, then read every record back, checking its digests."""
    with path.open("wb") as out:
        write_warc(result, out)
    records = []
    with path.open("rb") as warc:
        for record in ArchiveIterator(warc, check_digests="raise"):
            payload = hashlib.sha256()
            size = 0
            content = record.content_stream()
            while chunk := content.read(64 * 1024):
                payload.update(chunk)
                size += len(chunk)
            records.append(
                {
                    "type": record.rec_type,
                    "version": record.rec_headers.protocol,
                    "warc": dict(record.rec_headers.headers),
                    "http": record.http_headers,
                    "sha256": payload.hexdigest(),
                    "size": size,
                }
            )
    return records


async def test_every_hop_has_its_request_and_response(
    pages: Pages, fetcher: Fetcher, tmp_path: Path
) -> None:
    pages.routes["/a"] = redirect("/b", status=301)
    pages.routes["/b"] = redirect("/c")
    pages.routes["/c"] = page(gzip.compress(ARTICLE), content_encoding="gzip")
    result = await fetcher.fetch(pages.url("/a"))
    assert result.problem is None

    records = archived(result, tmp_path / "capture.warc.gz")

    assert (tmp_path / "capture.warc.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert {r["version"] for r in records} == {"WARC/1.1"}
    assert [r["type"] for r in records] == ["warcinfo", *["request", "response"] * 3]
    info = records[0]["warc"]
    urls = [pages.url(p) for p in ("/a", "/a", "/b", "/b", "/c", "/c")]
    assert [r["warc"]["WARC-Target-URI"] for r in records[1:]] == urls
    for request, response in zip(records[1::2], records[2::2], strict=True):
        assert request["warc"]["WARC-Concurrent-To"] == response["warc"]["WARC-Record-ID"]
        assert response["warc"]["WARC-Concurrent-To"] == request["warc"]["WARC-Record-ID"]
        assert request["warc"]["WARC-Date"] == response["warc"]["WARC-Date"]
        assert response["warc"]["WARC-IP-Address"] == "127.0.0.1"
        assert request["warc"]["WARC-Warcinfo-ID"] == info["WARC-Record-ID"]
    assert [r["http"].statusline for r in records[1::2]] == [
        "/a HTTP/1.1",
        "/b HTTP/1.1",
        "/c HTTP/1.1",
    ]
    assert records[1]["http"].get_header("User-Agent") == "Tracer/test"
    assert [r["http"].get_statuscode() for r in records[2::2]] == ["301", "302", "200"]
    assert records[2]["http"].get_header("Location") == "/b"


async def test_the_final_payload_is_the_body_and_its_headers_say_so(
    pages: Pages, fetcher: Fetcher, tmp_path: Path
) -> None:
    pages.routes["/c"] = page(gzip.compress(ARTICLE), content_encoding="gzip")
    result = await fetcher.fetch(pages.url("/c"))
    assert result.sha256 is not None

    final = archived(result, tmp_path / "capture.warc.gz")[-1]

    assert final["sha256"] == result.sha256 == hashlib.sha256(ARTICLE).hexdigest()
    digest = base64.b32encode(bytes.fromhex(result.sha256)).decode()
    assert final["warc"]["WARC-Payload-Digest"] == f"sha256:{digest}"
    http = final["http"]
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert http.get_header("Content-Length") == str(len(ARTICLE))
    assert http.get_header("X-Archive-Orig-Content-Length") == str(len(gzip.compress(ARTICLE)))
    assert http.get_header("Content-Type") == "text/html; charset=utf-8"


async def test_a_large_body_is_archived_in_pieces(pages: Pages, tmp_path: Path) -> None:
    body = b"".join(n.to_bytes(4, "big") * 1024 for n in range(5 * 1024))
    assert len(body) == 20 * 2**20
    pages.routes["/big"] = page(body, content_type="application/pdf")
    async with Fetcher(user_agent="Tracer/test", allow_private=True, temp_dir=tmp_path) as big:
        result = await big.fetch(pages.url("/big"))
    assert result.problem is None

    tracemalloc.start()
    try:
        with (tmp_path / "big.warc.gz").open("wb") as out:
            write_warc(result, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 2 * 2**20, f"peak Python allocation {peak} bytes"
    final = archived(result, tmp_path / "big.warc.gz")[-1]
    assert final["size"] == len(body)
    assert final["sha256"] == hashlib.sha256(body).hexdigest()


async def test_a_body_not_kept_whole_is_marked_truncated(pages: Pages, tmp_path: Path) -> None:
    pages.routes["/endless"] = endless()
    async with Fetcher(
        user_agent="Tracer/test", allow_private=True, max_bytes=1024, temp_dir=tmp_path
    ) as small:
        result = await small.fetch(pages.url("/endless"))
    assert result.problem == "too large"

    records = archived(result, tmp_path / "cut.warc.gz")

    assert [r["type"] for r in records] == ["warcinfo", "request", "response"]
    assert records[-1]["warc"]["WARC-Truncated"] == "length"
    assert records[-1]["size"] == 0


async def test_a_hop_with_no_answer_has_its_request_only(
    pages: Pages, fetcher: Fetcher, tmp_path: Path
) -> None:
    pages.routes["/a"] = redirect("/silent")
    pages.routes["/silent"] = silent()
    result = await fetcher.fetch(pages.url("/a"))
    assert result.problem == "timeout"

    records = archived(result, tmp_path / "silent.warc.gz")

    assert [r["type"] for r in records] == ["warcinfo", "request", "response", "request"]
    assert "WARC-Concurrent-To" not in records[-1]["warc"]


async def test_a_warc_written_to_a_body_file_is_hashed_on_the_way(
    pages: Pages, fetcher: Fetcher, tmp_path: Path
) -> None:
    pages.routes["/c"] = page(ARTICLE)
    result = await fetcher.fetch(pages.url("/c"))

    with BodyFile(tmp_path) as warc:
        write_warc(result, warc)
        sha256 = warc.finish()

    assert (sha256, warc.size) == file_digest(warc.path)
    with warc.path.open("rb") as written:
        assert [r.rec_type for r in ArchiveIterator(written)][-1] == "response"
