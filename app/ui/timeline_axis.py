"""The timeline's time axis: where a moment falls, and ticks on calendar boundaries in UTC.

A tick labelled with a date stands at that date's midnight, UTC (or at the first of a month for
long chains): a gridline at an odd hour labelled with a date would have readers misplace events
by most of a day.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import escape

from app.chains.outline import AXIS_MARGIN
from app.ui.marks import attrs

# Past this span the axis counts in months: daily gridlines would be too dense to label.
MONTHS_PAST = timedelta(days=240)
MOST_TICKS = 9
DAY_STEPS = (1, 2, 3, 7, 14, 28)
MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)


@dataclass(frozen=True)
class Tick:
    x: float
    at: datetime
    label: str


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _month_start(moment: datetime) -> datetime:
    return _midnight(moment).replace(day=1)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


class Scale:
    """Time to x between `left` and `right`, its ends widened out to calendar boundaries."""

    def __init__(self, start: datetime, end: datetime, left: float, right: float) -> None:
        if end - start < timedelta(hours=1):
            start, end = start - timedelta(hours=12), end + timedelta(hours=12)
        margin = (end - start) * AXIS_MARGIN
        start, end = start - margin, end + margin
        self.monthly = end - start > MONTHS_PAST
        if self.monthly:
            self.start = _month_start(start)
            self.end = _add_months(_month_start(end - timedelta(microseconds=1)), 1)
        else:
            self.start = _midnight(start)
            self.end = _midnight(end - timedelta(microseconds=1)) + timedelta(days=1)
        self.left, self.right = left, right

    def x(self, moment: datetime) -> float:
        fraction = (moment - self.start) / (self.end - self.start)
        return self.left + fraction * (self.right - self.left)

    def ticks(self) -> list[Tick]:
        """Ticks at UTC midnights, or at month starts for long spans; at most MOST_TICKS + 1."""
        moments: list[datetime] = []
        if self.monthly:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
            step = next((s for s in MONTH_STEPS if months / s <= MOST_TICKS), MONTH_STEPS[-1])
            moments = [_add_months(self.start, i) for i in range(0, months + 1, step)]
        else:
            days = (self.end - self.start).days
            step = next((s for s in DAY_STEPS if days / s <= MOST_TICKS), DAY_STEPS[-1])
            moments = [self.start + timedelta(days=i) for i in range(0, days + 1, step)]
        ticks = []
        year = None
        for moment in moments:
            label = _label(moment, monthly=self.monthly, with_year=moment.year != year)
            ticks.append(Tick(self.x(moment), moment, label))
            year = moment.year
        return ticks


def _label(moment: datetime, *, monthly: bool, with_year: bool) -> str:
    if monthly:
        return moment.strftime("%b %Y" if with_year else "%b")
    text = f"{moment.day} {moment.strftime('%b')}"
    return f"{text} {moment.year}" if with_year else text


def axis(scale: Scale, top: float, bottom: float) -> str:
    """The axis line and one gridline per tick, each `<g data-tick="YYYY-MM-DD">`."""
    out = [
        f'<line class="axis" x1="{scale.left}" x2="{scale.right}" y1="{top - 8}" y2="{top - 8}"/>'
    ]
    for tick in scale.ticks():
        out.append(
            f"<g {attrs(class_='tick', data_tick=tick.at.date().isoformat())}>"
            f'<line class="gridline" x1="{tick.x:.1f}" x2="{tick.x:.1f}" y1="{top - 12}" '
            f'y2="{bottom:.1f}"/>'
            f'<text class="tick-label" x="{tick.x:.1f}" y="{top - 16}">{escape(tick.label)}</text>'
            "</g>"
        )
    return "".join(out)
