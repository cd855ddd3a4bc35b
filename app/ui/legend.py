"""The legends of the claim page's drawings: every kind of mark drawn, named in words, each
beside a sample drawn with the same shapes and classes as the drawing itself."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from app.enums import OutletKind, Precision, Stance
from app.ui.marks import attrs, glyph

KIND_LABELS = {
    OutletKind.anonymous_channel: "Anonymous channels",
    OutletKind.social_account: "Social accounts",
    OutletKind.news_outlet: "News outlets",
    OutletKind.broadcaster: "Broadcasters",
    OutletKind.other: "Other",
    OutletKind.fact_checker: "Fact-checkers",
    OutletKind.official: "Official bodies",
}
STANCE_WORDS = {
    Stance.asserts: "asserts it",
    Stance.reports: "reports it",
    Stance.questions: "questions it",
    Stance.debunks: "debunks it (fact check)",
    Stance.denies: "denies it",
    Stance.confirms: "confirms it",
    Stance.retracts: "retracts it",
}
PRECISION_WORDS = {
    Precision.day: "the day",
    Precision.month: "the month",
    Precision.approximate: "about a week (approximate)",
}


@dataclass
class Drawn:
    """What a drawing holds, so that its legend names exactly that."""

    stances: set[Stance] = field(default_factory=set)
    kinds: set[OutletKind] = field(default_factory=set)
    precisions: set[Precision] = field(default_factory=set)
    citations: bool = False
    main_path: bool = False
    denial: bool = False
    after_denial: bool = False
    aggregated_by: str | None = None


def _sample(body: str, width: int = 30) -> str:
    size = f'viewBox="0 0 {width} 16" width="{width}" height="16"'
    return f'<svg class="sample" {size} aria-hidden="true">{body}</svg>'


def _glyph(stance: Stance, classes: str = "") -> str:
    return (
        f'<g class="mark stance-{stance.value} {classes}">'
        f'<path class="glyph" d="{glyph(stance, 15, 8)}"/></g>'
    )


def _item(key: str, sample: str, words: str) -> str:
    return f"<li {attrs(data_legend_item=key)}>{sample} {escape(words)}</li>"


def _stance_items(stances: Iterable[Stance]) -> list[str]:
    return [
        _item(
            f"stance-{s.value}",
            _sample(
                f'<g class="mark stance-{s.value}"><path class="glyph" d="{glyph(s, 15, 8)}"/></g>'
            ),
            STANCE_WORDS[s],
        )
        for s in Stance
        if s in stances
    ]


def timeline(drawn: Drawn) -> Markup:
    """The timeline's legend: stances by shape, outlet kinds by lane group, path, denial, dates."""
    items = _stance_items(drawn.stances)
    if drawn.kinds:
        kinds = ", ".join(KIND_LABELS[k] for k in KIND_LABELS if k in drawn.kinds)
        items.append(
            _item(
                "outlet-kinds",
                _sample('<rect class="lane-sample" x="1" y="4" width="28" height="8"/>'),
                f"one lane per outlet, grouped by kind: {kinds}",
            )
        )
    if drawn.citations:
        items.append(
            _item(
                "citation",
                _sample(
                    '<line class="citation" x1="2" x2="26" y1="8" y2="8" marker-end="url(#arrow)"/>'
                ),
                "a citation, from the source to the sighting that took the claim from it",
            )
        )
    if drawn.main_path:
        items.append(
            _item(
                "main-path",
                _sample('<line class="citation main-path" x1="2" x2="28" y1="8" y2="8"/>'),
                "the main path, from the earliest origin to the first official denial "
                "(or to the latest sighting it reaches)",
            )
        )
    if drawn.denial:
        items.append(
            _item(
                "first-denial",
                _sample('<line class="denial-rule" x1="15" x2="15" y1="0" y2="16"/>'),
                "the first official denial",
            )
        )
    if drawn.after_denial:
        items.append(
            _item(
                "after-denial",
                _sample(
                    '<rect class="after-denial-zone" x="0" y="0" width="30" height="16"/>'
                    + _glyph(Stance.reports, "after-denial")
                ),
                "published after the first official denial (orange, on the shaded ground)",
            )
        )
    if drawn.precisions:
        known = ", ".join(PRECISION_WORDS[p] for p in PRECISION_WORDS if p in drawn.precisions)
        items.append(
            _item(
                "imprecise-dates",
                _sample('<rect class="span" x="1" y="3" width="28" height="10" rx="4"/>'),
                f"a date known only to {known}: drawn as a bar over the time it may fall in",
            )
        )
    if drawn.aggregated_by:
        items.append(
            _item(
                "aggregated",
                _sample('<rect class="cell level-3" x="1" y="2" width="28" height="12"/>'),
                f"too many sightings to draw one by one: the shade counts an outlet's sightings "
                f"per {drawn.aggregated_by}",
            )
        )
    return Markup(
        '<ul class="legend timeline-legend" data-legend aria-label="Legend of the timeline">'
        f"{''.join(items)}</ul>"
    )


def graph(stances: Iterable[Stance], *, by_sighting: bool) -> Markup:
    """The citation graph's legend: each stance's shape and colour, the main path, the denial."""
    items = _stance_items(set(stances)) if by_sighting else []
    items.append(
        _item(
            "main-path",
            _sample('<line class="citation main-path" x1="2" x2="28" y1="8" y2="8"/>'),
            "the main path (nodes ringed in orange)",
        )
    )
    items.append(
        _item(
            "first-denial",
            _sample('<circle class="denial-halo" cx="15" cy="8" r="8"/>'),
            "the first official denial (dark halo)",
        )
    )
    if not by_sighting:
        items.insert(
            0,
            _item(
                "outlet",
                _sample('<circle class="outlet-node" cx="15" cy="8" r="6"/>'),
                "an outlet; arrows count the citations between outlets",
            ),
        )
    return Markup(
        '<ul class="legend graph-legend" data-graph-legend aria-label="Legend of the graph">'
        f"{''.join(items)}</ul>"
    )
