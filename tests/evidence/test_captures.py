"""Captures end to end: recorded sightings fetched by the worker, kept, served, re-checked."""

import asyncio
import gzip
import hashlib
import http.server
import io
import ipaddress
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from warcio.archiveiterator import ArchiveIterator

from app import netguard
from app.config import Settings
from app.evidence.store import open_store
from app.evidence.worker import CaptureWorker, capture_worker
from app.main import create_app
from tests.conftest import make_client, started
from tests.evidence.pages import Pages, page, redirect
from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem
from tests.ui.pages import hidden_field, sign_in

ARTICLE = b"""<!doctype html><html><head><title>Troops offered</title></head><body><article>
<h1>Troops offered</h1>
<p>North Korea is said to have offered up to 100,000 troops to help in the Donbass region,
according to an anonymous channel that posted the claim without any named source at all.</p>
<p>The claim spread quickly through talk shows and regional newspapers in the following days.</p>
</article></body></html>"""
CHANGED = ARTICLE.replace(b"100,000 troops", b"a few thousand workers")


def capturing(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(
        update={"fetch_allow_private": True, "capture_retry_seconds": [0.0], **extra}
    )


@pytest.fixture
async def worker(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[CaptureWorker]:
    async with capture_worker(settings=capturing(settings), sessionmaker=sessionmaker) as made:
        yield made


async def run(worker: CaptureWorker) -> list[str]:
    """One round of the worker: queue what events announced, capture everything due."""
    await worker.queue_round()
    leased = await worker.lease(50)
    await asyncio.gather(*(worker.capturer.capture(sighting_id) for sighting_id in leased))
    return leased


async def record(client: httpx.AsyncClient, url: str, name: str = "paper") -> dict[str, Any]:
    await outlet(client, name)
    topic = await claim(client, f"North Korea offered troops ({name})")
    return await sighting(client, topic["id"], name, day(2), url=url)


async def events(client: httpx.AsyncClient, kind: str) -> list[dict[str, Any]]:
    response = await client.get("/v1/events", params={"type": kind})
    return [e["data"] for e in response.json()["items"]]


async def test_a_recorded_sighting_is_captured_in_the_background_and_served_safely(
    settings: Settings, pages: Pages
) -> None:
    pages.routes["/story"] = redirect("/article")
    pages.routes["/article"] = page(ARTICLE)
    application: FastAPI = create_app(capturing(settings, capture=True))
    async with (
        started(application),
        make_client(application) as client,
    ):
        recorded = await record(client, pages.url("/story"))
        assert recorded["evidence"]["status"] == "pending"
        for _ in range(600):
            shown = (await client.get(f"/v1/sightings/{recorded['id']}")).json()
            if shown["evidence"]["status"] != "pending":
                break
            await asyncio.sleep(0.05)
        evidence = shown["evidence"]
        assert evidence["status"] == "captured", evidence
        assert evidence["captures"] == 1 and evidence["checked_at"].endswith("Z")
        latest = evidence["latest"]
        assert latest["source"] == "fetch" and latest["http_status"] == 200
        assert latest["requested_url"] == pages.url("/story")
        assert latest["final_url"] == pages.url("/article")
        assert latest["title"] == "Troops offered" and latest["size"] == len(ARTICLE)
        listed = (await client.get(f"/v1/sightings/{recorded['id']}/captures")).json()
        assert [c["id"] for c in listed["items"]] == [latest["id"]]
        chain = (await client.get(f"/v1/claims/{recorded['claim_id']}/chain")).json()
        assert chain["nodes"][0]["evidence"]["latest"]["id"] == latest["id"]

        content = await client.get(f"/v1/captures/{latest['id']}/content")
        assert content.content == ARTICLE
        assert content.headers["content-type"].startswith("text/html")
        assert content.headers["content-disposition"].startswith("attachment")
        assert content.headers["x-content-type-options"] == "nosniff"
        assert content.headers["content-security-policy"] == "sandbox"
        assert hashlib.sha256(content.content).hexdigest() == latest["sha256"]

        text = await client.get(f"/v1/captures/{latest['id']}/text")
        assert text.headers["content-type"] == "text/plain; charset=utf-8"
        assert "100,000 troops" in text.text
        assert hashlib.sha256(text.content).hexdigest() == latest["text_sha256"]

        warc = await client.get(f"/v1/captures/{latest['id']}/warc")
        assert warc.headers["content-type"] == "application/warc"
        assert warc.headers["content-disposition"].startswith("attachment")
        gzip.decompress(warc.content)  # a gzipped file, served as such
        records = list(ArchiveIterator(io.BytesIO(warc.content)))
        kinds = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in records]
        assert kinds[1:] == [
            ("request", pages.url("/story")),
            ("response", pages.url("/story")),
            ("request", pages.url("/article")),
            ("response", pages.url("/article")),
        ]
        assert records[0].rec_headers.get_header("WARC-Type") == "warcinfo"

        captured = await events(client, "evidence.captured")
        assert captured == [
            {
                "sighting_id": recorded["id"],
                "claim_id": recorded["claim_id"],
                "outlet": "paper",
                "url": pages.url("/story"),
                "capture_id": latest["id"],
                "previous_capture_id": None,
                "http_status": 200,
            }
        ]


async def test_re_checks_keep_changed_text_and_notice_a_source_gone(
    client: httpx.AsyncClient, reader: httpx.AsyncClient, pages: Pages, worker: CaptureWorker
) -> None:
    pages.routes["/post"] = page(ARTICLE)
    recorded = await record(client, pages.url("/post"))
    path = f"/v1/sightings/{recorded['id']}/captures"
    assert await run(worker) == [recorded["id"]]
    first = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]["latest"]

    # The same text again keeps nothing new.
    assert (await client.post(path)).status_code == 202
    await run(worker)
    assert len((await client.get(path)).json()["items"]) == 1

    pages.routes["/post"] = page(CHANGED)
    again = await client.post(path)
    assert again.status_code == 202 and again.json()["status"] == "captured"
    assert (await reader.post(path)).status_code == 403
    await run(worker)
    items = (await client.get(path)).json()["items"]
    assert len(items) == 2 and items[1]["id"] == first["id"]
    assert items[0]["text_sha256"] != first["text_sha256"]
    [changed] = await events(client, "source.changed")
    assert changed["capture_id"] == items[0]["id"]
    assert changed["previous_capture_id"] == first["id"]

    del pages.routes["/post"]
    await client.post(path)
    await run(worker)
    evidence = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]
    assert evidence["status"] == "gone" and evidence["problem"] == "HTTP 404"
    assert evidence["captures"] == 2
    [gone] = await events(client, "source.gone")
    assert gone["http_status"] == 404 and gone["capture_id"] is None
    assert gone["previous_capture_id"] == items[0]["id"]
    kept = await client.get(f"/v1/captures/{first['id']}/content")
    assert kept.status_code == 200 and kept.content == ARTICLE


async def test_uploads_are_kept_and_served_as_attachments(
    client: httpx.AsyncClient, pages: Pages
) -> None:
    recorded = await record(client, pages.url("/deleted"))
    path = f"/v1/sightings/{recorded['id']}/captures"
    hostile = b"<html><script>alert(document.cookie)</script><p>Screenshot</p></html>"
    files = {"file": ("..\\..\\windows/../evil.png", hostile, "image/png")}
    response = await client.post(path, files=files)
    assert response.status_code == 201, response.text
    upload = response.json()
    assert upload["source"] == "upload" and upload["filename"] == "evil.png"
    assert upload["content_type"] == "image/png" and upload["size"] == len(hostile)
    served = await client.get(f"/v1/captures/{upload['id']}/content")
    assert served.content == hostile
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "sandbox"
    assert 'filename="evil.png"' in served.headers["content-disposition"]
    assert (await client.get(f"/v1/captures/{upload['id']}/warc")).status_code == 404

    weird = await client.post(path, files={"file": ("x.bin", b"\x00\x01", "text/html<script>")})
    assert weird.json()["content_type"] == "application/octet-stream"
    wrong = await client.post(path, content=b"not a form", headers={"content-type": "text/plain"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["loc"] == ["body", "file"]
    evidence = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]
    assert evidence["captures"] == 2 and evidence["status"] == "pending"
    assert len(await events(client, "evidence.captured")) == 1


async def test_an_upload_past_50_mib_is_refused_and_leaves_nothing(
    client: httpx.AsyncClient, pages: Pages, settings: Settings
) -> None:
    recorded = await record(client, pages.url("/deleted"))
    path = f"/v1/sightings/{recorded['id']}/captures"
    over = b"\x00" * (50 * 2**20 + 1)
    response = await client.post(path, files={"file": ("video.mp4", over, "video/mp4")})
    problem = assert_problem(response, 413, "file")
    assert "50 MiB" in problem["detail"]
    del over

    listed = await client.get(path)
    assert listed.status_code == 200 and listed.json()["items"] == []
    evidence = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]
    assert evidence["captures"] == 0
    stored = Path(settings.evidence_store)
    assert not stored.exists() or not [p for p in stored.rglob("*") if p.is_file()]
    assert await events(client, "evidence.captured") == []


async def test_a_body_too_large_fails_after_its_tries(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    pages: Pages,
) -> None:
    pages.routes["/huge"] = page(b"x" * 5000, content_type="application/octet-stream")
    recorded = await record(client, pages.url("/huge"))
    chain = f"/v1/claims/{recorded['claim_id']}/chain"
    kept = await client.get(chain)
    assert [n["evidence"]["status"] for n in kept.json()["nodes"]] == ["pending"]
    small = capturing(settings, fetch_max_bytes=1000)
    async with capture_worker(settings=small, sessionmaker=sessionmaker) as limited:
        for _ in range(4):
            await run(limited)
    evidence = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]
    assert evidence["status"] == "failed" and evidence["problem"] == "too large"
    # A failed fetch writes no event, yet the chain kept in memory shows it at once.
    polled = await client.get(chain, headers={"If-None-Match": kept.headers["etag"]})
    assert polled.status_code == 200
    assert [n["evidence"]["status"] for n in polled.json()["nodes"]] == ["failed"]
    assert evidence["latest"] is None
    assert pages.paths().count("/huge") == 3


async def test_two_workers_capture_each_source_once(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    pages: Pages,
) -> None:
    recorded = []
    for n in range(6):
        pages.routes[f"/a{n}"] = page(ARTICLE)
        recorded.append(await record(client, pages.url(f"/a{n}"), name=f"paper-{n}"))
    async with (
        capture_worker(settings=capturing(settings), sessionmaker=sessionmaker) as one,
        capture_worker(settings=capturing(settings), sessionmaker=sessionmaker) as two,
    ):
        await asyncio.gather(run(one), run(two), run(one), run(two))
    assert sorted(pages.paths()) == sorted(f"/a{n}" for n in range(6))
    assert len(await events(client, "evidence.captured")) == 6
    for shown in recorded:
        captures = (await client.get(f"/v1/sightings/{shown['id']}/captures")).json()
        assert len(captures["items"]) == 1


async def test_a_redirect_to_a_private_address_is_not_captured(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    pages: Pages,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 127.0.0.1 stands for a public server; 127.0.0.2 keeps the guard's verdict.
    stand_in = ipaddress.ip_address("127.0.0.1")
    judge = netguard.is_forbidden
    monkeypatch.setattr(netguard, "is_forbidden", lambda a: a != stand_in and judge(a))
    inside = Pages(host="127.0.0.2")
    await inside.start()
    try:
        inside.routes["/secret"] = page(b"secret")
        pages.routes["/leak"] = redirect(inside.url("/secret"))
        recorded = await record(client, pages.url("/leak"))
        guarded = capturing(settings, fetch_allow_private=False)
        async with capture_worker(settings=guarded, sessionmaker=sessionmaker) as strict:
            await run(strict)
    finally:
        await inside.stop()
    evidence = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]
    assert evidence["status"] == "failed" and evidence["problem"] == "refused address"
    assert inside.seen == []


class _Article(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(ARTICLE)))
        self.end_headers()
        self.wfile.write(ARTICLE)

    def log_message(self, *args: Any) -> None:
        pass


def test_capture_pending_fetches_sightings_recorded_without_capture(
    tracer: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Article)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        rows = [
            {
                "claim": {"statement": f"North Korea offered troops, take {n}"},
                "outlet": {"slug": "paper", "name": "Paper", "kind": "news_outlet"},
                "url": f"{base}/story/{n}",
                "published_at": day(2),
                "stance": "reports",
            }
            for n in range(3)
        ]
        source = tmp_path / "sightings.ndjson"
        source.write_text("\n".join(json.dumps(row) for row in rows))
        monkeypatch.setenv("TRACER_FETCH_ALLOW_PRIVATE", "true")
        monkeypatch.setenv("TRACER_EVIDENCE_STORE", str(tmp_path / "evidence"))
        assert tracer("import", source).exit_code == 0
        done = tracer("capture", "--pending")
        assert done.exit_code == 0, done.output
        assert "3 captured" in done.output
        again = tracer("capture", "--pending")
        assert "0 captured" in again.output
        assert tracer("capture").exit_code == 2
    finally:
        server.shutdown()
        server.server_close()


async def test_the_sighting_page_shows_its_evidence_and_takes_more(
    app: FastAPI, client: httpx.AsyncClient, pages: Pages, worker: CaptureWorker
) -> None:
    pages.routes["/post"] = page(ARTICLE)
    recorded = await record(client, pages.url("/post"))
    await run(worker)
    created = await client.post("/v1/keys", json={"name": "desk", "scope": "write"})
    async with make_client(app, key=None) as browser:
        await sign_in(browser, created.json()["key"])
        shown = await browser.get(f"/ui/sightings/{recorded['id']}")
        latest = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]["latest"]
        assert 'data-evidence-status="captured"' in shown.text
        assert latest["sha256"] in shown.text and "100,000 troops" in shown.text
        warc = await browser.get(f"/ui/captures/{latest['id']}/warc")
        assert warc.status_code == 200 and warc.headers["content-type"] == "application/warc"
        csrf = hidden_field(shown.text, "csrf_token")

        files = {"file": ("shot.png", b"\x89PNG not really", "image/png")}
        forged = await browser.post(
            f"/ui/sightings/{recorded['id']}/captures", data={"csrf_token": "x"}, files=files
        )
        assert forged.status_code == 403
        uploaded = await browser.post(
            f"/ui/sightings/{recorded['id']}/captures", data={"csrf_token": csrf}, files=files
        )
        assert uploaded.status_code == 303
        again = await browser.post(
            f"/ui/sightings/{recorded['id']}/capture", data={"csrf_token": csrf}
        )
        assert again.status_code == 303
    listed = (await client.get(f"/v1/sightings/{recorded['id']}/captures")).json()["items"]
    assert [c["source"] for c in listed] == ["upload", "fetch"]
    assert await worker.lease(5) == [recorded["id"]]


async def test_captures_are_kept_in_and_served_from_an_s3_bucket(
    app: FastAPI,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    pages: Pages,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    bucket = "s3://evidence/captures-test"
    app.state.evidence_store = open_store(bucket)
    pages.routes["/post"] = page(ARTICLE)
    recorded = await record(client, pages.url("/post"))
    stored = capturing(settings, evidence_store=bucket)
    async with capture_worker(settings=stored, sessionmaker=sessionmaker) as remote:
        await run(remote)
    latest = (await client.get(f"/v1/sightings/{recorded['id']}")).json()["evidence"]["latest"]
    content = await client.get(f"/v1/captures/{latest['id']}/content")
    assert content.content == ARTICLE
    warc = await client.get(f"/v1/captures/{latest['id']}/warc")
    assert [r.rec_type for r in ArchiveIterator(io.BytesIO(warc.content))][1:] == [
        "request",
        "response",
    ]
    async with httpx.AsyncClient() as s3:
        listed = await s3.get(f"{s3_endpoint}/evidence?list-type=2&prefix=captures-test/sha256/")
    assert latest["sha256"] in listed.text
