"""Reading schema.org ClaimReview, the format fact-checkers publish their verdicts in.

ClaimReview objects (one, a list, an `@graph` or a feed) become sightings that the batch
machinery records. Writing a claim's own reviews is an export of its chain
(`app.chains.claimreview`).
"""

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit

from app.enums import OutletKind, Precision, Stance

# Plain JSON-LD as publishers write it, with schema.org as the vocabulary.

FALSE_WORDS = re.compile(
    r"false|fake|pants on fire|incorrect|wrong|fabricat|hoax|misleading|not true|denied|"
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


def _is_government(author: Any) -> bool:
    author = _first(author)
    return isinstance(author, Mapping) and "GovernmentOrganization" in _type_names(author)


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
    # A government body's review is its official word on the claim, not a fact check: read back
    # as such, a denial exported by Tracer (or published by a ministry) counts as one again.
    official = _is_government(review.get("author"))
    author = _outlet(
        review.get("author"), OutletKind.official if official else OutletKind.fact_checker
    )
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
    if official and stance is Stance.debunks:
        stance = Stance.denies
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
