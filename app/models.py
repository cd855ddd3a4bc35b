"""Every model, imported in one place so Alembic and the app see the whole schema."""

from app.alerts.models import Delivery, DeliveryAttempt, DispatchCursor, Event, Subscription
from app.auth.models import ApiKey
from app.claims.models import Claim, ClaimTag, ClaimTerm
from app.db import Base
from app.idempotency.models import IdempotencyRecord
from app.outlets.models import Outlet
from app.sightings.models import Citation, Sighting
from app.ui.models import UiSession

__all__ = [
    "ApiKey",
    "Base",
    "Citation",
    "Claim",
    "ClaimTag",
    "ClaimTerm",
    "Delivery",
    "DeliveryAttempt",
    "DispatchCursor",
    "Event",
    "IdempotencyRecord",
    "Outlet",
    "Sighting",
    "Subscription",
    "UiSession",
]
