"""Many sightings in one request: per-item outcomes, references between items, all-or-nothing."""

import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.db import utcnow
from app.errors import Conflict, Invalid, TracerError, problem_body
from app.intake.schemas import BatchItem, ItemResult, ItemStatus
from app.recording.recorder import Recorder, recording
from app.recording.schemas import SightingCreate

Loc = list[str | int]


class BatchRefused(TracerError):
    """An atomic batch with a failing item: nothing was stored."""

    status, slug, title = 422, "batch-refused", "Batch refused"

    def __init__(self, results: Sequence[ItemResult]) -> None:
        failed = [r.index for r in results if r.status is ItemStatus.error]
        super().__init__(
            f"{len(failed)} item(s) failed (first: index {failed[0]}); the batch is atomic, "
            "so nothing was stored",
            results=[r.model_dump(mode="json") for r in results],
        )


def item_problem(index: int, detail: str, errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A 422 problem for one item, its `loc`s pointing into the request's `items`."""
    return problem_body(
        422,
        "validation-error",
        "Validation error",
        detail,
        errors=[{**e, "loc": ["body", "items", index, *e["loc"]]} for e in errors],
    )


def _failed(index: int, ref: str | None, detail: str, loc: Loc) -> ItemResult:
    return ItemResult(
        index=index,
        ref=ref,
        status=ItemStatus.error,
        problem=item_problem(index, detail, [{"loc": loc, "msg": detail}]),
    )


def _validation_failure(index: int, ref: str | None, exc: ValidationError) -> ItemResult:
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) or "item" for e in errors)
    return ItemResult(
        index=index,
        ref=ref,
        status=ItemStatus.error,
        problem=item_problem(index, f"Invalid: {fields}", errors),
    )


@dataclass
class Plan:
    """Validated items in an order where every item comes after the items it cites by ref."""

    order: list[int]
    items: dict[int, BatchItem]
    refs: dict[str, int]
    results: dict[int, ItemResult] = field(default_factory=dict)


def _raw_ref(raw: Any) -> str | None:
    ref = raw.get("ref") if isinstance(raw, Mapping) else None
    return ref if isinstance(ref, str) else None


def plan(raw_items: Sequence[Any], earlier: Collection[str] = ()) -> Plan:
    """Validate each item on its own, resolve refs, and order the items topologically.

    `earlier` holds refs recorded before these items (an import's earlier chunks): items may
    cite them, and may not take them again.
    """
    items: dict[int, BatchItem] = {}
    refs: dict[str, int] = {}
    results: dict[int, ItemResult] = {}
    for index, raw in enumerate(raw_items):
        ref = _raw_ref(raw)
        if ref is not None and (ref in refs or ref in earlier):
            used = f"item {refs[ref]}" if ref in refs else "an earlier item"
            results[index] = _failed(index, ref, f"ref {ref!r} is already used by {used}", ["ref"])
            continue
        if ref is not None:
            refs[ref] = index
        try:
            items[index] = BatchItem.model_validate(raw)
        except ValidationError as exc:
            results[index] = _validation_failure(index, ref, exc)

    for index, item in items.items():
        unknown = [
            k for k, ref in enumerate(item.cites_refs) if ref not in refs and ref not in earlier
        ]
        if unknown:
            k = unknown[0]
            results[index] = _failed(
                index,
                item.ref,
                f"no item of this batch has ref {item.cites_refs[k]!r}",
                ["cites_refs", k],
            )

    cited_by: dict[int, list[int]] = {}
    waiting: dict[int, int] = {}
    for index, item in items.items():
        if index in results:
            continue
        # An item that already failed is not waited for: citing it fails when its turn comes.
        cited = {refs[ref] for ref in item.cites_refs if ref in refs} - results.keys()
        waiting[index] = len(cited)
        for dependency in cited:
            cited_by.setdefault(dependency, []).append(index)

    # Kahn's algorithm, lowest index first, so items keep their own order wherever refs allow.
    ready = [index for index, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for dependent in cited_by.get(index, ()):
            if dependent in waiting:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, dependent)
    # Whatever Kahn's algorithm could not place lies on a cycle of refs, or after one.
    stuck = waiting.keys() - set(order)
    for index in sorted(stuck):
        item = items[index]
        k = next(k for k, ref in enumerate(item.cites_refs) if refs.get(ref) in stuck)
        results[index] = _failed(
            index,
            item.ref,
            f"cites_refs form a cycle: ref {item.cites_refs[k]!r} can never be recorded "
            "before this item",
            ["cites_refs", k],
        )
    return Plan(order=order, items=items, refs=refs, results=results)


def _remap(problem: dict[str, Any], index: int, origins: Sequence[Loc]) -> dict[str, Any]:
    """A problem raised while recording an item, its locs moved into that item.

    Cites taken from `cites_refs` are checked as `cites`; their errors are reported back at
    the ref the client wrote.
    """
    errors = []
    for error in problem.get("errors", []):
        loc = list(error["loc"][1:])
        if loc[:1] == ["cites"] and len(loc) > 1 and isinstance(loc[1], int):
            loc = [*origins[loc[1]], *loc[2:]]
        errors.append({**error, "loc": loc})
    return item_problem(index, problem["detail"], errors)


async def record_item(
    *,
    recorder: Recorder,
    index: int,
    item: BatchItem,
    done: Mapping[str, ItemResult],
) -> ItemResult:
    """Record one item; its failure leaves the batch's other items untouched."""
    cites: list[str] = []
    origins: list[Loc] = []
    for k, cited_id in enumerate(item.cites):
        cites.append(cited_id)
        origins.append(["cites", k])
    for k, ref in enumerate(item.cites_refs):
        cited = done.get(ref)
        target = (cited.id or cited.existing_id) if cited else None
        if target is None:
            return _failed(
                index,
                item.ref,
                f"the item with ref {ref!r} was not recorded, so this one cannot cite it",
                ["cites_refs", k],
            )
        if target not in cites:
            cites.append(target)
            origins.append(["cites_refs", k])
    # The item was validated already; only `cites` changes.
    data = SightingCreate.model_construct(
        **{name: getattr(item, name) for name in SightingCreate.model_fields} | {"cites": cites}
    )
    try:
        new_id = await recorder.record(data)
    except Conflict as exc:
        return ItemResult(
            index=index, ref=item.ref, status=ItemStatus.duplicate, existing_id=exc.existing_id
        )
    except Invalid as exc:
        return ItemResult(
            index=index,
            ref=item.ref,
            status=ItemStatus.error,
            problem=_remap(exc.problem(), index, origins),
        )
    except TracerError as exc:
        return ItemResult(index=index, ref=item.ref, status=ItemStatus.error, problem=exc.problem())
    return ItemResult(index=index, ref=item.ref, status=ItemStatus.created, id=new_id)


async def record_planned(recorder: Recorder, planned: Plan) -> dict[int, ItemResult]:
    """Record the planned items in their order; each item's result, failed ones included."""
    results = dict(planned.results)
    done: dict[str, ItemResult] = {}
    await recorder.read_ahead([planned.items[index] for index in planned.order])
    for index in planned.order:
        item = planned.items[index]
        result = await record_item(recorder=recorder, index=index, item=item, done=done)
        results[index] = result
        if item.ref is not None:
            done[item.ref] = result
    return results


async def record_batch(
    *,
    session: AsyncSession,
    principal: Principal,
    raw_items: Sequence[Any],
    atomic: bool,
    now: datetime | None = None,
) -> list[ItemResult]:
    """Record a batch of sightings; with `atomic`, a failing item refuses the whole batch."""
    planned = plan(raw_items)

    async def work(recorder: Recorder) -> dict[int, ItemResult]:
        return await record_planned(recorder, planned)

    results = await recording(session, principal, now or utcnow(), work, creates_apart=not atomic)
    ordered = [results[index] for index in range(len(raw_items))]
    if atomic and any(r.status is ItemStatus.error for r in ordered):
        # Nothing is stored, so an id would point at nothing.
        raise BatchRefused([r.model_copy(update={"id": None}) for r in ordered])
    return ordered
