"""The pages over HTTP, without a browser: sessions, CSRF, scopes, and the sighting form."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.sightings.models import Sighting
from app.ui.models import UiSession
from tests import factories
from tests.conftest import ADMIN_KEY, make_client
from tests.ui.pages import hidden_field, sign_in


@pytest.fixture
async def browser_like(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no Authorization header: it has only what the pages give it."""
    async with make_client(app, key=None) as http:
        yield http


async def _key(client: httpx.AsyncClient, scope: str) -> str:
    created = await client.post("/v1/keys", json={"name": f"{scope} desk", "scope": scope})
    return str(created.json()["key"])


async def test_sign_in_opens_a_strict_session_and_sign_out_ends_it(
    browser_like: httpx.AsyncClient,
) -> None:
    assert (await browser_like.get("/ui/claims")).headers["location"].startswith("/ui/login")
    answer = await sign_in(browser_like, ADMIN_KEY)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/claims"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "tracer_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain HTTP here; HTTPS adds it, checked below
    page = await browser_like.get("/ui/claims")
    assert page.status_code == 200 and "Sign out" in page.text
    out = await browser_like.post(
        "/ui/logout", data={"csrf_token": hidden_field(page.text, "csrf_token")}
    )
    assert out.status_code == 303
    assert (await browser_like.get("/ui/claims")).status_code == 303


async def test_session_cookie_is_secure_over_https(app: FastAPI) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://tracer.test"
    ) as http:
        answer = await sign_in(http, ADMIN_KEY)
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "tracer_session=" in c)
    assert "Secure" in cookie


async def test_a_wrong_key_is_refused_next_to_its_field(browser_like: httpx.AsyncClient) -> None:
    answer = await sign_in(browser_like, "trk_not_a_key")
    assert answer.status_code == 401
    assert 'aria-invalid="true"' in answer.text and "unknown or revoked" in answer.text


async def test_expired_sessions_and_revoked_keys_sign_out(
    browser_like: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await client.post("/v1/keys", json={"name": "desk", "scope": "read"})
    await sign_in(browser_like, created.json()["key"])
    assert (await browser_like.get("/ui/claims")).status_code == 200
    await client.delete(f"/v1/keys/{created.json()['id']}")
    assert (await browser_like.get("/ui/claims")).status_code == 303
    await sign_in(browser_like, ADMIN_KEY)
    async with sessionmaker() as session:
        await session.execute(
            update(UiSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        await session.commit()
    assert (await browser_like.get("/ui/claims")).status_code == 303


async def test_forms_without_their_csrf_token_are_refused(
    browser_like: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await browser_like.get("/ui/login")
    forged = await browser_like.post("/ui/login", data={"api_key": ADMIN_KEY, "csrf_token": "x"})
    assert forged.status_code == 403
    await sign_in(browser_like, ADMIN_KEY)
    form = {"claim_text": "Forged claim", "outlet": "x", "url": "https://x.example/"}
    refused = await browser_like.post("/ui/sightings/new", data={**form, "csrf_token": "nope"})
    assert refused.status_code == 403
    assert (await browser_like.post("/ui/logout", data={})).status_code == 403
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(UiSession)) == 1


async def test_pages_send_a_strict_content_security_policy(browser_like: httpx.AsyncClient) -> None:
    await sign_in(browser_like, ADMIN_KEY)
    for path in ("/ui/login", "/ui/claims", "/ui/denials", "/ui/sightings/new"):
        answer = await browser_like.get(path)
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy
        # No inline script: every <script> either loads a file of ours or only holds data.
        for tag in re.findall(r"<script[^>]*>", answer.text):
            assert 'src="/ui/static/' in tag or 'type="application/json"' in tag, tag
        assert "http://" not in re.sub(r'(href|value)="[^"]*"', "", answer.text)
    assert "content-security-policy" not in (await browser_like.get("/healthz")).headers


async def test_claims_list_filters_and_labels_status(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    troops = await factories.claim(client, "Troops are coming", tags=["military"])
    await factories.claim(client, "Workers are coming", tags=["labour"])
    await factories.outlet(client, "mfa", kind="official")
    await factories.sighting(client, troops["id"], "mfa", factories.day(2), stance="denies")
    await sign_in(browser_like, ADMIN_KEY)
    denied = (await browser_like.get("/ui/claims", params={"status": "denied"})).text
    assert "Troops are coming" in denied and "Workers are coming" not in denied
    assert "Officially denied" in denied
    tagged = (await browser_like.get("/ui/claims", params={"tag": "labour"})).text
    assert "Workers are coming" in tagged and "Troops are coming" not in tagged
    found = (await browser_like.get("/ui/claims", params={"q": "troops"})).text
    assert "Troops are coming" in found and "Workers are coming" not in found
    assert (await browser_like.get("/ui/claims", params={"status": "bogus"})).status_code == 422


async def test_record_text_is_escaped_on_every_page(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "<script>alert('x')</script> troops")
    await factories.outlet(client, "evil", name="<img src=x onerror=alert(1)>")
    await factories.sighting(client, claim["id"], "evil", factories.day(1))
    await sign_in(browser_like, ADMIN_KEY)
    for path in ("/ui/claims", f"/ui/claims/{claim['id']}"):
        text = (await browser_like.get(path)).text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text


async def _form(http: httpx.AsyncClient, claim_id: str | None = None) -> dict[str, str]:
    page = await http.get("/ui/sightings/new", params={"claim_id": claim_id} if claim_id else {})
    assert page.status_code == 200
    fields = {
        "csrf_token": hidden_field(page.text, "csrf_token"),
        "form_token": hidden_field(page.text, "form_token"),
    }
    if claim_id:
        fields["claim_id"] = claim_id
    return fields


async def test_a_double_submit_records_once(
    browser_like: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    claim = await factories.claim(client, "North Korea offered troops")
    await factories.outlet(client, "paper")
    await sign_in(browser_like, await _key(client, "write"))
    form = await _form(browser_like, claim["id"])
    body = {
        **form,
        "outlet": "paper",
        "url": "https://paper.example/1",
        "published_at": "2022-08-02T10:00",
        "published_at_precision": "exact",
        "stance": "reports",
    }
    first = await browser_like.post("/ui/sightings/new", data=body)
    second = await browser_like.post("/ui/sightings/new", data=body)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Sighting)) == 1
    page = await browser_like.get(first.headers["location"])
    sighting_id = first.headers["location"].rsplit("#s-", 1)[1]
    assert f'data-sighting-id="{sighting_id}"' in page.text


async def test_similar_claims_are_offered_before_a_new_one_is_made(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "North Korea offered 100,000 troops to the DPR")
    await factories.outlet(client, "paper")
    await sign_in(browser_like, ADMIN_KEY)
    form = await _form(browser_like)
    body = {
        **form,
        "claim_text": "КНДР предложила 100 тысяч солдат ДНР",
        "outlet": "paper",
        "url": "https://paper.example/ru",
        "published_at": "2022-08-02T10:00",
        "stance": "reports",
    }
    offered = await browser_like.post("/ui/sightings/new", data=body)
    assert offered.status_code == 422
    assert f'value="{claim["id"]}"' in offered.text and "This is a new claim" in offered.text
    made = await browser_like.post("/ui/sightings/new", data={**body, "new_claim": "1"})
    assert made.status_code == 303
    assert claim["id"] not in made.headers["location"]
    matches = await browser_like.get(
        "/ui/fragments/claim-matches", params={"claim_text": "troops offered by North Korea"}
    )
    assert claim["id"] in matches.text


async def test_refusals_name_their_field_and_keep_nothing(
    browser_like: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    claim = await factories.claim(client, "A claim to cite")
    await factories.outlet(client, "paper")
    later = await factories.sighting(client, claim["id"], "paper", factories.day(20))
    await sign_in(browser_like, ADMIN_KEY)
    form = await _form(browser_like, claim["id"])
    base = {
        **form,
        "outlet": "new-blog",
        "new_outlet_name": "New Blog",
        "new_outlet_kind": "social_account",
        "url": "https://blog.example/1",
        "published_at": "2022-08-02T10:00",
        "stance": "reports",
    }
    cases = [
        ({"cites": later["id"]}, "cites", "published after this one"),
        ({"url": "ftp://nope"}, "url", "web address"),
        ({"stance": ""}, "stance", "Choose the stance"),
        ({"published_at": "tomorrow"}, "published_at", ""),
        ({"outlet": "no-such-outlet", "new_outlet_name": ""}, "outlet", "no outlet"),
    ]
    for change, field, words in cases:
        answer = await browser_like.post("/ui/sightings/new", data={**base, **change})
        assert answer.status_code == 422, field
        error = re.search(rf'<p class="error" id="err-{field}">([^<]*)</p>', answer.text)
        assert error and words in error.group(1), (field, answer.text[:200])
        assert re.search(rf'aria-describedby="[^"]*err-{field}"', answer.text)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Sighting)) == 1
    outlets = await client.get("/v1/outlets", params={"q": "new-blog"})
    assert outlets.json()["items"] == []


async def test_scopes_hold_on_pages(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await sign_in(browser_like, await _key(client, "read"))
    assert (await browser_like.get("/ui/claims")).status_code == 200
    refused = await browser_like.get("/ui/sightings/new")
    assert refused.status_code == 403 and "needs a write key" in refused.text
    assert (await browser_like.get("/ui/fragments/outlets")).status_code == 403


async def test_exports_download_with_the_session(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "Exported claim")
    await factories.outlet(client, "paper")
    await factories.sighting(client, claim["id"], "paper", factories.day(1))
    await sign_in(browser_like, ADMIN_KEY)
    page = (await browser_like.get(f"/ui/claims/{claim['id']}")).text
    links = re.findall(rf'href="(/ui/claims/{claim["id"]}/export/[a-z]+)"', page)
    assert len(links) == 5
    for link in links:
        answer = await browser_like.get(link)
        assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    chain = (await browser_like.get(f"/ui/claims/{claim['id']}/export/json")).json()
    assert chain == (await client.get(f"/v1/claims/{claim['id']}/chain")).json()
    assert (await browser_like.get(f"/ui/claims/{claim['id']}/export/pdf")).status_code == 404


async def test_the_denials_stream_needs_a_session(
    anonymous: httpx.AsyncClient, browser_like: httpx.AsyncClient
) -> None:
    assert (await anonymous.get("/ui/denials/stream")).status_code == 303
    bearer = await anonymous.get(
        "/ui/denials/stream", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert bearer.status_code == 303


async def test_correct_and_withdraw_from_the_sighting_page_with_a_reason(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "A claim to correct")
    await factories.outlet(client, "paper")
    await factories.outlet(client, "blog")
    first = await factories.sighting(client, claim["id"], "paper", factories.day(1))
    second = await factories.sighting(
        client, claim["id"], "blog", factories.day(2), cites=[first["id"]]
    )
    await sign_in(browser_like, await _key(client, "write"))
    page = await browser_like.get(f"/ui/sightings/{first['id']}")
    assert 'action="/ui/sightings/' in page.text and "Reason" in page.text
    csrf = hidden_field(page.text, "csrf_token")
    form = {
        "csrf_token": csrf,
        "revision": "1",
        "outlet": "paper",
        "url": "https://paper.example/corrected",
        "published_at": "2022-08-01T12:00:00",
        "published_at_precision": "exact",
        "stance": "reports",
    }
    unexplained = await browser_like.post(f"/ui/sightings/{first['id']}/correct", data=form)
    assert unexplained.status_code == 422
    assert re.search(r'<p class="error" id="err-reason">[^<]*reason', unexplained.text)
    reason = "the link pointed at the wrong article"
    done = await browser_like.post(
        f"/ui/sightings/{first['id']}/correct", data={**form, "reason": reason}
    )
    assert done.status_code == 303
    api = (await client.get(f"/v1/sightings/{first['id']}")).json()
    assert api["url"] == "https://paper.example/corrected" and api["revision"] == 2
    page = await browser_like.get(done.headers["location"])
    assert reason in page.text and "https://paper.example/corrected" in page.text
    stale = await browser_like.post(
        f"/ui/sightings/{first['id']}/correct",
        data={**form, "url": "https://paper.example/again", "reason": "again"},
    )
    assert stale.status_code == 422 and "changed this record since" in stale.text

    withdraw = {"csrf_token": csrf, "revision": "2", "reason": "recorded in error"}
    refused = await browser_like.post(f"/ui/sightings/{first['id']}/withdraw", data=withdraw)
    assert refused.status_code == 422
    assert re.search(r'id="err-relink">1 sighting cite', refused.text)
    gone = await browser_like.post(
        f"/ui/sightings/{first['id']}/withdraw", data={**withdraw, "relink": "1"}
    )
    assert gone.status_code == 303
    assert (await client.get(f"/v1/sightings/{first['id']}")).status_code == 410
    withdrawn_page = await browser_like.get(f"/ui/sightings/{first['id']}")
    assert withdrawn_page.status_code == 410
    assert "recorded in error" in withdrawn_page.text and "withdrawn" in withdrawn_page.text
    assert (await client.get(f"/v1/sightings/{second['id']}")).json()["cites"] == []


async def test_the_correct_form_moves_a_sighting_and_replaces_what_it_cites(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "A claim told first")
    other = await factories.claim(client, "A claim told later, elsewhere")
    await factories.outlet(client, "paper")
    await factories.outlet(client, "blog")
    first = await factories.sighting(client, claim["id"], "paper", factories.day(1))
    second = await factories.sighting(client, claim["id"], "blog", factories.day(2))
    third = await factories.sighting(
        client, claim["id"], "blog", factories.day(3), url="https://blog.example/3"
    )
    await sign_in(browser_like, await _key(client, "write"))
    page = await browser_like.get(f"/ui/sightings/{third['id']}")
    assert f'value="{claim["id"]}"' in page.text
    form = {
        "csrf_token": hidden_field(page.text, "csrf_token"),
        "revision": "1",
        "outlet": "blog",
        "url": "https://blog.example/3",
        "published_at": "2022-08-03T12:00:00",
        "published_at_precision": "exact",
        "stance": "reports",
        "claim_id": claim["id"],
        "cites_shown": "1",
        "cites": [first["id"], second["id"]],
        "reason": "it quotes both",
    }
    cited = await browser_like.post(f"/ui/sightings/{third['id']}/correct", data=form)
    assert cited.status_code == 303, cited.text
    api = (await client.get(f"/v1/sightings/{third['id']}")).json()
    assert sorted(api["cites"]) == sorted([first["id"], second["id"]])

    page = await browser_like.get(f"/ui/sightings/{third['id']}")
    later = {**form, "csrf_token": hidden_field(page.text, "csrf_token"), "revision": "2"}
    unknown = await browser_like.post(
        f"/ui/sightings/{third['id']}/correct", data={**later, "cites": "no-such-sighting"}
    )
    assert unknown.status_code == 422
    assert re.search(r'id="err-cites">[^<]*no longer recorded', unknown.text)
    moved = await browser_like.post(
        f"/ui/sightings/{third['id']}/correct",
        data={**later, "claim_id": other["id"], "cites": [], "reason": "another claim"},
    )
    assert moved.status_code == 303, moved.text
    api = (await client.get(f"/v1/sightings/{third['id']}")).json()
    assert api["claim_id"] == other["id"] and api["cites"] == []


async def test_a_read_key_sees_no_correction_forms_and_cannot_post_them(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "A claim to read")
    await factories.outlet(client, "paper")
    sighting = await factories.sighting(client, claim["id"], "paper", factories.day(1))
    await sign_in(browser_like, await _key(client, "read"))
    page = await browser_like.get(f"/ui/sightings/{sighting['id']}")
    assert page.status_code == 200 and "/withdraw" not in page.text
    posted = await browser_like.post(
        f"/ui/sightings/{sighting['id']}/withdraw",
        data={"csrf_token": hidden_field(page.text, "csrf_token"), "reason": "x"},
    )
    assert posted.status_code == 403


async def test_a_merged_claims_page_leads_to_the_survivor(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    survivor = await factories.claim(client, "The claim kept")
    duplicate = await factories.claim(client, "The same claim told twice")
    merged = await client.post(
        f"/v1/claims/{duplicate['id']}/merge", json={"into": survivor["id"], "reason": "same"}
    )
    assert merged.status_code == 200, merged.text
    await sign_in(browser_like, ADMIN_KEY)
    answer = await browser_like.get(f"/ui/claims/{duplicate['id']}")
    assert answer.status_code == 308
    assert answer.headers["location"] == f"/ui/claims/{survivor['id']}"
    assert (await browser_like.get("/ui/claims/no-such-claim")).status_code == 404
