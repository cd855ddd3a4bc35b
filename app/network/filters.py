"""What a record or the network reads: a window of UTC days, a tag, claims, outlet kinds."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, select, true

from app.claims.models import ClaimTag
from app.enums import OutletKind

# More ids than this make a query string of tens of kilobytes and a statement of as many
# parameters; a tag or a time window selects large sets of claims instead.
MAX_CLAIM_IDS = 1000


def day_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Selection:
    """The days run from `since`'s to `until`'s, both included: the day is the step a window
    takes (app.network.models)."""

    since: datetime | None = None
    until: datetime | None = None
    tag: str | None = None
    claim_ids: tuple[str, ...] = ()
    kinds: tuple[OutletKind, ...] = field(default=())

    @property
    def everything(self) -> bool:
        """Whether every claim on every day is selected: the outlets' totals answer then."""
        return not (self.since or self.until or self.tag or self.claim_ids)

    @property
    def key(self) -> str:
        """The selection in one canonical line, the same for the same selection."""
        days = [day.date().isoformat() if day else "" for day in (self.first_day, self.last_day)]
        parts = [*days, self.tag or "", ",".join(sorted(self.claim_ids))]
        return "|".join([*parts, ",".join(sorted(self.kinds))])

    @property
    def first_day(self) -> datetime | None:
        return day_start(self.since) if self.since is not None else None

    @property
    def last_day(self) -> datetime | None:
        return day_start(self.until) if self.until is not None else None

    def days(self, day: Any) -> ColumnElement[bool]:
        """The rows whose `day` lies in the window."""
        conditions: list[ColumnElement[bool]] = []
        if self.first_day is not None:
            conditions.append(day >= self.first_day)
        if self.last_day is not None:
            conditions.append(day <= self.last_day)
        return and_(true(), *conditions)

    def published(self, moment: Any) -> ColumnElement[bool]:
        """The sightings published on a day of the window."""
        conditions: list[ColumnElement[bool]] = []
        if self.first_day is not None:
            conditions.append(moment >= self.first_day)
        if self.last_day is not None:
            conditions.append(moment < self.last_day + timedelta(days=1))
        return and_(true(), *conditions)

    def claims(self, claim_id: Any) -> ColumnElement[bool]:
        """The rows of the claims selected by tag and by id."""
        conditions: list[ColumnElement[bool]] = []
        if self.tag is not None:
            conditions.append(
                claim_id.in_(select(ClaimTag.claim_id).where(ClaimTag.tag == self.tag))
            )
        if self.claim_ids:
            conditions.append(claim_id.in_(self.claim_ids))
        return and_(true(), *conditions)
