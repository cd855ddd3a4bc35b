from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StrictBool, StringConstraints

from app.recording.schemas import SightingCreate
from app.schemas import InputSchema, Schema

MAX_BATCH_ITEMS = 1000

Ref = Annotated[str, StringConstraints(min_length=1, max_length=200)]


# The worked example's first two sightings, as `tracer demo` records them: both were seen in
# the article that tells the story, which links to neither appearance.
EXAMPLE_STATEMENT = "North Korea offered to send up to 100,000 troops to fight for the DPR and LPR"
EXAMPLE_URL = (
    "https://journal-neo.org/2022/08/25/"
    "are-north-korean-military-construction-workers-being-sent-to-the-dlnr/"
)


class BatchItem(SightingCreate):
    """One sighting of a batch: the fields of `POST /v1/sightings`, plus references to its peers."""

    ref: Ref | None = Field(
        default=None, description="A name of your choosing that other items can cite."
    )
    cites_refs: list[Ref] = Field(
        default_factory=list,
        max_length=200,
        description="`ref`s of other items of this batch that this sighting took the claim from.",
    )


class BatchCreate(InputSchema):
    # Items are taken as any JSON value here and validated one by one, so one bad item (even
    # one that is not an object) is reported in its own result instead of refusing the whole
    # batch; the schema says so rather than promising objects the batch does not insist on.
    items: list[Any] = Field(
        description=f"Up to {MAX_BATCH_ITEMS} sightings, each an object with the fields of "
        "`POST /v1/sightings` plus optional `ref` and `cites_refs`. An item that is not such "
        "an object is reported as an error in its own result.",
        examples=[
            [
                {
                    "ref": "laundress",
                    "claim": {"statement": EXAMPLE_STATEMENT},
                    "outlet": "kremlin-laundress",
                    "url": EXAMPLE_URL,
                    "published_at": "2022-08-01T00:00:00Z",
                    "published_at_precision": "day",
                    "stance": "asserts",
                },
                {
                    "claim": {"statement": EXAMPLE_STATEMENT},
                    "outlet": "channel-one-russia",
                    "url": EXAMPLE_URL,
                    "published_at": "2022-08-02T00:00:00Z",
                    "published_at_precision": "approximate",
                    "stance": "reports",
                    "cites_refs": ["laundress"],
                },
            ]
        ],
    )
    atomic: StrictBool = Field(
        default=False, description="Store every item or, if any fails, none of them."
    )


class ItemStatus(StrEnum):
    created = "created"
    duplicate = "duplicate"
    error = "error"


class ItemResult(Schema):
    index: int
    ref: str | None = None
    status: ItemStatus
    id: str | None = Field(default=None, description="The recorded sighting, when created.")
    existing_id: str | None = Field(
        default=None, description="The sighting already recorded, when a duplicate."
    )
    problem: dict[str, Any] | None = Field(
        default=None, description="An RFC 9457 problem document, when the item failed."
    )


class BatchResult(Schema):
    results: list[ItemResult]
