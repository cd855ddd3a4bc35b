import re
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.alerts import service
from app.alerts.deps import SubscriptionDep
from app.alerts.schemas import (
    Attempt,
    Delivery,
    Event,
    Subscription,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionUpdate,
)
from app.alerts.stream import stream_response
from app.auth.deps import AdminKey, ReadKey
from app.auth.service import Principal
from app.config import Settings
from app.enums import EventType, Scope
from app.errors import Invalid
from app.pagination import PageDep
from app.schemas import Page
from app.transactions import SessionDep

router = APIRouter(prefix="/v1", tags=["alerts"])

# The largest id a BIGINT holds; larger numbers would fail in the database, not as a 422.
MAX_EVENT_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,19}")

TypesQuery = Annotated[
    list[EventType], Query(alias="type", description="Only these event types (repeatable).")
]
ClaimQuery = Annotated[str | None, Query(max_length=64, description="Only events of this claim.")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/subscriptions", status_code=status.HTTP_201_CREATED)
async def create_subscription(
    body: SubscriptionCreate, request: Request, session: SessionDep, principal: AdminKey
) -> SubscriptionCreated:
    subscription, secret = await service.create(
        session=session,
        actor=principal,
        data=body,
        box=request.app.state.secret_box,
        allow_private=_settings(request).webhook_allow_private,
    )
    shown = Subscription.model_validate(subscription).model_dump()
    return SubscriptionCreated(**shown, secret=secret)


def _shown_to(principal: Principal, subscription: object) -> Subscription:
    """A subscription as this key may see it: its URL, which can carry a receiver's token in
    its path or query, only for admin keys."""
    shown = Subscription.model_validate(subscription)
    return shown if principal.may(Scope.admin) else shown.model_copy(update={"url": None})


@router.get("/subscriptions")
async def list_subscriptions(
    session: SessionDep, page: PageDep, principal: ReadKey
) -> Page[Subscription]:
    rows, next_cursor = await service.list_subscriptions(session=session, page=page)
    return Page(items=[_shown_to(principal, s) for s in rows], next_cursor=next_cursor)


@router.get("/subscriptions/{subscription_id}")
async def get_subscription(subscription: SubscriptionDep, principal: ReadKey) -> Subscription:
    return _shown_to(principal, subscription)


@router.patch("/subscriptions/{subscription_id}")
async def update_subscription(
    body: SubscriptionUpdate,
    subscription: SubscriptionDep,
    request: Request,
    session: SessionDep,
    principal: AdminKey,
) -> Subscription:
    updated = await service.update(
        session=session,
        actor=principal,
        subscription=subscription,
        data=body,
        allow_private=_settings(request).webhook_allow_private,
    )
    return Subscription.model_validate(updated)


@router.delete("/subscriptions/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(
    subscription: SubscriptionDep, session: SessionDep, principal: AdminKey
) -> Response:
    await service.delete_subscription(session=session, subscription=subscription, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/subscriptions/{subscription_id}/deliveries")
async def list_deliveries(
    subscription: SubscriptionDep,
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    event_id: Annotated[
        int | None, Query(ge=1, le=MAX_EVENT_ID, description="Only this event's attempts.")
    ] = None,
) -> Page[Attempt]:
    """Every delivery attempt, newest first: status code, error, time and next retry."""
    rows, next_cursor = await service.list_attempts(
        session=session, subscription_id=subscription.id, page=page, event_id=event_id
    )
    return Page(items=[Attempt.model_validate(a) for a in rows], next_cursor=next_cursor)


@router.post(
    "/subscriptions/{subscription_id}/deliveries/{event_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
)
async def redeliver(
    subscription: SubscriptionDep,
    event_id: Annotated[int, Path(ge=1, le=MAX_EVENT_ID)],
    session: SessionDep,
    _: AdminKey,
) -> Delivery:
    """Send this event to this subscription again now, with a fresh round of retries."""
    delivery = await service.redeliver(
        session=session, subscription=subscription, event_id=event_id
    )
    return Delivery.model_validate(delivery)


@router.get("/events")
async def list_events(
    session: SessionDep,
    page: PageDep,
    _: ReadKey,
    after: Annotated[
        int, Query(ge=0, le=MAX_EVENT_ID, description="Only events with a greater id.")
    ] = 0,
    types: TypesQuery = [],  # noqa: B006 -- FastAPI copies query defaults
    claim_id: ClaimQuery = None,
) -> Page[Event]:
    """Events in the order they happened."""
    rows, next_cursor = await service.list_events(
        session=session, page=page, after=after, types=types, claim_id=claim_id
    )
    return Page(items=[Event.model_validate(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    _: ReadKey,
    after: Annotated[
        int, Query(ge=0, le=MAX_EVENT_ID, description="Start after this event id.")
    ] = 0,
    types: TypesQuery = [],  # noqa: B006 -- FastAPI copies query defaults
    claim_id: ClaimQuery = None,
    last_event_id: Annotated[str | None, Header(max_length=30)] = None,
) -> StreamingResponse:
    """Server-Sent Events: `id:` is the event id; reconnect with `Last-Event-ID` to resume."""
    if last_event_id is not None:
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
        if not _EVENT_ID.fullmatch(last_event_id.strip()) or int(last_event_id) > MAX_EVENT_ID:
            raise Invalid(
                "Last-Event-ID must be an event id this service sent",
                loc=["Last-Event-ID"],
                source="header",
                msg="not an event id",
            )
        after = int(last_event_id)
    return stream_response(request, after=after, types=types, claim_id=claim_id)
