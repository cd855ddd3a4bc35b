"""The correct and withdraw forms of a sighting's page: from posted fields to service calls."""

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from app.errors import CitedBy, PreconditionFailed, TracerError
from app.recording.schemas import SightingPatch
from app.sightings.schemas import Sighting
from app.ui.forms import FormErrors, parse_published_at, problem_errors, validation_errors

# The fields the correct form shows, as the sighting document names them.
REQUIRED = ["outlet", "url", "published_at", "published_at_precision", "stance"]
OPTIONAL = ["archive_url", "title", "attribution", "excerpt"]
# Where the sighting sits in the chains: its claim (another id moves it) and what it cites.
PLACE = ["claim_id", "cites"]
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
    for name in OPTIONAL:
        values[name] = getattr(sighting, name) or ""
    return values


def posted_values(form: FormData) -> dict[str, str]:
    return {name: text(form, name) for name in [*REQUIRED, *OPTIONAL, *PLACE, "reason", "revision"]}


def _ids(value: str) -> list[str]:
    """Sighting ids as a person types them: separated by spaces, commas or new lines."""
    return [part for part in value.replace(",", " ").split() if part]


def expected_revision(form: FormData) -> int | None:
    value = text(form, "revision")
    return int(value) if value.isdigit() else None


def patch(form: FormData, sighting: Sighting) -> SightingPatch:
    """A merge patch of what the form changed, with its reason; an unchanged form is refused."""
    now = current_values(sighting)
    body: dict[str, Any] = {}
    for name in REQUIRED:
        if text(form, name) != now[name]:
            body[name] = text(form, name)
    if "published_at" in body:
        body["published_at"] = parse_published_at(body["published_at"])
        if body["published_at"] == sighting.published_at:
            del body["published_at"]
    for name in OPTIONAL:
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
