"""The timeline is a pure function of the chain document: checked here without a browser."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from app.chains.schemas import Chain
from app.ui import timeline

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2022, 8, 1, tzinfo=UTC)


def _outlet(slug: str, kind: str = "news_outlet", name: str | None = None) -> dict[str, Any]:
    return {
        "id": f"o-{slug}",
        "slug": slug,
        "name": name or slug.title(),
        "kind": kind,
        "country": None,
        "language": None,
        "url": None,
        "aliases": [],
        "created_at": T0,
        "updated_at": T0,
    }


def _node(
    sid: str, outlet: dict[str, Any], day: float, stance: str = "reports", precision: str = "exact"
) -> dict[str, Any]:
    return {
        "id": sid,
        "claim_id": "c1",
        "outlet": outlet,
        "url": f"https://{outlet['slug']}.example/{sid}",
        "published_at": T0 + timedelta(days=day),
        "published_at_precision": precision,
        "stance": stance,
        "cites": [],
        "citations": [],
        "attribution": None,
        "title": None,
        "excerpt": None,
        "language": None,
        "archive_url": None,
        "content_sha256": None,
        "recorded_at": T0,
        "recorded_by": "desk",
    }


def _chain(
    nodes: list[dict[str, Any]],
    edges: list[tuple[str, str]],
    path: list[str],
    denial_at: datetime | None = None,
    statement: str = "A claim",
) -> Chain:
    return Chain.model_validate(
        {
            "claim": {
                "id": "c1",
                "statement": statement,
                "summary": None,
                "language": None,
                "tags": [],
                "variant_of": None,
                "created_at": T0,
                "denial_status": "denied" if denial_at else "none",
                "first_seen_at": T0,
                "sightings_count": len(nodes),
                "outlets_count": len({n["outlet"]["slug"] for n in nodes}),
            },
            "nodes": nodes,
            "edges": [{"from": a, "to": b, "basis": "cites"} for a, b in edges],
            "origins": [path[0]] if path else [],
            "path": path,
            "hops": [],
            "metrics": {
                "sightings": len(nodes),
                "outlets": len({n["outlet"]["slug"] for n in nodes}),
                "countries": 0,
                "languages": 0,
                "first_seen_at": T0,
                "first_denial_at": denial_at,
                "denial_lag_seconds": None,
                "sightings_after_denial": 0,
            },
        }
    )


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def _small_chain() -> Chain:
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
    nodes.sort(key=lambda n: n["published_at"])
    edges = [("s1", "s2"), ("s2", "s3"), ("s2", "s4"), ("s1", "s5")]
    return _chain(nodes, edges, ["s1", "s2", "s3"], denial_at=T0 + timedelta(days=10))


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
    nodes.sort(key=lambda n: n["published_at"])
    chain = _chain(
        nodes, [("n0", "n61"), ("n61", "deny")], ["n0", "n61", "deny"], T0 + timedelta(days=5)
    )
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
