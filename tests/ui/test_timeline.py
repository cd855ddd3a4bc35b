"""The timeline is a pure function of the chain's outline: checked here without a browser."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.chains.outline import Node, OutletRef, Outline, Step, aggregate_of, outline
from app.chains.schemas import Metrics
from app.claims.models import Claim
from app.enums import OutletKind, Precision, Stance
from app.ui import legend, timeline
from tests.factories import record_worked_example

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2022, 8, 1, tzinfo=UTC)


def _outlet(slug: str, kind: str = "news_outlet", name: str | None = None) -> OutletRef:
    return OutletRef(f"o-{slug}", slug, name or slug.title(), OutletKind(kind), None, None)


def _node(
    sid: str, outlet: OutletRef, day: float, stance: str = "reports", precision: str = "exact"
) -> Node:
    return Node(
        id=sid,
        outlet_id=outlet.id,
        outlet=outlet,
        published_at=T0 + timedelta(days=day),
        published_at_precision=Precision(precision),
        stance=Stance(stance),
        url=f"https://{outlet.slug}.example/{sid}",
        archive_url=None,
        language=None,
    )


def _chain(
    nodes: list[Node],
    edges: list[tuple[str, str]],
    path: list[str],
    denial: str | None = None,
    statement: str = "A claim",
) -> Outline:
    nodes = sorted(nodes, key=lambda n: n.published_at)
    first_denial = next((n for n in nodes if n.id == denial), None)
    claim = Claim(id="c1", statement=statement, tags=[])
    metrics = Metrics(
        sightings=len(nodes),
        outlets=len({n.outlet.slug for n in nodes}),
        countries=0,
        languages=0,
        first_seen_at=nodes[0].published_at if nodes else None,
        first_denial_at=first_denial.published_at if first_denial else None,
        denial_lag_seconds=None,
        sightings_after_denial=0,
    )
    steps = [Step(a, b, "cites") for a, b in edges]
    return Outline(claim, nodes, steps, path, metrics, first_denial)


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def _small_chain() -> Outline:
    channel = _outlet("channel", "anonymous_channel", "Channel")
    paper = _outlet("paper")
    ministry = _outlet("ministry", "official", "Ministry")
    blog = _outlet("blog", "social_account")
    nodes = [
        _node("s1", channel, 0, "asserts", "day"),
        _node("s2", paper, 3, "reports", "approximate"),
        _node("s3", ministry, 10, "denies"),
        _node("s4", blog, 14, "reports"),
        _node("s5", paper, 2, "questions"),
    ]
    edges = [("s1", "s2"), ("s2", "s3"), ("s2", "s4"), ("s1", "s5")]
    return _chain(nodes, edges, ["s1", "s2", "s3"], denial="s3")


def test_one_mark_per_sighting_one_arrow_per_citation_one_lane_per_outlet() -> None:
    svg = _parse(timeline.render(_small_chain()))
    assert svg.get("data-chain-timeline") is not None and svg.get("role") == "img"
    assert "5 sightings in 4 outlets" in svg.get("aria-label", "")
    marks = svg.findall(f".//{SVG}a[@data-sighting-id]")
    assert sorted(m.get("data-sighting-id") for m in marks) == ["s1", "s2", "s3", "s4", "s5"]
    arrows = {
        (a.get("data-from"), a.get("data-to")) for a in svg.iter(f"{SVG}line") if a.get("data-from")
    }
    assert arrows == {("s1", "s2"), ("s2", "s3"), ("s2", "s4"), ("s1", "s5")}
    lanes = [g.get("data-outlet") for g in svg.iter(f"{SVG}g") if g.get("class") == "lane"]
    # Grouped by kind: the anonymous channel first, official bodies last.
    assert lanes == ["channel", "blog", "paper", "ministry"]


def test_time_runs_left_to_right_and_each_lane_holds_its_outlet() -> None:
    svg = _parse(timeline.render(_small_chain()))
    lane_y = {}
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") == "lane":
            rule = g.find(f"{SVG}line")
            assert rule is not None
            lane_y[g.get("data-outlet")] = float(rule.get("y1", "0"))
    centres = {}
    for mark in svg.findall(f".//{SVG}a[@data-sighting-id]"):
        glyph = mark.find(f"{SVG}path")
        assert glyph is not None
        x, y = (float(v) for v in re.match(r"M([\d.]+),([\d.]+)", glyph.get("d", "")).groups())
        centres[mark.get("data-sighting-id")] = x
        assert abs(y - lane_y[mark.get("data-outlet")]) <= timeline.MARK_R + 1.5
    assert centres["s1"] < centres["s5"] < centres["s3"] < centres["s4"]


def test_main_path_highlighted_denial_ruled_and_later_sightings_set_apart() -> None:
    svg = _parse(timeline.render(_small_chain()))
    on_path = {
        (a.get("data-from"), a.get("data-to"))
        for a in svg.iter(f"{SVG}line")
        if a.get("data-main-path") == "true"
    }
    assert on_path == {("s1", "s2"), ("s2", "s3")}
    denial = [g for g in svg.iter() if g.get("data-first-denial") is not None]
    assert [g.get("data-first-denial") for g in denial] == ["s3"]
    classes = {m.get("data-sighting-id"): m.get("class", "") for m in svg.iter(f"{SVG}a")}
    assert "after-denial" in classes["s4"] and "after-denial" not in classes["s2"]
    assert "first-denial" in classes["s3"]


def test_imprecise_dates_are_spans_as_wide_as_what_is_known() -> None:
    svg = _parse(timeline.render(_small_chain()))
    marks = {m.get("data-sighting-id"): m for m in svg.iter(f"{SVG}a")}
    assert marks["s4"].find(f"{SVG}rect") is None
    day = marks["s1"].find(f"{SVG}rect")
    approximate = marks["s2"].find(f"{SVG}rect")
    assert day is not None and approximate is not None
    assert approximate.get("data-precision") == "approximate"
    # A week of uncertainty is drawn seven times wider than a known day.
    ratio = float(approximate.get("width", "0")) / float(day.get("width", "1"))
    assert 6.5 < ratio < 7.5
    assert "between" in marks["s2"].get("aria-label", "")


def test_text_from_the_record_is_escaped() -> None:
    hostile = _outlet("evil", name='<script>alert(1)</script>"')
    chain = _chain([_node("s1", hostile, 0)], [], ["s1"], statement="<b>bold</b> & co")
    markup = str(timeline.render(chain))
    assert "<script>" not in markup and "<b>" not in markup
    assert _parse(markup).find(f".//{SVG}a").get("aria-label").startswith("<script>")


def test_a_large_chain_is_drawn_aggregated_with_its_path_and_denial() -> None:
    outlets = [_outlet(f"outlet-{i}") for i in range(60)]
    ministry = _outlet("ministry", "official")
    nodes = [_node(f"n{i}", outlets[i % 60], i / 100) for i in range(1200)]
    nodes.append(_node("deny", ministry, 5, "denies"))
    chain = _chain(nodes, [("n0", "n61"), ("n61", "deny")], ["n0", "n61", "deny"], "deny")
    markup = timeline.render(chain)
    svg = _parse(markup)
    assert svg.get("data-aggregated") == "true"
    cells = [r for r in svg.iter(f"{SVG}rect") if "cell" in (r.get("class") or "")]
    assert sum(int(c.get("data-count", "0")) for c in cells) == 1201
    lanes = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert len(lanes) <= timeline.MAX_LANES
    assert lanes[-1].get("data-outlet") == timeline.OTHERS_LANE
    marks = [m.get("data-sighting-id") for m in svg.iter(f"{SVG}a")]
    assert marks == ["n0", "n61", "deny"]
    steps = [
        (a.get("data-from"), a.get("data-to"))
        for a in svg.iter(f"{SVG}line")
        if a.get("data-main-path")
    ]
    assert steps == [("n0", "n61"), ("n61", "deny")]
    assert any(g.get("data-first-denial") == "deny" for g in svg.iter())
    assert len(markup) < 1_000_000


def test_an_empty_chain_says_so() -> None:
    assert "No sightings" in timeline.render(_chain([], [], []))


async def test_a_chain_read_aggregated_counts_what_the_whole_chain_holds(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The database's counts for a large chain (here: any chain past `whole_up_to`) are the
    counts the whole outline would give, so a big chain is drawn as a small one would be."""
    recorded = await record_worked_example(client)
    async with sessionmaker() as session:
        claim = await session.get(Claim, recorded["laundress"]["claim_id"])
        assert claim is not None
        whole = await outline(session=session, claim=claim)
        read = await outline(session=session, claim=claim, whole_up_to=3, shown=2)

    expected, counted = aggregate_of(whole), read.aggregate
    assert counted is not None and whole.aggregate is None
    assert counted.counts == expected.counts
    assert counted.cells == expected.cells and sum(counted.cells.values()) == 7
    assert counted.flows == expected.flows
    assert (counted.start, counted.end, counted.bucket) == (
        expected.start,
        expected.end,
        expected.bucket,
    )
    assert read.path == whole.path and read.metrics == whole.metrics
    assert read.first_denial is not None and read.first_denial.id == recorded["denial"]["id"]
    # The first sightings, then whatever of the main path lies beyond them.
    assert [n.id for n in read.nodes[:2]] == [n.id for n in whole.nodes[:2]]
    assert set(read.path) <= {n.id for n in read.nodes}
    svg = _parse(timeline.render(read))
    assert svg.get("data-aggregated") == "true"
    cells = [r for r in svg.iter(f"{SVG}rect") if "cell" in (r.get("class") or "")]
    assert sum(int(c.get("data-count", "0")) for c in cells) == 7
    assert [m.get("data-sighting-id") for m in svg.iter(f"{SVG}a")] == read.path


def _ticks(svg: ET.Element) -> list[tuple[str, float, str]]:
    found = []
    for g in svg.iter(f"{SVG}g"):
        if g.get("data-tick") is not None:
            line, text = g.find(f"{SVG}line"), g.find(f"{SVG}text")
            assert line is not None and text is not None
            found.append((g.get("data-tick", ""), float(line.get("x1", "0")), text.text or ""))
    return found


def test_ticks_stand_at_utc_midnights_labelled_with_their_date() -> None:
    chain = _small_chain()
    svg = _parse(timeline.render(chain))
    ticks = _ticks(svg)
    assert 3 <= len(ticks) <= 10
    dates = [datetime.fromisoformat(d).replace(tzinfo=UTC) for d, _, _ in ticks]
    for (tick, _x, label), date in zip(ticks, dates, strict=True):
        assert label.startswith(f"{date.day} {date:%b}"), (tick, label)
    assert ticks[0][2].endswith("2022")
    # Equal steps in days are equal steps on the page, so each tick's x is its midnight's x.
    (_, x0, _), (_, x1, _) = ticks[0], ticks[1]
    per_day = (x1 - x0) / (dates[1] - dates[0]).days
    marks = {m.get("data-sighting-id"): m for m in svg.iter(f"{SVG}a")}
    span = marks["s1"].find(f"{SVG}rect")  # known to the day: its bar starts at its midnight
    assert span is not None
    expected = x0 + per_day * (T0 - dates[0]).days
    assert abs(float(span.get("x", "0")) - expected) < 0.2


def test_a_long_chain_is_ticked_at_month_starts() -> None:
    paper = _outlet("paper")
    chain = _chain([_node("a", paper, 0), _node("b", paper, 400)], [("a", "b")], ["a", "b"])
    ticks = _ticks(_parse(timeline.render(chain)))
    assert ticks and all(d.endswith("-01") for d, _, _ in ticks)
    assert "2023" in " ".join(label for _, _, label in ticks)


def test_the_legend_names_every_kind_of_mark_drawn() -> None:
    drawing = timeline.draw(_small_chain())
    html = str(legend.timeline(drawing.drawn))
    items = re.findall(r'data-legend-item="([^"]+)"', html)
    assert "data-legend" in html
    for wanted in ("main-path", "first-denial", "after-denial", "imprecise-dates", "outlet-kinds"):
        assert wanted in items
    assert {"stance-asserts", "stance-denies", "stance-questions"} <= set(items)
    assert "stance-confirms" not in items  # nothing confirms it, so no shape to explain
    assert "Anonymous channels" in html and "Official bodies" in html
    quiet = timeline.draw(_chain([_node("s1", _outlet("paper"), 0)], [], ["s1"]))
    quiet_items = re.findall(r'data-legend-item="([^"]+)"', str(legend.timeline(quiet.drawn)))
    assert "first-denial" not in quiet_items and "after-denial" not in quiet_items


def test_long_outlet_names_wrap_rather_than_being_cut() -> None:
    long_name = "Ministry of Foreign Affairs of the Russian Federation"
    ministry = _outlet("mfa", "official", long_name)
    svg = _parse(timeline.render(_chain([_node("s1", ministry, 0)], [], ["s1"])))
    lane = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "lane")
    lines = [t.text for t in lane.iter(f"{SVG}tspan")]
    assert len(lines) == 2 and " ".join(lines) == long_name
    endless = "A" * 90
    svg = _parse(timeline.render(_chain([_node("s1", _outlet("x", name=endless), 0)], [], ["s1"])))
    lane = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "lane")
    title = lane.find(f"{SVG}title")
    assert title is not None and title.text == endless
