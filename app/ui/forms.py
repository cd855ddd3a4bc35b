"""The pages' forms: from posted fields to service requests, and refusals to messages beside
the fields they name, in a person's words. "Log a sighting" here; the correction forms of
sightings and claims in `revising`."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.errors import CitedBy, Conflict, PreconditionFailed, TracerError
from app.recording.schemas import SightingCreate
from app.ui import fields
from app.ui.fields import MESSAGES, WhenError

TEXT_FIELDS = [
    "claim_text",
    "claim_id",
    "new_claim",
    "summary",
    "tags",
    "outlet",
    "new_outlet_name",
    "new_outlet_kind",
    "new_outlet_country",
    "url",
    "published_at",
    "published_at_precision",
    "stance",
    "archive_url",
    "title",
    "language",
    "excerpt",
    "attribution",
    "content_sha256",
    "form_token",
]
LIST_FIELDS = ["cites", "cites_outlets"]
MAX_CITES = 200
# Where each field of a request is shown on the forms: an inline outlet's and an inline claim's
# fields each beside their own input.
FORM_FIELD = {
    "claim_id": "claim",
    "claim": "claim",
    "claim.statement": "claim",
    "claim.summary": "summary",
    "claim.tags": "tags",
    "outlet.name": "new_outlet_name",
    "outlet.kind": "new_outlet_kind",
    "outlet.country": "new_outlet_country",
    "outlet.slug": "outlet",
    "into": "into",
    "variant_of": "variant_of",
}
SHOWN_FIELDS = {
    "outlet",
    "url",
    "published_at",
    "published_at_precision",
    "stance",
    "cites",
    "cites_outlets",
    "archive_url",
    "title",
    "language",
    "excerpt",
    "attribution",
    "content_sha256",
    "statement",
    "summary",
    "tags",
    "reason",
}


class FormErrors(Exception):
    """Messages keyed by the form field they belong next to."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass
class SightingForm:
    values: dict[str, str] = field(default_factory=dict)
    cites: list[str] = field(default_factory=list)
    cites_outlets: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def request_hash(self) -> str:
        """What the form said, for telling a resubmission from a changed one."""
        said = {k: v for k, v in self.values.items() if k != "form_token"}
        lists = [sorted(self.cites), sorted(self.cites_outlets)]
        canonical = json.dumps([said, lists], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def listed(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()][:MAX_CITES]


def read(form: FormData) -> SightingForm:
    values = {name: text(form, name) for name in TEXT_FIELDS}
    return SightingForm(
        values=values, cites=listed(form, "cites"), cites_outlets=listed(form, "cites_outlets")
    )


def _new_outlet(form: SightingForm) -> dict[str, str]:
    errors = {}
    if not form.get("new_outlet_name"):
        errors["new_outlet_name"] = MESSAGES["new_outlet_name"]
    if not fields.valid("new_outlet_kind", form.get("new_outlet_kind")):
        errors["new_outlet_kind"] = MESSAGES["new_outlet_kind"]
    return errors


def check(form: SightingForm) -> dict[str, str]:
    """Every field of "Log a sighting" checked on its own: all wrong fields named at once."""
    errors: dict[str, str] = {}
    if not form.get("claim_id") and not form.get("claim_text"):
        errors["claim"] = MESSAGES["claim"]
    outlet = form.get("outlet")
    if not outlet:
        errors["outlet"] = "Give the outlet: pick a known one, or type a new slug below."
    elif not fields.valid("outlet", outlet):
        errors["outlet"] = MESSAGES["outlet"]
    if form.get("new_outlet_name") or form.get("new_outlet_kind"):
        errors |= _new_outlet(form)
    url = form.get("url")
    if not url:
        errors["url"] = "Give the web address where it was seen."
    elif not fields.valid("url", url):
        errors["url"] = MESSAGES["url"]
    precision = form.get("published_at_precision") or "exact"
    if not fields.valid("published_at_precision", precision):
        errors["published_at_precision"] = MESSAGES["published_at_precision"]
    try:
        fields.parse_when(form.get("published_at"), precision)
    except WhenError as exc:
        errors["published_at"] = str(exc)
    if not fields.valid("stance", form.get("stance")):
        errors["stance"] = MESSAGES["stance"]
    if not fields.valid("cites_outlets", form.cites_outlets):
        errors["cites_outlets"] = MESSAGES["cites_outlets"]
    optional = ["new_outlet_country", "archive_url", "language", "content_sha256", "tags"]
    return errors | fields.check_optional(form.values, optional)


def _outlet(form: SightingForm) -> str | dict[str, Any]:
    slug = form.get("outlet")
    if not form.get("new_outlet_name"):
        return slug
    outlet: dict[str, Any] = {
        "slug": slug,
        "name": form.get("new_outlet_name"),
        "kind": form.get("new_outlet_kind"),
    }
    if form.get("new_outlet_country"):
        outlet["country"] = form.get("new_outlet_country")
    return outlet


def _claim(form: SightingForm) -> dict[str, Any]:
    claim: dict[str, Any] = {"statement": form.get("claim_text")}
    if form.get("summary"):
        claim["summary"] = form.get("summary")
    if form.get("tags"):
        claim["tags"] = fields.split_list(form.get("tags"))
    return claim


def request(form: SightingForm, *, claim_id: str | None) -> SightingCreate:
    """The recording request the form describes; a claim is created inline without an id."""
    precision = form.get("published_at_precision") or "exact"
    try:
        published_at = fields.parse_when(form.get("published_at"), precision)
    except WhenError as exc:
        raise FormErrors({"published_at": str(exc)}) from None
    body: dict[str, Any] = {
        # No outlet named: the one whose domains match the URL, if any.
        "outlet": _outlet(form) or None,
        "url": form.get("url"),
        "published_at": published_at,
        "published_at_precision": precision,
        "stance": form.get("stance"),
        "cites": form.cites,
        "cites_outlets": form.cites_outlets,
    }
    if claim_id:
        body["claim_id"] = claim_id
    else:
        body["claim"] = _claim(form)
    optional = ("archive_url", "title", "language", "excerpt", "attribution", "content_sha256")
    for name in optional:
        if form.get(name):
            body[name] = form.get(name)
    try:
        return SightingCreate.model_validate(body)
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from exc


def field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """The form field a request's error location points at."""
    names = [part for part in loc if isinstance(part, str) and part not in ("body", "query")]
    if not names:
        return "form"
    dotted = ".".join(names[:2])
    if dotted in FORM_FIELD:
        return FORM_FIELD[dotted]
    if names[0] in FORM_FIELD:
        return FORM_FIELD[names[0]]
    return names[0] if names[0] in SHOWN_FIELDS else "form"


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """A validator's refusals, each said in the form's own words for its field."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = field_of(error["loc"])
        errors.setdefault(name, MESSAGES.get(name, "This value cannot be taken; check it."))
    return errors


def problem_errors(
    exc: TracerError, names: Mapping[str, str] | None = None, cites: Sequence[str] = ()
) -> dict[str, str]:
    """A service's refusal, said beside the field it names, sightings named by what they are:
    `names` of sightings by id, `cites` the ids the request cited, in order."""
    names = names or {}
    if isinstance(exc, Conflict):
        return {"url": "This sighting is recorded already: same claim, outlet and address."}
    found = exc.extra.get("errors") or [{"loc": [], "msg": exc.detail}]
    loc = found[0]["loc"]
    name = field_of(loc)
    index = next((p for p in loc if isinstance(p, int)), None)
    detail = exc.detail
    if name == "cites" and "published after" in detail:
        cited = cites[index] if index is not None and index < len(cites) else ""
        which = names.get(cited, "A chosen sighting")
        return {
            "cites": f"{which} was published after this one: a sighting can only cite "
            "what came before it."
        }
    if name == "cites" and "no sighting" in detail:
        return {"cites": "One of the chosen sightings is no longer recorded: reload the form."}
    if name == "cites_outlets" and "record it first" in detail:
        return {
            "cites_outlets": "An outlet you chose has no sighting of this claim published "
            "before this one: record that one first."
        }
    return {name: _said(name, detail)}


# A service's own words for these refusals quote ids; a person is told what they mean instead.
PLAIN_WORDS = [
    ("published_at", "future", "This date is in the future: give the date it was published."),
    (
        "published_at",
        "published after the new date",
        "It cites a sighting published after this date: a sighting can only cite what came "
        "before it.",
    ),
    (
        "published_at",
        "published before the new date",
        "Sightings citing this one were published before this date: time never runs backwards "
        "along a chain.",
    ),
    ("claim", "no claim", "That claim is no longer tracked: search for it again."),
    ("outlet", "no outlet", "There is no outlet with this slug: pick one from the list."),
]


def _said(name: str, detail: str) -> str:
    for where, words, plain in PLAIN_WORDS:
        if name == where and words in detail:
            return plain
    return detail[:1].upper() + detail[1:] + ("" if detail.endswith(".") else ".")


def refusal(
    exc: TracerError, names: Mapping[str, str] | None = None, cites: Sequence[str] = ()
) -> dict[str, str]:
    """A service's refusal of a correction or withdrawal, next to what it is about."""
    if isinstance(exc, PreconditionFailed):
        return {"form": "Someone changed this record since you opened it: reload to see it."}
    if isinstance(exc, CitedBy):
        count = len(exc.extra.get("cited_by", []))
        return {
            "relink": f"{count} sighting{'s' if count != 1 else ''} cite this one: tick the box "
            "to make them cite what it cited, or withdraw them first."
        }
    return problem_errors(exc, names, cites)
