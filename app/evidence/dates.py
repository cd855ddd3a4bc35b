"""When a page says it was published, read in the contract's order and checked for sense.

JSON-LD `datePublished` (an article's before any other object's), then the
`article:published_time` meta tag, then the first `<time datetime>`; the caller falls back on a
date in the URL. A date alone is precision `day`, a year and month `month`, with a time `exact`;
a time without offset is UTC. Pages lie, so dates before 1990 or after tomorrow are skipped.
"""

import json
import re
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from app.enums import Precision

MAX_JSON_LD_CHARS = 1_000_000
EARLIEST_YEAR = 1990
_ARTICLE_TYPES = ("Article", "Posting", "Report")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH_ONLY = re.compile(r"\d{4}-\d{2}")
_HAS_TIME = re.compile(r"\d[T ]\d{1,2}(?::|\d{2})")
_URL_DATE = re.compile(
    r"(?<!\d)((?:19|20)\d{2})([/_-])(0?[1-9]|1[0-2])\2(0?[1-9]|[12]\d|3[01])(?!\d)"
)


def published_in(tree: Any, *, now: datetime) -> tuple[datetime | None, Precision | None]:
    """The contract's order: JSON-LD datePublished, article:published_time, the first <time>."""
    meta = tree.xpath(
        "//meta[@property='article:published_time' or @name='article:published_time']/@content"
    )
    times = tree.xpath("//time/@datetime")
    for value in (*_json_ld_dates(tree), *meta, *times):
        published, precision = parse_date(str(value), now=now)
        if published is not None:
            return published, precision
    return None, None


def _json_ld_dates(tree: Any) -> list[str]:
    articles: list[str] = []
    others: list[str] = []
    for script in tree.xpath("//script[contains(@type, 'ld+json')]"):
        source = script.text or ""
        if len(source) > MAX_JSON_LD_CHARS:
            continue
        try:
            data = json.loads(source, strict=False)
        except (ValueError, RecursionError):
            continue
        for item in _json_objects(data):
            value = item.get("datePublished")
            if isinstance(value, str):
                kinds = item.get("@type")
                kinds = " ".join(kinds) if isinstance(kinds, list) else str(kinds)
                (articles if any(k in kinds for k in _ARTICLE_TYPES) else others).append(value)
    return articles + others


def _json_objects(data: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON-LD document (lists, @graph and nesting), breadth first, bounded."""
    queue, seen = deque([data]), 0
    while queue and seen < 10_000:
        item = queue.popleft()
        seen += 1
        if isinstance(item, dict):
            yield item
            queue.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            queue.extend(v for v in item if isinstance(v, dict | list))


def parse_date(value: str, *, now: datetime) -> tuple[datetime | None, Precision | None]:
    """An ISO 8601 or RFC 2822 date in UTC with its precision, or (None, None)."""
    text = value.strip()[:64]
    precision = Precision.exact
    if _DATE_ONLY.fullmatch(text):
        precision = Precision.day
    elif _MONTH_ONLY.fullmatch(text):
        text, precision = f"{text}-01", Precision.month
    elif not _HAS_TIME.search(text):
        precision = Precision.day
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (ValueError, TypeError, IndexError):
            return None, None
    plausible = _plausible(moment, now)
    return (plausible, precision) if plausible else (None, None)


def _plausible(moment: datetime, now: datetime) -> datetime | None:
    """The moment in UTC (naive taken as UTC), or None when no page could be from then."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment.year < EARLIEST_YEAR or moment > now + timedelta(days=1):
        return None
    return moment


def date_in_url(url: str, *, now: datetime) -> datetime | None:
    """A date written in the URL's path (`/2022/08/04/`, `2022-08-04`), as midnight UTC."""
    found = _URL_DATE.search(urlsplit(url).path)
    if found is None:
        return None
    try:
        moment = datetime(int(found[1]), int(found[3]), int(found[4]), tzinfo=UTC)
    except ValueError:
        return None
    return _plausible(moment, now)
