"""Reading a URL before it is recorded: its canonical form, its outlet, the sightings already at
that address, what the page says about itself, and the tracked claims it matches.

The page is fetched first, with no database connection held while a slow server answers; the
rest is a few indexed reads. A page that cannot be read is an answer (`problem`), not an error;
an address Tracer may not fetch is refused like any other bad input.
"""

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import matching
from app.claims.schemas import Claim, ClaimMatch
from app.config import Settings
from app.errors import Invalid
from app.evidence.fetching import Fetcher, FetchResult
from app.evidence.reading import Page, read_page, telegram_embed_url
from app.outlets import domains
from app.outlets.schemas import Outlet
from app.sightings.models import Sighting
from app.sightings.presenter import present
from app.sightings.service import with_outlet
from app.url_info.schemas import PageInfo, UrlInfo
from app.urls import canonical_url

# The contract answers within 10 s: the fetch gets most of it, reading and the database the rest.
FETCH_SECONDS = 7.0
ANSWER_SECONDS = 9.0
# A page worth proposing fields from is far smaller than evidence may be.
MAX_BYTES = 5 * 2**20
SIGHTINGS_SHOWN = 50
MATCHES = 5
# The title and the start of the text: a headline states the claim, if anything does, and the
# matcher's cost grows with the length of what it embeds (about 4x from 80 to 350 characters).
MATCH_TEXT = 200


def page_fetcher(settings: Settings) -> Fetcher:
    """The fetcher `url-info` reads pages with: the evidence settings, within its own deadline."""
    return Fetcher(
        user_agent=settings.fetch_user_agent,
        allow_private=settings.fetch_allow_private,
        timeout_seconds=min(settings.fetch_timeout_seconds, FETCH_SECONDS),
        max_bytes=min(settings.fetch_max_bytes, MAX_BYTES),
        max_redirects=settings.fetch_max_redirects,
        per_host=settings.fetch_per_host,
    )


async def read_url(
    *, session: AsyncSession, url: str, fetcher: Fetcher, settings: Settings
) -> UrlInfo:
    """What Tracer can tell about `url` (checked already) before a sighting of it is recorded."""
    canonical = canonical_url(url)
    page, problem = await _read(url, fetcher)
    outlet = await domains.outlet_of(session=session, url=url)
    rows = await session.scalars(
        with_outlet()
        .where(Sighting.canonical_url == canonical)
        .order_by(Sighting.published_at.desc(), Sighting.id)
        .limit(SIGHTINGS_SHOWN)
    )
    return UrlInfo(
        url=url,
        canonical_url=canonical,
        outlet=Outlet.model_validate(outlet) if outlet is not None else None,
        sightings=await present(session=session, sightings=rows.all()),
        page=page,
        matches=await _matches(session, page, settings),
        problem=problem,
    )


async def _read(url: str, fetcher: Fetcher) -> tuple[PageInfo | None, str | None]:
    # A Telegram post's own address serves a script-built page; its embed page has the post.
    # A fragment is never sent, so the address fetched is the one without it.
    target = telegram_embed_url(url) or url.split("#", 1)[0]
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            result = await fetcher.fetch(target)
    except TimeoutError:
        # Waiting for a busy host's turn is not counted by the fetch's own budget.
        return None, "timeout"
    try:
        if result.problem == "refused address" and len(result.hops) == 0:
            raise Invalid(
                "resolves to an address Tracer does not fetch (loopback, private, link-local "
                "or otherwise not public)",
                loc=["url"],
            )
        if result.problem is not None or result.body_path is None:
            return None, result.problem or "no body"
        read = await asyncio.to_thread(_read_body, result)
    finally:
        result.discard()
    return _shown(read, result), None


def _read_body(result: FetchResult) -> Page:
    body = Path(result.body_path or "").read_bytes()
    return read_page(body, url=result.final_url, content_type=result.content_type)


def _shown(page: Page, result: FetchResult) -> PageInfo:
    return PageInfo(
        final_url=result.final_url,
        http_status=result.http_status,
        title=page.title,
        site_name=page.site_name,
        published_at=page.published_at,
        published_at_precision=page.published_at_precision,
        language=page.language,
        excerpt=page.excerpt,
        canonical_link=page.canonical_link,
    )


async def _matches(
    session: AsyncSession, page: PageInfo | None, settings: Settings
) -> list[ClaimMatch]:
    if page is None:
        return []
    text = " ".join(part for part in (page.title, page.excerpt) if part)[:MATCH_TEXT]
    try:
        found = await matching.match(session=session, text=text, limit=MATCHES, settings=settings)
    except Invalid:  # a page with no words to match
        return []
    return [
        ClaimMatch(claim=Claim.model_validate(m.claim), score=m.score, match=m.match) for m in found
    ]
