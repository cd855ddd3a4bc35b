"""The forms' fields checked one by one, so that a refused form names every wrong field at
once, each in the words a person uses rather than a library's.

The checks use the API's own field types, so a value the form accepts is one the API accepts.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.claims.schemas import Tag
from app.enums import OutletKind, Precision, Stance
from app.validators import Country, Language, Slug, WebUrl

FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_TAGS = 50

# What to say when a field's value is refused, whatever the validator's own words were.
MESSAGES = {
    "claim": "Pick a tracked claim, or type the claim to record a new one.",
    "outlet": "Give the outlet's slug: lower-case letters, digits and hyphens, such as "
    "“asia-times”.",
    "new_outlet_name": "Give the new outlet's name.",
    "new_outlet_kind": "Choose what kind of outlet it is.",
    "new_outlet_country": "Use the two-letter country code, such as UA for Ukraine or RU for "
    "Russia.",
    "url": "Give the full web address where it was seen, starting with https:// (or http://).",
    "archive_url": "Give the archived copy's full web address, starting with https://.",
    "published_at": "Give the date it was published, such as 2022-08-01 14:30 (UTC).",
    "published_at_precision": "Choose how precisely the date is known.",
    "stance": "Choose the stance: what the outlet does with the claim.",
    "language": "Use a language code such as en, ru or uk (or uk-UA).",
    "content_sha256": "A SHA-256 is 64 characters, each 0-9 or a-f.",
    "tags": f"Tags are separated by commas, each at most 100 characters, {MAX_TAGS} at most.",
    "cites_outlets": "Choose outlets from the list.",
    "statement": "Give the claim's statement.",
    "summary": "The summary is at most 20,000 characters.",
    "title": "The title is at most 20,000 characters.",
    "attribution": "The attribution is at most 20,000 characters.",
    "excerpt": "The excerpt is at most 20,000 characters.",
    "reason": "Say why, in at most 500 characters: the reason is kept in the history.",
}

_TYPES: dict[str, TypeAdapter[Any]] = {
    "outlet": TypeAdapter(Slug),
    "new_outlet_kind": TypeAdapter(OutletKind),
    "new_outlet_country": TypeAdapter(Country),
    "url": TypeAdapter(WebUrl),
    "archive_url": TypeAdapter(WebUrl),
    "published_at_precision": TypeAdapter(Precision),
    "stance": TypeAdapter(Stance),
    "language": TypeAdapter(Language),
    "tags": TypeAdapter(list[Tag]),
    "cites_outlets": TypeAdapter(list[Slug]),
}
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


def valid(name: str, value: Any) -> bool:
    """Whether the API's type for this field takes the value."""
    try:
        _TYPES[name].validate_python(value)
    except ValidationError:
        return False
    return True


def split_list(text: str) -> list[str]:
    """Items as a person types them: separated by commas or new lines."""
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


class WhenError(ValueError):
    """A date the form cannot take, with what to say about it."""


def parse_when(text: str, precision: str, *, now: datetime | None = None) -> datetime:
    """The form's date as UTC: a date alone when the precision is coarser than exact, a month
    alone when it is a month; refused in a person's words otherwise."""
    text = text.strip()
    if not text:
        raise WhenError("Give the date it was published.")
    coarse = precision in (Precision.day, Precision.month, Precision.approximate)
    if _MONTH.match(text):
        if precision != Precision.month:
            raise WhenError("Give the day too (2022-08-01), or set Date precision to “month”.")
        text += "-01"
    if _DATE.match(text) and not coarse:
        raise WhenError(
            "Give the time too (2022-08-01 14:30, UTC), or set Date precision to “day”."
        )
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        raise WhenError(MESSAGES["published_at"]) from None
    moment = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if moment > (now or datetime.now(UTC)) + FUTURE_TOLERANCE:
        raise WhenError("This date is in the future: give the date it was published (UTC).")
    return moment


def when_text(moment: datetime, precision: str) -> str:
    """A date as the form shows it, no finer than it is known."""
    if precision == Precision.month:
        return moment.strftime("%Y-%m")
    if precision in (Precision.day, Precision.approximate):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M" if moment.second == 0 else "%Y-%m-%d %H:%M:%S")


def check_optional(values: dict[str, str], names: list[str]) -> dict[str, str]:
    """Messages for the optional fields given with a value the API would refuse."""
    errors = {}
    for name in names:
        value = values.get(name, "")
        if not value:
            continue
        if name == "content_sha256":
            if not _SHA256.match(value):
                errors[name] = MESSAGES[name]
        elif name == "tags":
            tags = split_list(value)
            if len(tags) > MAX_TAGS or not valid(name, tags):
                errors[name] = MESSAGES[name]
        elif name in _TYPES and not valid(name, value):
            errors[name] = MESSAGES[name]
    return errors
