from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from app.audit import service as audit
from app.audit.schemas import Revision
from app.audit.service import Target
from app.auth.deps import ReadKey, WriteKey
from app.deps import AsOf, IfMatch
from app.enums import Stance
from app.idempotency.service import IdempotencyDep
from app.ledger import as_of
from app.pagination import PageDep
from app.recording import corrections
from app.recording import service as recording
from app.recording.schemas import SightingCreate, SightingPatch
from app.revisions import etag
from app.schemas import Page, Reason, TimestampIn
from app.sightings import service
from app.sightings.presenter import present
from app.sightings.schemas import Sighting
from app.transactions import SessionDep
from app.validators import PageUrl, Slug

router = APIRouter(prefix="/v1/sightings", tags=["sightings"])

ONE_RECORD: dict[int | str, dict[str, Any]] = {
    410: {"description": "The sighting was withdrawn: who, when and why."}
}
CHANGE: dict[int | str, dict[str, Any]] = {
    **ONE_RECORD,
    409: {"description": "A duplicate (`existing_id`) or, withdrawing, still cited (`cited_by`)."},
    412: {"description": "`If-Match` names a revision that is no longer the latest."},
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Sighting,
)
async def record_sighting(
    body: SightingCreate, session: SessionDep, principal: WriteKey, guard: IdempotencyDep
) -> JSONResponse:
    async def produce() -> Sighting:
        sighting = await recording.record(session=session, principal=principal, data=body)
        return (await present(session=session, sightings=[sighting]))[0]

    answer = await guard.respond(status.HTTP_201_CREATED, produce)
    # The answer, first or replayed, shows the sighting as first recorded: revision 1.
    answer.headers.update(etag(1))
    return answer


@router.get("")
async def list_sightings(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    moment: AsOf,
    claim_id: Annotated[str | None, Query(max_length=64)] = None,
    outlet: Annotated[Slug | None, Query(description="An outlet's slug.")] = None,
    stance: Stance | None = None,
    since: Annotated[TimestampIn | None, Query(description="Published at or after.")] = None,
    url: Annotated[
        PageUrl | None, Query(description="Seen at this URL, in any of its forms.")
    ] = None,
) -> Page[Sighting]:
    rows, next_cursor = await service.list_sightings(
        session=session,
        page=page,
        claim_id=claim_id,
        outlet=outlet,
        stance=stance,
        since=since,
        url=url,
        moment=moment,
    )
    shown = await present(session=session, sightings=rows, view=as_of(moment))
    return Page(items=shown, next_cursor=next_cursor)


@router.get("/{sighting_id}", responses=ONE_RECORD)
async def get_sighting(
    sighting_id: str, session: SessionDep, _: ReadKey, moment: AsOf, response: Response
) -> Sighting:
    sighting = await service.get_or_404(session=session, sighting_id=sighting_id, moment=moment)
    response.headers.update(etag(sighting.revision))
    return (await present(session=session, sightings=[sighting], view=as_of(moment)))[0]


@router.patch("/{sighting_id}", responses=CHANGE)
async def correct_sighting(
    sighting_id: str,
    body: SightingPatch,
    session: SessionDep,
    principal: WriteKey,
    expected: IfMatch,
    response: Response,
) -> Sighting:
    """Correct a sighting: a JSON merge patch with a required `reason`; its history keeps all."""
    sighting = await corrections.correct(
        session=session,
        actor=principal,
        sighting_id=sighting_id,
        patch=body,
        expected_revision=expected,
    )
    response.headers.update(etag(sighting.revision))
    return (await present(session=session, sightings=[sighting]))[0]


@router.delete("/{sighting_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CHANGE)
async def withdraw_sighting(
    sighting_id: str,
    session: SessionDep,
    principal: WriteKey,
    expected: IfMatch,
    reason: Annotated[Reason, Query(description="Why it is withdrawn, for its history.")],
    relink: Annotated[
        bool, Query(description="Make the sightings citing it cite what it cited instead.")
    ] = False,
) -> Response:
    """Withdraw a sighting recorded in error; it answers 410 from then on."""
    await corrections.withdraw(
        session=session,
        actor=principal,
        sighting_id=sighting_id,
        reason=reason,
        relink=relink,
        expected_revision=expected,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{sighting_id}/history")
async def sighting_history(
    sighting_id: str, session: SessionDep, page: PageDep, _: ReadKey
) -> Page[Revision]:
    """The sighting's revisions, newest first, withdrawn ones included."""
    rows, next_cursor = await audit.history_page(
        session=session, target_type=Target.sighting, target_id=sighting_id, page=page
    )
    return Page(items=[Revision.model_validate(r) for r in rows], next_cursor=next_cursor)
