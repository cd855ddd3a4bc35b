"""The pages' forms: from posted fields to service requests, and refusals to messages beside
the fields they name. "Log a sighting" first, then a sighting's correct and withdraw forms."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.errors import CitedBy, Conflict, PreconditionFailed, TracerError
from app.recording.schemas import SightingCreate, SightingPatch
from app.sightings.schemas import Sighting

TEXT_FIELDS = [
    "claim_text",
    "claim_id",
    "new_claim",
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
    "excerpt",
    "attribution",
    "content_sha256",
    "form_token",
]
MAX_CITES = 200
# Where each field of the recording request is shown on the form.
FORM_FIELD = {
    "claim_id": "claim",
    "claim": "claim",
    "outlet": "outlet",
    "url": "url",
    "published_at": "published_at",
    "published_at_precision": "published_at_precision",
    "stance": "stance",
    "cites": "cites",
    "cites_outlets": "cites",
    "archive_url": "archive_url",
    "title": "title",
    "excerpt": "excerpt",
    "attribution": "attribution",
    "content_sha256": "content_sha256",
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

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def request_hash(self) -> str:
        """What the form said, for telling a resubmission from a changed one."""
        said = {k: v for k, v in self.values.items() if k != "form_token"}
        canonical = json.dumps([said, sorted(self.cites)], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def read(form: FormData) -> SightingForm:
    values = {}
    for name in TEXT_FIELDS:
        value = form.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    cites = [c for c in form.getlist("cites") if isinstance(c, str) and c][:MAX_CITES]
    return SightingForm(values=values, cites=cites)


def parse_published_at(text: str) -> datetime | str:
    """The form's date, read as UTC: the field says so, and datetime-local carries no offset."""
    if not text:
        return text
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


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


def request(form: SightingForm, *, claim_id: str | None) -> SightingCreate:
    """The recording request the form describes; a claim is created inline without an id."""
    body: dict[str, Any] = {
        # No outlet named: the one whose domains match the URL, if any.
        "outlet": _outlet(form) or None,
        "url": form.get("url"),
        "published_at": parse_published_at(form.get("published_at")),
        "published_at_precision": form.get("published_at_precision") or "exact",
        "stance": form.get("stance"),
        "cites": form.cites,
    }
    if claim_id:
        body["claim_id"] = claim_id
    else:
        body["claim"] = {"statement": form.get("claim_text")}
    for optional in ("archive_url", "title", "excerpt", "attribution", "content_sha256"):
        if form.get(optional):
            body[optional] = form.get(optional)
    try:
        return SightingCreate.model_validate(body)
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from exc


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    names = [part for part in loc if isinstance(part, str) and part != "body"]
    return FORM_FIELD.get(names[0], "form") if names else "form"


def validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = _field_of(error["loc"])
        message = error["msg"]
        if error["type"] == "missing" or error.get("input") == "":
            message = "This field is required."
        errors.setdefault(name, message)
    return errors


def problem_errors(exc: TracerError) -> dict[str, str]:
    """A service's refusal, placed next to the field it names."""
    if isinstance(exc, Conflict):
        return {"url": f"{exc.detail} (recorded already as {exc.existing_id})."}
    found = exc.extra.get("errors") or [{"loc": [], "msg": exc.detail}]
    return {_field_of(found[0]["loc"]): exc.detail}


# The fields the correct form shows, as the sighting document names them.
CORRECTED_REQUIRED = ["outlet", "url", "published_at", "published_at_precision", "stance"]
CORRECTED_OPTIONAL = ["archive_url", "title", "attribution", "excerpt"]
# Where the sighting sits in the chains: its claim (another id moves it) and what it cites.
CORRECTED_PLACE = ["claim_id", "cites"]
MAX_REASON = 500


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def current_values(sighting: Sighting) -> dict[str, str]:
    """The correct form filled in with the sighting as it stands."""
    values = {
        "outlet": sighting.outlet.slug,
        "url": sighting.url,
        "published_at": sighting.published_at.strftime("%Y-%m-%dT%H:%M:%S"),
        "published_at_precision": sighting.published_at_precision.value,
        "stance": sighting.stance.value,
        "revision": str(sighting.revision),
        "claim_id": sighting.claim_id,
        "cites": " ".join(sighting.cites),
    }
    for name in CORRECTED_OPTIONAL:
        values[name] = getattr(sighting, name) or ""
    return values


def posted_correction(form: FormData) -> dict[str, str]:
    return {
        name: text(form, name)
        for name in [
            *CORRECTED_REQUIRED,
            *CORRECTED_OPTIONAL,
            *CORRECTED_PLACE,
            "reason",
            "revision",
        ]
    }


def _ids(value: str) -> list[str]:
    """Sighting ids as a person types them: separated by spaces, commas or new lines."""
    return [part for part in value.replace(",", " ").split() if part]


def expected_revision(form: FormData) -> int | None:
    value = text(form, "revision")
    return int(value) if value.isdigit() else None


def correction(form: FormData, sighting: Sighting) -> SightingPatch:
    """A merge patch of what the form changed, with its reason; an unchanged form is refused."""
    now = current_values(sighting)
    body: dict[str, Any] = {}
    for name in CORRECTED_REQUIRED:
        if text(form, name) != now[name]:
            body[name] = text(form, name)
    if "published_at" in body:
        body["published_at"] = parse_published_at(body["published_at"])
        if body["published_at"] == sighting.published_at:
            del body["published_at"]
    for name in CORRECTED_OPTIONAL:
        if text(form, name) != now[name]:
            # An emptied optional field is cleared, as `null` does in a merge patch.
            body[name] = text(form, name) or None
    if "claim_id" in form and text(form, "claim_id") != now["claim_id"]:
        body["claim_id"] = text(form, "claim_id")
    cites = _ids(text(form, "cites"))
    if "cites" in form and sorted(cites) != sorted(_ids(now["cites"])):
        body["cites"] = cites
    errors = {}
    if not body:
        errors["form"] = "Nothing was changed: edit a field, then give the reason."
    if not text(form, "reason"):
        errors["reason"] = "Say why the sighting is corrected: the reason is kept in its history."
    if errors:
        raise FormErrors(errors)
    try:
        return SightingPatch.model_validate({**body, "reason": text(form, "reason")})
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from exc


def withdrawal_reason(form: FormData) -> str:
    reason = text(form, "reason")
    if not reason:
        raise FormErrors({"reason": "Say why the sighting is withdrawn: it stays in its history."})
    if len(reason) > MAX_REASON:
        raise FormErrors({"reason": f"At most {MAX_REASON} characters."})
    return reason


def refusal(exc: TracerError) -> dict[str, str]:
    """A service's refusal of a correction or withdrawal, next to what it is about."""
    if isinstance(exc, PreconditionFailed):
        return {"form": "Someone changed this sighting since you opened it: reload to see it."}
    if isinstance(exc, CitedBy):
        count = len(exc.extra.get("cited_by", []))
        return {
            "relink": f"{count} sighting{'s' if count != 1 else ''} cite this one: tick the box "
            "to make them cite what it cited, or withdraw them first."
        }
    return problem_errors(exc)
