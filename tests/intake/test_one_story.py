"""`tracer demo` and `examples/sightings.csv` tell the seed article's story identically.

Either may come first on a desk's database: the second records nothing, and what is stored is
the shipped worked example, field for field, whichever recorded it.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased, selectinload

from app.claims.models import Claim
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo.loader import worked_example
from app.outlets.models import Outlet
from app.sightings.models import Citation, Sighting

EXAMPLE = Path(__file__).parents[2] / "examples" / "sightings.csv"

Story = dict[str, Any]


def expected_story() -> Story:
    """The worked example as the package ships it, in the shape `stored_story` reads."""
    data = worked_example()
    statements = {c["ref"]: c["statement"] for c in data["claims"]}
    by_ref = {s["ref"]: s for s in data["sightings"]}

    def key(ref: str) -> tuple[str, str, str]:
        raw = by_ref[ref]
        return statements[raw["claim"]], raw["outlet"], raw["published_at"]

    return {
        "outlets": sorted(
            (
                o["slug"],
                o["name"],
                o["kind"],
                o.get("country"),
                o.get("language"),
                o.get("url"),
                tuple(o.get("aliases", [])),
                tuple(o.get("domains", [])),
            )
            for o in data["outlets"]
        ),
        "claims": sorted(
            (c["statement"], c.get("summary"), c.get("language"), tuple(c.get("tags", [])))
            for c in data["claims"]
        ),
        "sightings": sorted(
            (
                *key(s["ref"]),
                data["source"]["url"],
                s["published_at_precision"],
                s["stance"],
                s.get("attribution"),
                s.get("title"),
                s.get("excerpt"),
            )
            for s in data["sightings"]
        ),
        "citations": sorted(
            (key(s["ref"]), key(cited)) for s in data["sightings"] for cited in s.get("cites", [])
        ),
    }


def stored_story(settings: Settings) -> Story:
    async def read() -> Story:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                outlets = (await session.scalars(select(Outlet))).all()
                claims = (await session.scalars(select(Claim))).all()
                statements = {c.id: c.statement for c in claims}
                sightings = (
                    await session.scalars(select(Sighting).options(selectinload(Sighting.outlet)))
                ).all()
                keys = {
                    s.id: (
                        statements[s.claim_id],
                        s.outlet.slug,
                        s.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    )
                    for s in sightings
                }
                citing, cited = aliased(Sighting), aliased(Sighting)
                edges = await session.execute(
                    select(Citation.citing_id, Citation.cited_id)
                    .join(citing, citing.id == Citation.citing_id)
                    .join(cited, cited.id == Citation.cited_id)
                )
                citations = await session.scalar(select(func.count()).select_from(Citation))
        finally:
            await engine.dispose()
        story: Story = {
            "outlets": sorted(
                (
                    o.slug,
                    o.name,
                    o.kind.value,
                    o.country,
                    o.language,
                    o.url,
                    tuple(o.aliases),
                    tuple(o.domains),
                )
                for o in outlets
            ),
            "claims": sorted((c.statement, c.summary, c.language, tuple(c.tags)) for c in claims),
            "sightings": sorted(
                (
                    *keys[s.id],
                    s.url,
                    s.published_at_precision.value,
                    s.stance.value,
                    s.attribution,
                    s.title,
                    s.excerpt,
                )
                for s in sightings
            ),
            "citations": sorted((keys[a], keys[b]) for a, b in edges),
        }
        assert citations == len(story["citations"])
        return story

    return asyncio.run(read())


@pytest.mark.parametrize("order", [("demo", "import"), ("import", "demo")], ids="-then-".join)
def test_demo_and_example_file_record_one_story_in_either_order(
    tracer: Any, settings: Settings, order: tuple[str, str]
) -> None:
    steps = {"demo": ("demo",), "import": ("import", EXAMPLE)}
    first = tracer(*steps[order[0]])
    assert first.exit_code == 0, first.output
    after_first = stored_story(settings)

    second = tracer(*steps[order[1]])

    assert second.exit_code == 0, second.output
    if order[1] == "demo":
        assert "0 sightings recorded, 9 already there" in second.output
    else:
        assert "0 created, 9 duplicates, 0 errors" in second.output
    story = stored_story(settings)
    assert story == after_first
    assert story == expected_story()
    assert (len(story["claims"]), len(story["outlets"]), len(story["sightings"])) == (2, 8, 9)
