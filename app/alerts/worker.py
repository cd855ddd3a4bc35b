"""The dispatcher: turns events into deliveries and sends them, in `tracer serve` or alone.

Any number of dispatchers may share one database. Work is claimed with a lease: a claimed
delivery's `next_attempt_at` moves a lease period ahead, so one whose worker died comes due
again by itself. Claiming is one short transaction (on PostgreSQL with SKIP LOCKED, so workers
pass each other's rows by); the HTTP call happens after it has committed, and the outcome is
written only if the lease is still ours.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import timedelta

import httpx
from sqlalchemy import func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import netguard, outbox
from app.alerts import outcomes
from app.alerts.crypto import InvalidToken, SecretBox
from app.alerts.delivery import Answer, payload, send, signed_headers
from app.alerts.models import (
    Addressed,
    Delivery,
    DeliveryStatus,
    DispatchCursor,
    Subscription,
    SubscriptionStatus,
)
from app.alerts.outcomes import Outcome
from app.alerts.retention import keep_pruning
from app.alerts.wakeup import Wakeup, listen_postgres, local_wakeup
from app.config import Settings
from app.db import insert_or_ignore, new_id, take_write_turn, utcnow
from app.outbox.models import Event

log = logging.getLogger(__name__)

CURSOR = "deliveries"


def worker_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        box: SecretBox,
        wakeup: Wakeup,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.client = client
        self.box = box
        self.wakeup = wakeup
        self.name = worker_name()
        self._stopping = False

    def stop(self) -> None:
        """Finish the round in progress, then return from `run`."""
        self._stopping = True
        self.wakeup.notify()

    async def run(self) -> None:
        """Fan out and deliver until stopped, then finish the requests in flight.

        Up to `dispatch_concurrency` requests are in flight at once, and places are refilled
        while slow receivers are still being waited for, so one dead receiver cannot hold up
        the rest. Answers are written down as they come, a few per transaction.
        """
        sending: set[asyncio.Task[Outcome]] = set()
        look = True
        while sending or not self._stopping:
            ticket = self.wakeup.ticket()
            busy = False
            if not self._stopping:
                try:
                    if look:
                        busy = await self.fan_out() > 0
                    busy = await self._refill(sending) > 0 or busy
                except Exception:
                    log.exception("alert dispatch failed; trying again")
            waiting = asyncio.create_task(
                self.wakeup.wait(ticket, 0 if busy else self.settings.dispatch_poll_seconds)
            )
            done, _ = await asyncio.wait({waiting, *sending}, return_when=asyncio.FIRST_COMPLETED)
            if waiting not in done:
                waiting.cancel()
            finished = [task for task in sending if task in done]
            sending.difference_update(finished)
            if finished:
                await self._record_each([task.result() for task in finished])
            # New events are looked for when told of them (even while answers were being
            # written), after a poll interval, or while there was work; a request finishing
            # only frees a place.
            look = busy or ticket.is_set() or waiting in done

    async def _refill(self, sending: set[asyncio.Task[Outcome]]) -> int:
        """Start as many due deliveries as there are free places; how many were started."""
        limit = max(self.settings.dispatch_concurrency, 1)
        free = limit - len(sending)
        # Refill in groups rather than with one query per finished request.
        if free <= 0 or (sending and free < max(limit // 4, 1)):
            return 0
        in_flight = {task.get_name() for task in sending}
        rows = await self._leased(await self.claim(free, in_flight=in_flight))
        for row in rows:
            # Named by its delivery, so a lease that lapses while the answer is still awaited
            # is not taken again by this same worker.
            sending.add(asyncio.create_task(self._attempt(*row), name=row[0].id))
        return len(rows)

    async def fan_out(self) -> int:
        """Turn the next events into one delivery per matching subscription; how far the cursor
        moved (0: nothing new)."""
        async with self.sessionmaker() as session:
            # A read first, so an idle dispatcher never takes SQLite's single write lock.
            done = await session.scalar(
                select(DispatchCursor.event_id).where(DispatchCursor.name == CURSOR)
            )
            newer = await session.scalar(outbox.first_after(done))
        if newer is None:
            return 0
        async with self.sessionmaker() as session, session.begin():
            # In turn with this process's recordings, rather than polling for SQLite's lock.
            await take_write_turn(session)
            await insert_or_ignore(
                session, DispatchCursor, {"name": CURSOR, "event_id": 0}, ["name"]
            )
            # One dispatcher fans out at a time; the others go straight to delivering.
            start = await session.scalar(
                select(DispatchCursor.event_id)
                .where(DispatchCursor.name == CURSOR)
                .with_for_update(skip_locked=True)
            )
            if start is None:
                return 0
            subscriptions = (
                await session.scalars(
                    select(Subscription).where(Subscription.status != SubscriptionStatus.disabled)
                )
            ).all()
            if subscriptions:
                # Matched on their addresses alone: a batch's thousands of payloads are not
                # decoded here.
                events = (
                    await session.execute(
                        select(Event.id, Event.type, Event.claim_id, Event.tags)
                        .where(Event.id > start)
                        .order_by(Event.id)
                        .limit(self.settings.dispatch_batch_size)
                    )
                ).all()
                if not events:
                    return 0
                await self._add_deliveries(session, events, subscriptions)
                last: int = events[-1].id
            else:
                # With nobody to deliver to, only the cursor moves, past every event committed
                # in one step (ids grow in commit order, app/outbox): a large import would
                # otherwise take a round of statements per hundred events.
                last = await session.scalar(select(func.max(Event.id))) or start
                if last <= start:
                    return 0
            # SQLite has no row locks: the cursor only moves if nobody moved it meanwhile,
            # and the unique (subscription, event) pair makes a repeated fan-out harmless.
            moved = await session.execute(
                update(DispatchCursor)
                .where(DispatchCursor.name == CURSOR, DispatchCursor.event_id == start)
                .values(event_id=last)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                await session.rollback()
                return 0
        return last - start

    async def _add_deliveries(
        self,
        session: AsyncSession,
        events: Sequence[Addressed],
        subscriptions: Sequence[Subscription],
    ) -> None:
        now = utcnow()
        rows = [
            {
                "id": new_id(),
                "subscription_id": subscription.id,
                "event_id": event.id,
                "status": DeliveryStatus.pending,
                "attempts": 0,
                "failures": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in events
            for subscription in subscriptions
            if subscription.wants(event)
        ]
        if rows:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            await session.execute(
                insert(Delivery).on_conflict_do_nothing(
                    index_elements=["subscription_id", "event_id"]
                ),
                rows,
            )

    async def claim(self, limit: int, *, in_flight: Collection[str] = ()) -> list[str]:
        """Lease up to `limit` deliveries that are due, other than those `in_flight` here.

        A due delivery that still names a lease owner was leased by a worker that never came
        back to record its attempt (killed mid-request, most likely): that attempt is written
        down as interrupted, so the deliveries log shows it, and the delivery goes out again.
        One of this worker's own requests outlasting its lease (a lease shorter than the
        webhook timeout) is still being waited for, so it is not sent a second time.
        """
        now = utcnow()
        due = (
            select(Delivery.id, Delivery.lease_owner, Delivery.attempts, Delivery.next_attempt_at)
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(
                Delivery.status == DeliveryStatus.pending,
                Delivery.next_attempt_at <= now,
                Subscription.status != SubscriptionStatus.disabled,
                Delivery.id.not_in(list(in_flight)) if in_flight else true(),
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=Delivery, skip_locked=True)
        )
        async with self.sessionmaker() as session, session.begin():
            candidates = {row.id: row for row in (await session.execute(due)).all()}
            if not candidates:
                return []
            await take_write_turn(session)
            lease = update(Delivery).where(
                Delivery.id.in_(candidates),
                Delivery.status == DeliveryStatus.pending,
                Delivery.next_attempt_at <= now,
            )
            claimed = await session.scalars(
                lease.values(
                    lease_owner=self.name,
                    next_attempt_at=now + timedelta(seconds=self.settings.dispatch_lease_seconds),
                )
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
            ids = list(claimed.all())
            cut_off = [candidates[i] for i in ids if candidates[i].lease_owner is not None]
            if cut_off:
                await outcomes.record_interrupted(session, cut_off, now, settings=self.settings)
            return ids

    async def _leased(self, ids: Sequence[str]) -> list[tuple[Delivery, Event, Subscription]]:
        if not ids:
            return []
        async with self.sessionmaker() as session:
            rows = await session.execute(
                select(Delivery, Event, Subscription)
                .join(Event, Event.id == Delivery.event_id)
                .join(Subscription, Subscription.id == Delivery.subscription_id)
                .where(Delivery.id.in_(ids))
            )
            return [(d, e, s) for d, e, s in rows.all()]

    async def _attempt(
        self, delivery: Delivery, event: Event, subscription: Subscription
    ) -> Outcome:
        started = utcnow()
        try:
            answer = await self._send(event, subscription)
        except Exception:
            log.exception("webhook attempt crashed for event %s", event.id)
            answer = Answer(None, "internal error while sending", 0)
        return Outcome(delivery, subscription, answer, started)

    async def _send(self, event: Event, subscription: Subscription) -> Answer:
        try:
            await netguard.check_url(
                subscription.url, allow_private=self.settings.webhook_allow_private
            )
            secret = self.box.open(subscription.secret_encrypted)
        except netguard.UnsafeUrl as exc:
            return Answer(None, f"not sent: {exc}", 0)
        except InvalidToken:
            return Answer(None, "not sent: this server's secret key cannot open the secret", 0)
        body = payload(event)
        headers = signed_headers(secret=secret, message_id=str(event.id), body=body, now=utcnow())
        return await send(
            self.client,
            url=subscription.url,
            body=body,
            headers=headers,
            seconds=self.settings.webhook_timeout_seconds,
        )

    async def _record_each(self, finished: Sequence[Outcome]) -> None:
        """Record answers together, or one by one when that fails: a subscription deleted
        meanwhile must not cost the others their record, and so a second send."""
        groups = [finished] if len(finished) == 1 else [finished, *([o] for o in finished)]
        for group in groups:
            try:
                await outcomes.record(
                    group,
                    sessionmaker=self.sessionmaker,
                    settings=self.settings,
                    owner=self.name,
                )
            except Exception:
                # Unrecorded, the lease lapses and the delivery is sent again: at least once.
                log.exception("recording %d webhook answer(s) failed", len(group))
            else:
                if group is finished:
                    return


@contextlib.asynccontextmanager
async def running_alerts(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    box: SecretBox,
    deliver: bool,
) -> AsyncIterator[Wakeup]:
    """Wake-ups for this process, a PostgreSQL listener, and a dispatcher when `deliver`."""
    async with local_wakeup() as wakeup:
        listener = None
        if not settings.is_sqlite:
            listener = asyncio.create_task(listen_postgres(settings.database_url, wakeup))
        dispatcher = Dispatcher(
            settings=settings, sessionmaker=sessionmaker, client=client, box=box, wakeup=wakeup
        )
        running = asyncio.create_task(dispatcher.run()) if deliver else None
        pruning = (
            asyncio.create_task(keep_pruning(sessionmaker=sessionmaker, settings=settings))
            if deliver
            else None
        )
        try:
            yield wakeup
        finally:
            if listener is not None:
                listener.cancel()
            if pruning is not None:
                pruning.cancel()
                await asyncio.gather(pruning, return_exceptions=True)
            if running is not None:
                # Cancelling mid-query can strand a database connection; let the round end,
                # which takes at most one webhook timeout.
                dispatcher.stop()
                grace = settings.webhook_timeout_seconds + 5
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(running), grace)
                running.cancel()
            await asyncio.gather(
                *(t for t in (listener, running) if t is not None), return_exceptions=True
            )
