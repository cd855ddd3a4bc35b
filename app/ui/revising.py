"""The correction forms: a sighting corrected or withdrawn, a claim corrected or merged into
another, each with its reason, each refusal said beside its field."""

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.claims.models import Claim
from app.claims.schemas import ClaimMergeRequest, ClaimUpdate
from app.recording.schemas import SightingPatch
from app.sightings.schemas import Sighting
from app.ui import fields
from app.ui.fields import MESSAGES, WhenError
from app.ui.forms import FormErrors, listed, text, validation_errors

CORRECTED_REQUIRED = ["outlet", "url", "published_at", "published_at_precision", "stance"]
CORRECTED_OPTIONAL = ["archive_url", "title", "language", "attribution", "excerpt"]
CHECKED = ["outlet", "url", "published_at_precision", "stance", "archive_url", "language"]
MAX_REASON = 500


def expected_revision(form: FormData) -> int | None:
    value = text(form, "revision")
    return int(value) if value.isdigit() else None


def _reason(form: FormData, what: str) -> dict[str, str]:
    reason = text(form, "reason")
    if not reason:
        return {"reason": f"Say why {what}: the reason is kept in its history."}
    if len(reason) > MAX_REASON:
        return {"reason": f"The reason is at most {MAX_REASON} characters."}
    return {}


def current_values(sighting: Sighting) -> dict[str, Any]:
    """The correct form filled in with the sighting as it stands."""
    precision = sighting.published_at_precision.value
    values: dict[str, Any] = {
        "outlet": sighting.outlet.slug,
        "url": sighting.url,
        "published_at": fields.when_text(sighting.published_at, precision),
        "published_at_precision": precision,
        "stance": sighting.stance.value,
        "revision": str(sighting.revision),
        "claim_id": sighting.claim_id,
        "cites": list(sighting.cites),
    }
    for name in CORRECTED_OPTIONAL:
        values[name] = getattr(sighting, name) or ""
    return values


def posted_correction(form: FormData) -> dict[str, Any]:
    names = [*CORRECTED_REQUIRED, *CORRECTED_OPTIONAL, "claim_id", "reason", "revision"]
    return {name: text(form, name) for name in names} | {"cites": listed(form, "cites")}


def _checked(form: FormData) -> dict[str, str]:
    errors = {}
    for name in CHECKED:
        value = text(form, name)
        required = name in CORRECTED_REQUIRED
        if (value or required) and not fields.valid(name, value):
            errors[name] = MESSAGES[name]
    return errors


def _published_at(form: FormData, sighting: Sighting, body: dict[str, Any]) -> dict[str, str]:
    """The date read at the precision the form gives, kept in the patch only when it moved."""
    if "published_at" not in body and "published_at_precision" not in body:
        return {}
    precision = text(form, "published_at_precision")
    try:
        moment = fields.parse_when(text(form, "published_at"), precision)
    except WhenError as exc:
        body.pop("published_at", None)
        return {"published_at": str(exc)}
    if moment != sighting.published_at:
        body["published_at"] = moment
    else:
        body.pop("published_at", None)
    return {}


def correction(form: FormData, sighting: Sighting) -> SightingPatch:
    """A merge patch of what the form changed, with its reason; an unchanged form is refused."""
    now = current_values(sighting)
    body: dict[str, Any] = {
        name: text(form, name) for name in CORRECTED_REQUIRED if text(form, name) != now[name]
    }
    errors = _checked(form) | _published_at(form, sighting, body)
    for name in CORRECTED_OPTIONAL:
        if text(form, name) != now[name]:
            # An emptied optional field is cleared, as `null` does in a merge patch.
            body[name] = text(form, name) or None
    if text(form, "claim_id") and text(form, "claim_id") != now["claim_id"]:
        body["claim_id"] = text(form, "claim_id")
    # Unticking every box sends no `cites` at all, so the form says that it showed them.
    cites = listed(form, "cites")
    if "cites_shown" in form and sorted(cites) != sorted(now["cites"]):
        body["cites"] = cites
    if not body and not errors:
        errors["form"] = "Nothing was changed: edit a field, then give the reason."
    errors |= _reason(form, "the sighting is corrected")
    if errors:
        raise FormErrors(errors)
    try:
        return SightingPatch.model_validate({**body, "reason": text(form, "reason")})
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from exc


def withdrawal_reason(form: FormData) -> str:
    if errors := _reason(form, "the sighting is withdrawn"):
        raise FormErrors(errors)
    return text(form, "reason")


def claim_values(claim: Claim) -> dict[str, str]:
    """The claim's edit form filled in with the claim as it stands."""
    return {
        "statement": claim.statement,
        "summary": claim.summary or "",
        "language": claim.language or "",
        "tags": ", ".join(claim.tags),
        "variant_of": claim.variant_of or "",
        "revision": str(claim.revision),
    }


def posted_claim(form: FormData) -> dict[str, str]:
    names = ["statement", "summary", "language", "tags", "variant_of", "reason", "revision"]
    return {name: text(form, name) for name in names}


def claim_correction(form: FormData, claim: Claim) -> ClaimUpdate:
    """What the claim's edit form changed, with its reason; an unchanged form is refused."""
    now = claim_values(claim)
    posted = posted_claim(form)
    errors = fields.check_optional(posted, ["language", "tags"])
    body: dict[str, Any] = {}
    if posted["statement"] != now["statement"]:
        body["statement"] = posted["statement"]
        if not posted["statement"]:
            errors["statement"] = MESSAGES["statement"]
    for name in ("summary", "language", "variant_of"):
        if posted[name] != now[name]:
            body[name] = posted[name] or None
    if fields.split_list(posted["tags"]) != claim.tags:
        body["tags"] = fields.split_list(posted["tags"])
    if not body and not errors:
        errors["form"] = "Nothing was changed: edit a field, then give the reason."
    errors |= _reason(form, "the claim is corrected")
    if errors:
        raise FormErrors(errors)
    try:
        return ClaimUpdate.model_validate({**body, "reason": posted["reason"]})
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from exc


def merge_request(form: FormData) -> ClaimMergeRequest:
    errors = _reason(form, "the claims are merged")
    if not text(form, "into"):
        errors["into"] = "Choose the claim that stays: search for it above, then pick it."
    if errors:
        raise FormErrors(errors)
    try:
        return ClaimMergeRequest(into=text(form, "into"), reason=text(form, "reason"))
    except ValidationError as exc:
        raise FormErrors(validation_errors(exc)) from exc
