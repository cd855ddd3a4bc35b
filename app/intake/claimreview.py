"""schema.org ClaimReview: the format search engines and fact-check aggregators read and write.

Out: one ClaimReview per fact check or official denial of a claim. In: ClaimReview objects
(one, a list, or an `@graph`) turned into sightings that the batch machinery records.
"""

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

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

# alternateName, ratingValue on a 1 (false) to 5 (true) scale, for each stance a review can take.
RATINGS: dict[Stance, tuple[str, int | None]] = {
    Stance.denies: ("False", 1),
    Stance.debunks: ("False", 1),
    Stance.retracts: ("Retracted", None),
    Stance.questions: ("Unproven", 3),
    Stance.confirms: ("True", 5),
    Stance.asserts: ("True", 5),
    Stance.reports: ("Unrated", None),
}


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


def _rating(review: Sighting) -> dict[str, Any]:
    name, value = RATINGS[review.stance]
    rating: dict[str, Any] = {"@type": "Rating", "alternateName": name}
    if value is not None:
        rating |= {"ratingValue": value, "bestRating": 5, "worstRating": 1}
    if rules.is_official_denial(review):
        rating["ratingExplanation"] = f"Officially denied by {review.outlet.name}."
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


# Reading ClaimReview: plain JSON-LD as publishers write it, with schema.org as the vocabulary.

FALSE_WORDS = re.compile(
    r"false|fake|pants on fire|incorrect|wrong|fabricat|hoax|misleading|not true|"
    r"неправда|фейк|ложь|хибн|брехня|неправдив|manipul|маніпул|манипул",
    re.IGNORECASE,
)
TRUE_WORDS = re.compile(r"^(true|correct|accurate|правда|верно|вірно)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One sighting read from a file, with where it came from for the report."""

    row: str
    item: dict[str, Any] | None
    problem: str | None = None


def _type_names(node: Mapping[str, Any]) -> set[str]:
    types = node.get("@type", [])
    names = types if isinstance(types, list) else [types]
    return {str(t).rsplit("/", 1)[-1].rsplit(":", 1)[-1] for t in names}


def claimreview_nodes(document: Any) -> list[Mapping[str, Any]]:
    """The ClaimReview objects of a document, wherever they sit.

    One object, a list, an `@graph`, or a feed that wraps them (a schema.org `DataFeed` keeps
    them under `dataFeedElement` and `item`).
    """
    found: list[Mapping[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, Mapping):
            if "ClaimReview" in _type_names(node):
                found.append(node)
            else:
                for key, child in node.items():
                    if key != "@context":
                        walk(child)

    walk(document)
    return found


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _text(value: Any) -> str | None:
    value = _first(value)
    if isinstance(value, Mapping):
        value = value.get("@value", value.get("name"))
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def slug_for(name: str | None, url: str | None) -> str | None:
    """An outlet slug from a publisher's site, or failing that its name."""
    basis = ""
    if url:
        host = urlsplit(url).hostname or ""
        basis = host.removeprefix("www.")
    if not basis and name:
        basis = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        if not basis.strip():
            # A name in a script with no ASCII letters still needs a stable slug.
            basis = "outlet-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9]+", "-", basis.lower()).strip("-")[:63]
    return slug or None


def _outlet(author: Any, kind: OutletKind) -> dict[str, Any] | None:
    author = _first(author)
    if isinstance(author, str):
        author = {"name": author}
    if not isinstance(author, Mapping):
        return None
    name = _text(author.get("name"))
    url = _text(author.get("url"))
    slug = slug_for(name, url)
    if slug is None:
        return None
    outlet: dict[str, Any] = {"slug": slug, "name": (name or slug)[:300], "kind": kind.value}
    if url and url.startswith(("http://", "https://")):
        outlet["url"] = url
    return outlet


def _moment(value: Any) -> tuple[datetime, Precision] | None:
    """A moment and its precision, from a schema.org Date or DateTime."""
    text = _text(value)
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), Precision.day
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        # A publisher's clock time without a zone is only known to the day.
        return moment.replace(tzinfo=UTC), Precision.day
    return moment, Precision.exact


def _verdict(rating: Any) -> tuple[Stance, str | None]:
    rating = _first(rating)
    if not isinstance(rating, Mapping):
        return Stance.debunks, None
    name = _text(rating.get("alternateName")) or _text(rating.get("name"))
    if name and TRUE_WORDS.search(name):
        return Stance.confirms, name
    if name and FALSE_WORDS.search(name):
        return Stance.debunks, name
    value, best, worst = (rating.get(k) for k in ("ratingValue", "bestRating", "worstRating"))
    try:
        low, high = float(worst if worst is not None else 1), float(best if best is not None else 5)
        score = (float(str(value)) - low) / (high - low)
    except (TypeError, ValueError, ZeroDivisionError):
        return Stance.questions, name
    if score >= 0.75:
        return Stance.confirms, name
    if score <= 0.25:
        return Stance.debunks, name
    return Stance.questions, name


def _appearances(item: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("firstAppearance", "appearance"):
        values = item.get(key)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, Mapping):
                yield value
            elif isinstance(value, str):
                yield {"url": value}


def entries_from_review(number: int, review: Mapping[str, Any]) -> list[Entry]:
    """The sightings one ClaimReview describes: the review itself and the appearances it names."""
    row = f"review {number}"
    statement = _text(review.get("claimReviewed"))
    url = _text(review.get("url"))
    when = _moment(review.get("datePublished"))
    author = _outlet(review.get("author"), OutletKind.fact_checker)
    missing = [
        name
        for name, value in (
            ("claimReviewed", statement),
            ("url", url),
            ("datePublished", when),
            ("author", author),
        )
        if value is None
    ]
    if missing:
        return [Entry(row, None, f"missing or unreadable: {', '.join(missing)}; skipped")]
    assert statement and url and when and author
    claim: dict[str, Any] = {"statement": statement}
    stance, rating_name = _verdict(review.get("reviewRating"))
    entries: list[Entry] = []
    cited: list[str] = []
    item = _first(review.get("itemReviewed"))
    item = item if isinstance(item, Mapping) else {}
    claim_author = item.get("author")
    claim_date = _moment(item.get("datePublished"))
    for k, appearance in enumerate(_appearances(item), start=1):
        label = f"{row} appearance {k}"
        seen_at = _moment(appearance.get("datePublished")) or claim_date
        outlet = _outlet(appearance.get("author") or claim_author, OutletKind.other)
        link = _text(appearance.get("url"))
        if seen_at is None or outlet is None or link is None:
            lacking = [
                name
                for name, value in (("url", link), ("datePublished", seen_at), ("author", outlet))
                if value is None
            ]
            entries.append(Entry(label, None, f"missing: {', '.join(lacking)}; skipped"))
            continue
        ref = f"{row}/{k}"
        # Dated only by the claim, not by this appearance: say so rather than invent a date.
        precision = seen_at[1] if appearance.get("datePublished") else Precision.approximate
        entries.append(
            Entry(
                label,
                {
                    "ref": ref,
                    "claim": claim,
                    "outlet": outlet,
                    "url": link,
                    "published_at": seen_at[0].isoformat(),
                    "published_at_precision": precision.value,
                    "stance": Stance.asserts.value,
                    "title": _text(appearance.get("headline")),
                },
            )
        )
        if seen_at[0] <= when[0]:
            cited.append(ref)
    review_item: dict[str, Any] = {
        "ref": row,
        "claim": claim,
        "outlet": author,
        "url": url,
        "published_at": when[0].isoformat(),
        "published_at_precision": when[1].value,
        "language": _text(review.get("inLanguage")),
        "stance": stance.value,
        "cites_refs": cited,
        "title": _text(review.get("headline")) or _text(review.get("name")),
        "excerpt": f"Rating: {rating_name}" if rating_name else None,
    }
    return [Entry(row, review_item), *entries]
