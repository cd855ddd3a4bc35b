"""The "Log a sighting" form: from posted fields to a recording request, and errors to fields."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.errors import Conflict, TracerError
from app.recording.schemas import SightingCreate

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
        "outlet": _outlet(form),
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
