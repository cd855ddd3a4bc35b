"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.alerts.models import Delivery, DeliveryAttempt, DispatchCursor, Subscription
from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.claims.models import (
    Claim,
    ClaimFlow,
    ClaimHour,
    ClaimMerge,
    ClaimOutlet,
    ClaimTag,
    ClaimTerm,
    claim_versions,
)
from app.db import Base
from app.derived.models import DocumentChanges
from app.evidence.models import Capture, EvidenceCursor, SightingEvidence
from app.idempotency.models import IdempotencyRecord
from app.network.models import OutletDay, OutletFlow, OutletLink, OutletTotal
from app.outbox.models import Event
from app.outlets.models import Outlet, OutletDomain, outlet_versions
from app.ratelimit import RateLimitWindow
from app.sightings.models import (
    Citation,
    Sighting,
    Withdrawal,
    citation_versions,
    sighting_versions,
)
from app.ui.models import UiSession

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Capture",
    "Citation",
    "Claim",
    "ClaimFlow",
    "ClaimHour",
    "ClaimMerge",
    "ClaimOutlet",
    "ClaimTag",
    "ClaimTerm",
    "Delivery",
    "DeliveryAttempt",
    "DispatchCursor",
    "DocumentChanges",
    "Event",
    "EvidenceCursor",
    "IdempotencyRecord",
    "Outlet",
    "OutletDay",
    "OutletDomain",
    "OutletFlow",
    "OutletLink",
    "OutletTotal",
    "RateLimitWindow",
    "Sighting",
    "SightingEvidence",
    "Subscription",
    "UiSession",
    "Withdrawal",
    "citation_versions",
    "claim_versions",
    "outlet_versions",
    "sighting_versions",
]
