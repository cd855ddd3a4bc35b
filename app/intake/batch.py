"""Many sightings in one request: per-item outcomes, references between items, all-or-nothing."""

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import false, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.claims import service as claims
from app.claims.models import Claim
from app.claims.normalize import fingerprint, normalize_statement
from app.db import insert_or_ignore, utcnow
from app.denials.service import refresh_claim
from app.enums import CitationBasis
from app.errors import Conflict, Invalid, TracerError, problem_body
from app.intake.schemas import BatchItem, ItemResult, ItemStatus
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.sightings import service as sightings
from app.sightings.models import Citation, Sighting
from app.sightings.schemas import SightingCreate

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


def plan(raw_items: Sequence[Any]) -> Plan:
    """Validate each item on its own, resolve refs, and order the items topologically."""
    items: dict[int, BatchItem] = {}
    refs: dict[str, int] = {}
    results: dict[int, ItemResult] = {}
    for index, raw in enumerate(raw_items):
        ref = _raw_ref(raw)
        if ref is not None and ref in refs:
            results[index] = _failed(
                index, ref, f"ref {ref!r} is already used by item {refs[ref]}", ["ref"]
            )
            continue
        if ref is not None:
            refs[ref] = index
        try:
            items[index] = BatchItem.model_validate(raw)
        except ValidationError as exc:
            results[index] = _validation_failure(index, ref, exc)

    for index, item in items.items():
        unknown = [k for k, ref in enumerate(item.cites_refs) if ref not in refs]
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
        cited = {refs[ref] for ref in item.cites_refs} - results.keys()
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
        k = next(k for k, ref in enumerate(item.cites_refs) if refs[ref] in stuck)
        results[index] = _failed(
            index,
            item.ref,
            f"cites_refs form a cycle: ref {item.cites_refs[k]!r} can never be recorded "
            "before this item",
            ["cites_refs", k],
        )
    return Plan(order=order, items=items, refs=refs, results=results)


async def open_transaction(session: AsyncSession) -> None:
    """Make sure the session's transaction is open in the database before any SAVEPOINT.

    The SQLite driver opens its transaction lazily, at the first INSERT, UPDATE or DELETE; a
    SAVEPOINT issued before that becomes the outermost transaction, and releasing it commits,
    which would make an atomic batch store its first items whatever happens later. A write that
    touches no row opens the transaction first.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(Claim).where(false()).values(updated_at=utcnow()))


@dataclass
class Recorder:
    """Records sightings one after another in one transaction, as `POST /v1/sightings` does.

    The rules are the single-sighting service's own. What differs is what makes a batch several
    times faster: claims and outlets resolved by earlier items are remembered, each claim's row
    is locked once, its counters and denial status are recomputed once in `finish()` instead of
    after every row, and a SAVEPOINT is only taken by an item that creates a claim or an outlet
    (every other item checks everything before its single INSERT, so it has nothing to undo).
    """

    session: AsyncSession
    principal: Principal
    now: datetime
    claims: dict[str, Claim] = field(default_factory=dict)
    claims_by_fingerprint: dict[str, Claim] = field(default_factory=dict)
    outlets: dict[str, Outlet] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)

    def _known_claim(self, data: SightingCreate) -> Claim | None:
        if data.claim is not None:
            digest = fingerprint(normalize_statement(data.claim.statement))
            return self.claims_by_fingerprint.get(digest)
        return self.claims.get(data.claim_id or "")

    def _known_outlet(self, data: SightingCreate) -> Outlet | None:
        return self.outlets.get(data.outlet if isinstance(data.outlet, str) else data.outlet.slug)

    def creates_something(self, data: SightingCreate) -> bool:
        """Whether recording this item may create a claim or an outlet inline."""
        return (data.claim is not None and self._known_claim(data) is None) or (
            not isinstance(data.outlet, str) and self._known_outlet(data) is None
        )

    def forget(self) -> None:
        """Drop what was remembered, after a SAVEPOINT was rolled back under it."""
        self.claims.clear()
        self.claims_by_fingerprint.clear()
        self.outlets.clear()
        self.locked.clear()

    async def _claim(self, data: SightingCreate) -> Claim:
        if (data.claim_id is None) == (data.claim is None):
            raise Invalid("send exactly one of claim_id or claim", loc=["claim_id"])
        claim = self._known_claim(data)
        if claim is None:
            if data.claim is not None:
                claim, _ = await claims.get_or_create(
                    session=self.session, data=data.claim, loc=["claim"]
                )
            else:
                claim = await claims.get(session=self.session, claim_id=data.claim_id or "")
                if claim is None:
                    raise Invalid(f"no claim with id {data.claim_id!r}", loc=["claim_id"])
            self.claims[claim.id] = claim
            self.claims_by_fingerprint[claim.fingerprint] = claim
        return claim

    async def _outlet(self, data: SightingCreate) -> Outlet:
        outlet = self._known_outlet(data)
        if outlet is None:
            if isinstance(data.outlet, str):
                outlet = await outlets.get_by_slug(session=self.session, slug=data.outlet)
                if outlet is None:
                    raise Invalid(
                        f"no outlet with slug {data.outlet!r}; create it first or send it inline",
                        loc=["outlet"],
                    )
            else:
                outlet = await outlets.get_or_create(session=self.session, data=data.outlet)
            self.outlets[outlet.slug] = outlet
        return outlet

    async def lock_claims(self, items: Sequence[SightingCreate]) -> None:
        """Lock the existing claims these items name, in id order, before recording any.

        Two batches that took their claims' locks in the order of their items could each wait
        for the other; taking them in one global order up front cannot.
        """
        ids = {item.claim_id for item in items if item.claim_id}
        digests = {
            fingerprint(normalize_statement(item.claim.statement))
            for item in items
            if item.claim is not None
        }
        existing = await self.session.scalars(
            select(Claim.id).where(or_(Claim.id.in_(ids), Claim.fingerprint.in_(digests)))
        )
        for claim_id in sorted(existing):
            await self.session.execute(
                update(Claim).where(Claim.id == claim_id).values(updated_at=self.now)
            )
            self.locked.add(claim_id)

    async def record(self, data: SightingCreate) -> str:
        """Record one sighting and return its id; a duplicate raises Conflict."""
        if data.published_at > self.now + sightings.FUTURE_TOLERANCE:
            raise Invalid("published_at is in the future", loc=["published_at"])
        claim = await self._claim(data)
        outlet = await self._outlet(data)
        if claim.id not in self.locked:
            # The same row lock the single-sighting service takes, held to the end of the batch.
            await self.session.execute(
                update(Claim).where(Claim.id == claim.id).values(updated_at=self.now)
            )
            self.locked.add(claim.id)
        cited: dict[str, CitationBasis] = {}
        if data.cites_outlets:
            cited = await sightings._resolve_cited_outlets(
                self.session, data.cites_outlets, claim.id, data.published_at
            )
        if data.cites:
            cited.update(
                await sightings._resolve_cites(self.session, data.cites, data.published_at)
            )
        values: dict[str, Any] = data.model_dump(
            exclude={"claim_id", "claim", "outlet", "cites", "cites_outlets"}
        )
        values |= {
            "claim_id": claim.id,
            "outlet_id": outlet.id,
            "recorded_at": self.now,
            "recorded_by": self.principal.name,
            "recorded_by_key_id": self.principal.key_id,
        }
        new_id = await insert_or_ignore(
            self.session, Sighting, values, ["claim_id", "outlet_id", "url"]
        )
        if new_id is None:
            existing = await self.session.scalar(
                select(Sighting.id).where(
                    Sighting.claim_id == claim.id,
                    Sighting.outlet_id == outlet.id,
                    Sighting.url == data.url,
                )
            )
            assert existing is not None
            raise Conflict(
                "this claim is already recorded in this outlet at this url", existing_id=existing
            )
        if cited:
            await self.session.execute(
                insert(Citation),
                [
                    {"citing_id": new_id, "cited_id": cited_id, "basis": basis}
                    for cited_id, basis in cited.items()
                ],
            )
        self.touched.add(claim.id)
        return new_id

    async def finish(self) -> None:
        """Bring every claim this batch touched up to date; call before committing."""
        for claim_id in sorted(self.touched):
            await refresh_claim(session=self.session, claim_id=claim_id)
        self.touched.clear()
        self.locked.clear()


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
    savepoint = recorder.creates_something(data)
    try:
        if savepoint:
            try:
                async with recorder.session.begin_nested():
                    new_id = await recorder.record(data)
            except TracerError:
                recorder.forget()
                raise
        else:
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


async def record_batch(
    *,
    session: AsyncSession,
    principal: Principal,
    raw_items: Sequence[Any],
    atomic: bool,
    now: datetime | None = None,
) -> list[ItemResult]:
    """Record a batch of sightings; with `atomic`, a failing item refuses the whole batch."""
    now = now or utcnow()
    planned = plan(raw_items)
    results = planned.results
    done: dict[str, ItemResult] = {}
    await open_transaction(session)
    recorder = Recorder(session=session, principal=principal, now=now)
    await recorder.lock_claims([planned.items[index] for index in planned.order])
    for index in planned.order:
        item = planned.items[index]
        result = await record_item(recorder=recorder, index=index, item=item, done=done)
        results[index] = result
        if item.ref is not None:
            done[item.ref] = result
    await recorder.finish()
    ordered = [results[index] for index in range(len(raw_items))]
    if atomic and any(r.status is ItemStatus.error for r in ordered):
        # Nothing is stored, so an id would point at nothing.
        raise BatchRefused([r.model_copy(update={"id": None}) for r in ordered])
    return ordered
