"""Which rows a read sees: the ledger as it stands now, or as it stood at a past moment.

Reads of chains, traces and denial reports select from the entities of a `LedgerView` instead
of naming the models directly. `CURRENT` is the models themselves, the fast path for every read
of today; a view `as_of` a past moment puts in their place aliases over the current and history
tables that hold what was true then, so the same query code answers both.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.claims.models import Claim
from app.outlets.models import Outlet
from app.sightings.models import Citation, Sighting


@dataclass(frozen=True)
class LedgerView:
    sightings: Any
    citations: Any
    outlets: Any
    claims: Any
    as_of: datetime | None = None


CURRENT = LedgerView(sightings=Sighting, citations=Citation, outlets=Outlet, claims=Claim)
