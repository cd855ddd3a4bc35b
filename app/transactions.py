"""Transactions: one per request, committed through the outbox so its events keep commit order."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import outbox


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work is committed when the block ends, or rolled back if it raises."""
    async with sessionmaker() as session:
        try:
            yield session
            await outbox.commit(session)
        except BaseException:
            await outbox.rollback(session)
            raise


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    async with transaction(request.app.state.sessionmaker) as session:
        yield session


# scope="function" runs the commit before the response is sent, so a failed commit is never
# reported to the client as a success.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


# For responses streamed after the route returns, when the request's own session is closed.
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


@asynccontextmanager
async def snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A read-only session in which every query sees the database at one moment, so a response
    read in several queries while it streams never mixes two states of the data."""
    async with sessionmaker() as session:
        if session.get_bind().dialect.name == "postgresql":
            await session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
        else:
            # The driver opens no transaction for reads; WAL keeps one snapshot while it is open.
            await session.execute(text("BEGIN"))
        try:
            yield session
        finally:
            await session.rollback()


async def get_snapshot(request: Request) -> AsyncIterator[AsyncSession]:
    """A snapshot session that stays open until the response has been sent, streamed or not."""
    async with snapshot(request.app.state.sessionmaker) as session:
        yield session


# scope="request": closed after the response, so a streamed body reads through it to the end.
SnapshotDep = Annotated[AsyncSession, Depends(get_snapshot, scope="request")]


class OnDemandSnapshot:
    """A snapshot session opened on first use: a read answered from memory opens none."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._opened: AbstractAsyncContextManager[AsyncSession] | None = None
        self._session: AsyncSession | None = None

    async def session(self) -> AsyncSession:
        if self._session is None:
            self._opened = snapshot(self._sessionmaker)
            self._session = await self._opened.__aenter__()
        return self._session

    async def close(self) -> None:
        opened, self._opened, self._session = self._opened, None, None
        if opened is not None:
            await opened.__aexit__(None, None, None)


async def get_snapshot_on_demand(request: Request) -> AsyncIterator[OnDemandSnapshot]:
    on_demand = OnDemandSnapshot(request.app.state.sessionmaker)
    try:
        yield on_demand
    finally:
        await on_demand.close()


# Like SnapshotDep, closed after the response has been sent, streamed or not.
SnapshotOnDemand = Annotated[OnDemandSnapshot, Depends(get_snapshot_on_demand, scope="request")]
