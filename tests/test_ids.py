"""Record ids: UUIDs, as the contract's opaque ids may be, that sort in the order they were
made, so that an index on them grows at its end rather than at random places throughout."""

import time
import uuid

from app.db import new_id


def test_ids_are_uuids_sorting_in_the_order_they_were_made() -> None:
    earlier = [new_id() for _ in range(100)]
    time.sleep(0.002)
    later = [new_id() for _ in range(100)]
    assert len(set(earlier + later)) == 200
    for made in earlier + later:
        parsed = uuid.UUID(made)
        assert str(parsed) == made
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
    assert max(earlier) < min(later)
