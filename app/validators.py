"""Field types with the checks the contract names: slugs, ISO countries, BCP 47 tags, web URLs."""

import re
from typing import Annotated, Any

import langcodes
import pycountry
from pydantic import (
    AfterValidator,
    BeforeValidator,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from app.urls import canonical_domain_entry, check_web_url

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
# BCP 47's shape: subtags of letters and digits joined by hyphens, the first of letters.
_BCP47_SHAPE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")


def _as_sent(value: Any) -> Any:
    """Refuses an identifier with whitespace around it.

    Request schemas strip text (app.schemas.InputSchema): a slug sent as "a\n" would be stored
    as "a", and its sender would never learn that it is not the one they sent.
    """
    if isinstance(value, str) and value != value.strip():
        raise ValueError("must not begin or end with whitespace")
    return value


Slug = Annotated[str, BeforeValidator(_as_sent), StringConstraints(pattern=SLUG_PATTERN)]


def _country(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as 'RU' or 'UA'")
    return code


def _language(value: str) -> str:
    # langcodes also reads "en_US" and would store it as "en-US"; the tag is refused instead.
    if not _BCP47_SHAPE.fullmatch(value) or not langcodes.tag_is_valid(value):
        raise ValueError(
            "must be a BCP 47 language tag written with hyphens, such as 'en', 'ru' or 'uk-UA'"
        )
    return langcodes.standardize_tag(value)


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _web_url(value: str) -> str:
    try:
        return str(_HTTP_URL.validate_python(value))
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"]) from None


Country = Annotated[
    str,
    BeforeValidator(_as_sent),
    AfterValidator(_country),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{2}$"}),
]
Language = Annotated[
    str, BeforeValidator(_as_sent), StringConstraints(max_length=35), AfterValidator(_language)
]
# http or https only; stored as text in its normalised form so duplicates compare equal.
WebUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_web_url),
    # Not "format": "uri": host names in any script are accepted and stored in their ASCII form.
    WithJsonSchema({"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "maxLength": 2048}),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=300)]
# Where a claim was seen: refused with the reason a person can act on (credentials, control
# characters, other schemes, overlong), as app.urls checks it.
PageUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(check_web_url),
    WithJsonSchema({"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://", "maxLength": 2048}),
]


def _distinct(entries: list[str]) -> list[str]:
    # Two spellings of one address are one entry.
    return list(dict.fromkeys(entries))


DomainEntry = Annotated[
    str, StringConstraints(min_length=1, max_length=2048), AfterValidator(canonical_domain_entry)
]
# An outlet's addresses: hosts, or hosts with a path prefix, stored canonical.
DomainEntries = Annotated[list[DomainEntry], AfterValidator(_distinct)]
