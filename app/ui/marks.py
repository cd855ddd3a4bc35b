"""The vocabulary of the pages' drawings: a sighting's date as the stretch of time it stands
for, the shape of each stance, and SVG attributes written safely."""

from datetime import datetime, timedelta

from markupsafe import escape

from app.chains.outline import Node
from app.enums import Precision, Stance

MARK_R = 6
# The worked example marks as approximate what its source dates only by the order of events;
# a week around the recorded date is where such a sighting is drawn.
APPROXIMATE_HALF_WIDTH = timedelta(days=3, hours=12)


def span_of(node: Node) -> tuple[datetime, datetime]:
    """The stretch of time a sighting's date stands for, given how precisely it is known."""
    at = node.published_at
    if node.published_at_precision is Precision.day:
        start = at.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    if node.published_at_precision is Precision.month:
        start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following
    if node.published_at_precision is Precision.approximate:
        return at - APPROXIMATE_HALF_WIDTH, at + APPROXIMATE_HALF_WIDTH
    return at, at


def glyph(stance: Stance, x: float, y: float, r: float = MARK_R) -> str:
    """An SVG path for a stance: each stance its own shape, so colour is never needed to tell."""
    if stance is Stance.asserts:
        return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0Z"
    if stance is Stance.reports:
        return f"M{x - r:.1f},{y - r:.1f}h{2 * r}v{2 * r}h{-2 * r}Z"
    if stance is Stance.questions:
        return f"M{x:.1f},{y - r - 1:.1f}l{r + 1},{r + 1}l{-r - 1},{r + 1}l{-r - 1},{-r - 1}Z"
    if stance is Stance.debunks:
        return f"M{x - r:.1f},{y - r:.1f}h{2 * r}l{-r},{2 * r}Z"
    if stance is Stance.confirms:
        return f"M{x - r:.1f},{y + r:.1f}h{2 * r}l{-r},{-2 * r}Z"
    if stance is Stance.denies:
        return f"M{x - r:.1f},{y - r:.1f}l{2 * r},{2 * r}M{x + r:.1f},{y - r:.1f}l{-2 * r},{2 * r}"
    return f"M{x - r:.1f},{y:.1f}h{2 * r}"


def attrs(**values: object) -> str:
    parts = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        attribute = name.rstrip("_").replace("_", "-")
        # A flag is written `name=""`, so the markup stays well-formed XML as well as HTML.
        shown = "" if value is True else escape(str(value))
        parts.append(f'{attribute}="{shown}"')
    return " ".join(parts)


def day(value: datetime) -> str:
    return value.strftime("%d %b %Y")


def date_text(node: Node) -> str:
    precision = node.published_at_precision
    if precision is Precision.exact:
        return node.published_at.strftime("%d %b %Y %H:%M UTC")
    start, end = span_of(node)
    if precision is Precision.day:
        return f"{day(start)} (day known)"
    if precision is Precision.month:
        return f"{start.strftime('%B %Y')} (month known)"
    return f"about {day(node.published_at)} (between {day(start)} and {day(end)})"
