"""The query parameters a record or the network is selected by, checked before any read."""

from typing import Annotated

from fastapi import Depends, Query

from app.enums import OutletKind
from app.errors import Invalid
from app.network.filters import MAX_CLAIM_IDS, Selection
from app.schemas import TimestampIn

Since = Annotated[
    TimestampIn | None,
    Query(description="From the UTC day of this time on (publication time), that day included."),
]
Until = Annotated[
    TimestampIn | None,
    Query(description="Up to the UTC day of this time (publication time), that day included."),
]
Tag = Annotated[str | None, Query(max_length=100, description="Only claims with this tag.")]


def _checked(selection: Selection) -> Selection:
    if selection.since and selection.until and selection.since > selection.until:
        raise Invalid("since is after until", loc=["since"], source="query")
    return selection


async def _record_selection(since: Since = None, until: Until = None, tag: Tag = None) -> Selection:
    return _checked(Selection(since=since, until=until, tag=tag))


async def _network_selection(
    since: Since = None,
    until: Until = None,
    tag: Tag = None,
    claim_id: Annotated[
        list[str] | None,
        Query(description=f"Only these claims (repeatable, at most {MAX_CLAIM_IDS})."),
    ] = None,
    kind: Annotated[
        list[OutletKind] | None, Query(description="Only outlets of these kinds (repeatable).")
    ] = None,
) -> Selection:
    claim_ids = tuple(dict.fromkeys(claim_id or []))
    if len(claim_ids) > MAX_CLAIM_IDS:
        raise Invalid(
            f"claim_id names {len(claim_ids)} claims; at most {MAX_CLAIM_IDS} may be asked for "
            "at once (select more with tag, since and until)",
            loc=["claim_id"],
            source="query",
        )
    if any(len(value) > 36 for value in claim_ids):
        raise Invalid("claim_id must be a claim's id", loc=["claim_id"], source="query")
    return _checked(
        Selection(since=since, until=until, tag=tag, claim_ids=claim_ids, kinds=tuple(kind or []))
    )


RecordSelection = Annotated[Selection, Depends(_record_selection)]
NetworkSelection = Annotated[Selection, Depends(_network_selection)]
