"""A claim's fact checks and official denials as schema.org ClaimReview, for search engines
and fact-check aggregators.

A fact-checker's verdict keeps the usual fact-check form: a rating on a 1 (false) to 5 (true)
scale. An official denial is not a fact check and is never dressed as one: the official body is
the reviewer of record, the rating carries its own word for the claim ("fake", as the Russian
Foreign Ministry put it) with no number on a scale it never used, and the explanation says it
is an official denial.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims.models import Claim
from app.enums import OutletKind, Precision, Stance
from app.ledger import CURRENT, LedgerView
from app.outlets.models import Outlet
from app.schemas import utc_z
from app.sightings import rules
from app.sightings.models import Citation, Sighting
from app.sightings.service import with_outlet

SCHEMA_ORG = "https://schema.org"
LD_JSON = "application/ld+json"

# alternateName, ratingValue on a 1 (false) to 5 (true) scale, for each stance a fact check can
# take.
RATINGS: dict[Stance, tuple[str, int | None]] = {
    Stance.denies: ("False", 1),
    Stance.debunks: ("False", 1),
    Stance.retracts: ("Retracted", None),
    Stance.questions: ("Unproven", 3),
    Stance.confirms: ("True", 5),
    Stance.asserts: ("True", 5),
    Stance.reports: ("Unrated", None),
}
OFFICIALLY_DENIED = "Officially denied"
# The words an official body calls a claim it denies, in the languages of the record so far:
# the first one found in the denial's title, attribution or excerpt is quoted as it was written.
DENIAL_WORDS = re.compile(
    r"(?<!\w)(fake|false|untrue|not true|fabricat\w*|hoax|disinformation|"
    r"фейк\w*|ложь|неправд\w*|вымыс\w*|дезинформаци\w*|брехн\w*|неправдив\w*)(?!\w)",
    re.IGNORECASE,
)


def schema_date(moment: datetime, precision: Precision) -> str:
    """A schema.org Date or DateTime: a bare date unless the time is known exactly."""
    if precision is Precision.exact:
        return utc_z(moment)
    return moment.astimezone(UTC).date().isoformat()


def _organization(outlet: Outlet) -> dict[str, Any]:
    kind = "GovernmentOrganization" if outlet.kind is OutletKind.official else "Organization"
    shown: dict[str, Any] = {"@type": kind, "name": outlet.name, "identifier": outlet.slug}
    if outlet.url:
        shown["url"] = outlet.url
    return shown


def _creative_work(sighting: Sighting) -> dict[str, Any]:
    work: dict[str, Any] = {
        "@type": "CreativeWork",
        "url": sighting.url,
        "datePublished": schema_date(sighting.published_at, sighting.published_at_precision),
        "author": _organization(sighting.outlet),
    }
    if sighting.title:
        work["headline"] = sighting.title
    return work


def _first_appearance(nodes: Sequence[Sighting]) -> Sighting | None:
    """The earliest sighting that carried the claim rather than judged it."""
    carriers = [n for n in nodes if not rules.is_fact_check(n) and not rules.is_official_verdict(n)]
    candidates = carriers or list(nodes)
    return candidates[0] if candidates else None


def denial_word(denial: Sighting) -> str:
    """What the official body called the claim, in its own word, or a neutral "Officially
    denied" when the record quotes none."""
    for text in (denial.title, denial.attribution, denial.excerpt):
        if text and (found := DENIAL_WORDS.search(text)):
            return found.group(0)
    return OFFICIALLY_DENIED


def _rating(review: Sighting) -> dict[str, Any]:
    if rules.is_official_denial(review):
        return {
            "@type": "Rating",
            "alternateName": denial_word(review),
            "ratingExplanation": f"Official denial by {review.outlet.name}",
        }
    name, value = RATINGS[review.stance]
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": name}
    if value is not None:
        rating |= {"ratingValue": value, "bestRating": 5, "worstRating": 1}
    return rating


def _review(
    claim: Claim,
    review: Sighting,
    first: Sighting | None,
    answered: Sequence[Sighting],
) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": "Claim"}
    if first is not None:
        item |= {
            "author": _organization(first.outlet),
            "datePublished": schema_date(first.published_at, first.published_at_precision),
            "firstAppearance": _creative_work(first),
        }
    if answered:
        item["appearance"] = [_creative_work(s) for s in answered]
    shown: dict[str, Any] = {
        "@context": SCHEMA_ORG,
        "@type": "ClaimReview",
        "url": review.url,
        "claimReviewed": claim.statement,
        "datePublished": schema_date(review.published_at, review.published_at_precision),
        "author": _organization(review.outlet),
        "reviewRating": _rating(review),
        "itemReviewed": item,
    }
    if review.title:
        shown["headline"] = review.title
    if rules.is_official_denial(review) and review.excerpt:
        # The statement's own words, as recorded, are the body of an official review.
        shown["reviewBody"] = review.excerpt
    if language := review.language or review.outlet.language:
        shown["inLanguage"] = language
    return shown


def _judged_where(view: LedgerView) -> ColumnElement[bool]:
    """A superset, in SQL, of what `rules` calls a fact check or an official denial."""
    return or_(
        and_(view[Outlet].kind == OutletKind.official, view[Sighting].stance == Stance.denies),
        view[Outlet].kind == OutletKind.fact_checker,
        view[Sighting].stance == Stance.debunks,
    )


async def reviews(
    *, session: AsyncSession, claim: Claim, view: LedgerView = CURRENT
) -> list[dict[str, Any]]:
    """One ClaimReview per fact check or official denial of the claim, oldest first."""
    sightings, outlets, citations = view[Sighting], view[Outlet], view[Citation]
    nodes = rules.in_time_order(
        (await session.scalars(with_outlet(view).where(view[Sighting].claim_id == claim.id)))
        .unique()
        .all()
    )
    judged = [n for n in nodes if rules.is_fact_check(n) or rules.is_official_denial(n)]
    answered: dict[str, list[str]] = {n.id: [] for n in judged}
    # What the reviews answer, joined rather than listed: a claim may have more reviews than a
    # statement may carry parameters.
    statement = (
        select(citations.citing_id, citations.cited_id)
        .join(sightings, sightings.id == citations.citing_id)
        .join(outlets, outlets.id == sightings.outlet_id)
        .where(sightings.claim_id == claim.id, _judged_where(view))
    )
    for citing_id, cited_id in await session.execute(statement):
        if citing_id in answered:
            answered[citing_id].append(cited_id)
    by_id = {n.id: n for n in nodes}
    first = _first_appearance(nodes)
    return [
        _review(
            claim,
            review,
            first,
            rules.in_time_order(by_id[i] for i in answered[review.id] if i in by_id),
        )
        for review in judged
    ]
