"""Requests counted per minute and per caller, in windows every API process shares.

A fixed one-minute window per bucket (an API key, or a client address that failed to
authenticate). On PostgreSQL the count lives in one row per bucket, added to with a single
upsert, so every API process sharing the database sees the same count. SQLite serves one
process, so its counts stay in that process's memory rather than adding a write to every read.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import BigInteger, Integer, String, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

WINDOW_SECONDS = 60


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"

    bucket: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The window's start, in whole minutes since 1970.
    window_start: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Quota:
    """Where a caller stands in the current window."""

    limit: int
    used: int
    reset_seconds: int

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def _window(now: float) -> tuple[int, int]:
    """The current window's number and the whole seconds left in it (at least 1)."""
    window = int(now // WINDOW_SECONDS)
    return window, max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


SessionSource = Callable[[], AsyncSession]
"""The session a count is written through, opened only when a count needs the database."""


class Counter(Protocol):
    async def hit(self, session: SessionSource, bucket: str, limit: int) -> Quota:
        """Count one request for `bucket` and say where it stands."""
        ...


class MemoryCounter:
    """Counts for one process (SQLite)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, session: SessionSource, bucket: str, limit: int) -> Quota:
        window, reset = _window(time.time())
        seen_window, count = self._counts.get(bucket, (window, 0))
        count = count + 1 if seen_window == window else 1
        if len(self._counts) > 100_000:
            # Addresses come and go; old windows are dropped rather than kept forever.
            self._counts = {b: v for b, v in self._counts.items() if v[0] == window}
        self._counts[bucket] = (window, count)
        return Quota(limit=limit, used=count, reset_seconds=reset)


# A count lost in a crash costs nothing, so this transaction does not wait for its commit to
# reach the disk (synchronous_commit off, for this transaction only). set_config rides in the
# same statement.
_HIT = text(
    "INSERT INTO rate_limit_windows (bucket, window_start, count) "
    "SELECT :bucket, :window, :adding "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS s "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "count = CASE WHEN rate_limit_windows.window_start = excluded.window_start "
    "THEN rate_limit_windows.count + excluded.count ELSE excluded.count END, "
    "window_start = excluded.window_start "
    "RETURNING count"
)


@dataclass
class _Shared:
    window: int
    seen: int = 0  # the database's count when last synchronised
    pending: int = 0  # requests counted here since
    synced_at: float = 0.0


class PostgresCounter:
    """Counts shared by every process on one PostgreSQL database.

    Writing every request's count would add a write to every read. Instead each process adds
    its requests to the shared row a few times a second, and on every request once a caller
    nears its limit, where precision matters: far from the limit the count may lag by a
    fraction of a second's requests, near it the limit holds exactly across processes.
    """

    SYNC_SECONDS = 0.25

    def __init__(self) -> None:
        self._buckets: dict[str, _Shared] = {}

    async def hit(self, session: SessionSource, bucket: str, limit: int) -> Quota:
        now = time.time()
        window, reset = _window(now)
        shared = self._buckets.get(bucket)
        if shared is None or shared.window != window:
            shared = self._buckets[bucket] = _Shared(window=window)
            if len(self._buckets) > 100_000:
                self._buckets = {b: v for b, v in self._buckets.items() if v.window == window}
        shared.pending += 1
        used = shared.seen + shared.pending
        near = limit - used <= max(10, limit // 10)
        if near or now - shared.synced_at >= self.SYNC_SECONDS:
            adding, shared.pending, shared.synced_at = shared.pending, 0, now
            connection = await session().connection()
            result = await connection.execute(
                _HIT, {"bucket": bucket, "window": window, "adding": adding}
            )
            shared.seen = int(result.scalar_one())
            used = shared.seen + shared.pending
        return Quota(limit=limit, used=used, reset_seconds=reset)


def counter_for(dialect: str) -> Counter:
    return PostgresCounter() if dialect == "postgresql" else MemoryCounter()
