"""The propagation timeline: a chain's outline in, inline SVG markup out.

One lane per outlet, grouped by kind; time runs left to right. Each sighting is a mark shaped
by its stance, each citation an arrow from the cited sighting to the one citing it; the main
path is drawn heavier, the first official denial is a vertical rule, and what came after it sits
on a shaded ground. A date known only to the day, the month or approximately is drawn as a bar
over the time it may fall in, never as a point. A chain too large to draw mark by mark is drawn
as counts per outlet and time bucket, with its main path and denial still drawn in full.
The drawing says what it holds (`Drawn`), from which its legend names each kind of mark.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from markupsafe import Markup, escape

from app.chains.outline import OTHERS, Aggregate, Node, Outline, aggregate_of
from app.enums import OutletKind, Precision
from app.ui.legend import KIND_LABELS, Drawn
from app.ui.marks import MARK_R, attrs, date_text, day, glyph, span_of
from app.ui.timeline_axis import Scale, axis

# Past this many sightings, marks and arrows would hide each other and weigh megabytes.
MAX_MARKS = 500
MAX_LANES = 40

WIDTH = 1000
LABEL_W = 210
RIGHT_PAD = 20
TOP = 34
LANE_H = 26
LINE_H = 12
GROUP_H = 18
BOTTOM_PAD = 12
SPAN_H = 10
# What fits on one line of the lane labels' column; longer names wrap to a second line.
LABEL_CHARS = 32

KIND_ORDER = [
    OutletKind.anonymous_channel,
    OutletKind.social_account,
    OutletKind.broadcaster,
    OutletKind.news_outlet,
    OutletKind.other,
    OutletKind.fact_checker,
    OutletKind.official,
]
OTHERS_LANE = OTHERS


@dataclass
class Lane:
    key: str
    label: str
    kind: OutletKind
    y: float = 0.0


def _lanes(aggregate: Aggregate, keep: set[str], limit: int | None) -> list[Lane]:
    outlets, counts = aggregate.outlets, aggregate.counts
    shown = set(outlets)
    if limit is not None and len(outlets) > limit:
        busiest = sorted((s for s in outlets if s not in keep), key=lambda s: (-counts[s], s))
        shown = keep | set(busiest[: max(0, limit - 1 - len(keep))])
    first = aggregate.first_at
    ordered = sorted(shown, key=lambda s: (KIND_ORDER.index(outlets[s].kind), first[s], s))
    lanes = [Lane(s, outlets[s].name, outlets[s].kind) for s in ordered]
    hidden = len(outlets) - len(shown)
    if hidden:
        lanes.append(Lane(OTHERS_LANE, f"{hidden:,} more outlets", OutletKind.other))
    return lanes


def _place(lanes: list[Lane]) -> tuple[list[str], float]:
    """Give each lane its height; the kind headings and lane rules as markup."""
    out: list[str] = []
    y = TOP
    kind: OutletKind | None = None
    for lane in lanes:
        if lane.kind != kind or lane.key == OTHERS_LANE:
            kind = lane.kind
            heading = "All other outlets" if lane.key == OTHERS_LANE else KIND_LABELS[kind]
            out.append(f'<text class="kind-heading" x="6" y="{y + 13}">{escape(heading)}</text>')
            y += GROUP_H
        lines = _wrapped(lane.label)
        height = LANE_H + LINE_H * (len(lines) - 1)
        lane.y = y + height / 2
        # The full name stays in the lane's title whenever the label had to be cut.
        title = f"<title>{escape(lane.label)}</title>" if " ".join(lines) != lane.label else ""
        first = lane.y + 4 - LINE_H * (len(lines) - 1) / 2
        spans = "".join(
            f'<tspan x="14" y="{first + LINE_H * i:.1f}">{escape(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        out.append(
            f'<g class="lane" {attrs(data_outlet=lane.key)}>{title}'
            f'<line class="lane-rule" x1="{LABEL_W}" x2="{WIDTH - RIGHT_PAD}" '
            f'y1="{lane.y}" y2="{lane.y}"/>'
            f'<text class="lane-label">{spans}</text>'
            "</g>"
        )
        y += height
    return out, y


def _wrapped(text: str, width: int = LABEL_CHARS, most: int = 2) -> list[str]:
    """A label in at most `most` lines of `width` characters, cut with an ellipsis past them."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    lines = [line if len(line) <= width else _clip(line, width) for line in lines]
    if len(lines) > most:
        lines = [*lines[: most - 1], _clip(" ".join(lines[most - 1 :]), width)]
    return lines


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def mark_label(node: Node) -> str:
    """A sighting in words: outlet, date as precisely as it is known, stance."""
    return f"{node.outlet.name}, {date_text(node)}, {node.stance.value}"


def _mark(
    node: Node,
    scale: Scale,
    y: float,
    classes: Iterable[str],
    drawn: Drawn,
) -> tuple[str, float]:
    """One sighting as a focusable link to its row in the table; and its x for arrows."""
    start, end = span_of(node)
    stance = node.stance
    exact = node.published_at_precision is Precision.exact
    x = scale.x(node.published_at) if exact else (scale.x(start) + scale.x(end)) / 2
    label = mark_label(node)
    drawn.stances.add(stance)
    shapes = []
    if not exact:
        drawn.precisions.add(node.published_at_precision)
        x0, x1 = scale.x(start), scale.x(end)
        shapes.append(
            f'<rect class="span" {attrs(data_precision=node.published_at_precision.value)} '
            f'x="{x0:.1f}" y="{y - SPAN_H / 2:.1f}" width="{max(x1 - x0, 2):.1f}" '
            f'height="{SPAN_H}" rx="4"/>'
        )
    shapes.append(f'<path class="glyph" d="{glyph(stance, x, y)}"/>')
    attributes = attrs(
        class_=" ".join(["mark", f"stance-{stance.value}", *classes]),
        href=f"#s-{node.id}",
        data_sighting_id=node.id,
        data_outlet=node.outlet.slug,
        data_stance=stance.value,
        data_precision=node.published_at_precision.value,
        data_published_at=node.published_at.isoformat(),
        data_url=node.url,
        data_archive_url=node.archive_url,
        aria_label=label,
    )
    return f"<a {attributes}><title>{escape(label)}</title>{''.join(shapes)}</a>", x


def _arrow(
    source: str, target: str, a: tuple[float, float], b: tuple[float, float], basis: str, main: bool
) -> str:
    (x1, y1), (x2, y2) = a, b
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    # Stop short of the target so the arrowhead sits beside its mark, not under it.
    shorten = min(MARK_R + 3, length / 2)
    x2, y2 = x2 - (x2 - x1) / length * shorten, y2 - (y2 - y1) / length * shorten
    attributes = attrs(
        class_="citation main-path" if main else "citation",
        data_from=source,
        data_to=target,
        data_basis=basis,
        data_main_path="true" if main else None,
        marker_end="url(#arrow-main)" if main else "url(#arrow)",
    )
    return f'<line {attributes} x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>'


def _defs() -> str:
    arrows = "".join(
        f'<marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="{size}" '
        f'markerHeight="{size}" orient="auto-start-reverse">'
        f'<path class="{name}-head" d="M0,0L10,5L0,10Z"/></marker>'
        for name, size in (("arrow", 6), ("arrow-main", 5))
    )
    return f"<defs>{arrows}</defs>"


def _denial(denial: Node | None, scale: Scale, bottom: float) -> str:
    if denial is None:
        return ""
    x = scale.x(denial.published_at)
    label = f"First official denial: {denial.outlet.name}, {day(denial.published_at)}"
    return (
        f'<rect class="after-denial-zone" x="{x:.1f}" y="{TOP - 8}" '
        f'width="{max(WIDTH - RIGHT_PAD - x, 0):.1f}" height="{bottom - TOP + 8:.1f}"/>'
        f"<g {attrs(class_='denial', data_first_denial=denial.id)}>"
        f"<title>{escape(label)}</title>"
        f'<line class="denial-rule" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 8}" y2="{bottom:.1f}"/>'
        f'<text class="denial-label" x="{x + 4:.1f}" y="{TOP + 6}">'
        f"first official denial; after it →</text></g>"
    )


def _svg(chain: Outline, height: float, body: Sequence[str], aggregated: bool) -> str:
    metrics = chain.metrics
    summary = (
        f"Propagation timeline of “{_clip(chain.claim.statement, 120)}”: "
        f"{metrics.sightings:,} sightings in {metrics.outlets:,} outlets"
    )
    if metrics.first_denial_at:
        summary += f"; first official denial on {day(metrics.first_denial_at)}"
    attributes = attrs(
        data_chain_timeline=True,
        data_aggregated="true" if aggregated else None,
        role="img",
        aria_label=summary,
        viewBox=f"0 0 {WIDTH} {height:.0f}",
        class_="timeline",
        xmlns="http://www.w3.org/2000/svg",
    )
    return f"<svg {attributes}>{_defs()}{''.join(body)}</svg>"


def _marks_body(
    chain: Outline, lanes: list[Lane], scale: Scale, bottom: float, drawn: Drawn
) -> list[str]:
    lane_y = {lane.key: lane.y for lane in lanes}
    denial = chain.first_denial
    on_path = set(chain.path)
    path_steps = set(pairwise(chain.path))
    marks: list[str] = []
    where: dict[str, tuple[float, float]] = {}
    for node in chain.nodes:
        classes = []
        if node.id in on_path:
            classes.append("on-path")
        if denial is not None and node.published_at > denial.published_at:
            classes.append("after-denial")
        if denial is not None and node.id == denial.id:
            classes.append("first-denial")
        y = lane_y[node.outlet.slug]
        markup, x = _mark(node, scale, y, classes, drawn)
        marks.append(markup)
        where[node.id] = (x, y)
    drawn.after_denial = any("after-denial" in m for m in marks)
    arrows = [
        _arrow(e.from_, e.to, where[e.from_], where[e.to], e.basis, (e.from_, e.to) in path_steps)
        for e in chain.edges
        if e.from_ in where and e.to in where
    ]
    # Main-path arrows last among arrows, so no other arrow is drawn over them.
    arrows.sort(key=lambda markup: "data-main-path" in markup)
    drawn.citations = bool(arrows)
    drawn.main_path = any("data-main-path" in a for a in arrows)
    drawn.denial = denial is not None
    return [_denial(denial, scale, bottom), *arrows, *marks]


def _cellattrs(key: str, count: int, start: datetime, level: int) -> str:
    return attrs(
        class_=f"cell level-{min(level, 5)}",
        data_outlet=key,
        data_count=count,
        data_bucket_start=start.isoformat(),
    )


def _aggregated_body(
    chain: Outline,
    aggregate: Aggregate,
    lanes: list[Lane],
    scale: Scale,
    bottom: float,
    drawn: Drawn,
) -> list[str]:
    lane_y = {lane.key: lane.y for lane in lanes}
    name, width = aggregate.bucket, aggregate.width
    counts: Counter[tuple[str, int]] = Counter()
    for (slug, index), count in aggregate.cells.items():
        counts[(slug if slug in lane_y else OTHERS_LANE, index)] += count
    busiest = max(counts.values(), default=1)
    cells = []
    for (key, index), count in sorted(counts.items()):
        start = aggregate.start + width * index
        x0, x1 = scale.x(start), min(scale.x(start + width), WIDTH - RIGHT_PAD)
        level = 1 + int(4 * math.log(count) / math.log(busiest)) if busiest > 1 else 1
        text = f"{count:,} sightings in the {name} from {start.strftime('%d %b %Y %H:%M')}"
        cells.append(
            f"<rect {_cellattrs(key, count, start, level)} "
            f'x="{x0:.1f}" y="{lane_y[key] - 8:.1f}" width="{max(x1 - x0 - 0.5, 1):.1f}" '
            f'height="16"><title>{escape(text)}</title></rect>'
        )
    denial = chain.first_denial
    on_path = set(chain.path)
    by_id = {node.id: node for node in chain.nodes if node.id in on_path}
    marks: list[str] = []
    where: dict[str, tuple[float, float]] = {}
    for node_id in chain.path:
        node = by_id[node_id]
        classes = ["on-path"]
        if denial is not None and node.id == denial.id:
            classes.append("first-denial")
        y = lane_y[node.outlet.slug]
        markup, x = _mark(node, scale, y, classes, drawn)
        marks.append(markup)
        where[node_id] = (x, y)
    arrows = [_arrow(a, b, where[a], where[b], "path", True) for a, b in pairwise(chain.path)]
    drawn.aggregated_by = name
    drawn.main_path = drawn.citations = bool(arrows)
    drawn.denial = denial is not None
    return [_denial(denial, scale, bottom), *cells, *arrows, *marks]


@dataclass
class Drawing:
    svg: Markup
    drawn: Drawn


def _scale(start: datetime, end: datetime) -> Scale:
    return Scale(start, end, LABEL_W, WIDTH - RIGHT_PAD)


def draw(chain: Outline, *, max_marks: int = MAX_MARKS) -> Drawing:
    """The chain's timeline as inline SVG, and what it holds for its legend; aggregated past
    `max_marks` sightings, or when the outline was read aggregated."""
    drawn = Drawn()
    if not chain.nodes:
        return Drawing(Markup('<p class="empty">No sightings recorded yet.</p>'), drawn)
    aggregated = chain.aggregate is not None or len(chain.nodes) > max_marks
    aggregate = aggregate_of(chain)
    on_path = set(chain.path)
    path_outlets = {n.outlet.slug for n in chain.nodes if n.id in on_path}
    lanes = _lanes(aggregate, path_outlets, MAX_LANES if aggregated else None)
    drawn.kinds = {lane.kind for lane in lanes if lane.key != OTHERS_LANE}
    headings, bottom = _place(lanes)
    if aggregated:
        scale = _scale(aggregate.start, aggregate.end)
        body = _aggregated_body(chain, aggregate, lanes, scale, bottom, drawn)
    else:
        spans = [span_of(n) for n in chain.nodes]
        scale = _scale(min(s for s, _ in spans), max(e for _, e in spans))
        body = _marks_body(chain, lanes, scale, bottom, drawn)
    content = [axis(scale, TOP, bottom), *headings, *body]
    return Drawing(Markup(_svg(chain, bottom + BOTTOM_PAD, content, aggregated)), drawn)


def render(chain: Outline, *, max_marks: int = MAX_MARKS) -> Markup:
    """The chain's timeline as inline SVG."""
    return draw(chain, max_marks=max_marks).svg
