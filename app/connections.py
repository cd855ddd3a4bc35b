"""What a connection to `tracer serve` may cost before it has said what it wants.

Uvicorn counts every open socket against its concurrency limit and times out neither a client
that connects and says nothing nor one that sends its headers a byte at a time: a thousand such
sockets from one address left every other client answered 503. Here each connection, while it
waits for a request, runs against two clocks (closed after `idle_timeout` without a byte of a
request, and answered 408 if its headers are not complete `header_timeout` after it began to
wait), and a process that reaches `max_connections` makes room by closing the connection that
has waited longest, rather than refusing newcomers. A request once under way is never cut off
by these: its body has its own timeout (app.limits), and its answer takes the time it takes.

An answer's head and body also leave in one write rather than two: on a small answer the second
system call costs as much as the rest of the request's own work.
"""

import asyncio
import sys
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# File descriptors kept for what is not a client connection: the listener, database connections,
# log and evidence files, outbound webhook and fetch connections.
RESERVED_FILES = 200


def _plain_answer(status: bytes, text: str, *extra: bytes) -> bytes:
    body = text.encode()
    head = [b"HTTP/1.1 " + status, b"content-type: text/plain; charset=utf-8", *extra]
    head += [b"connection: close", b"content-length: " + str(len(body)).encode()]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


_REFUSED = _plain_answer(b"503 Service Unavailable", "too many open connections", b"retry-after: 1")
_HEADERS_TOO_SLOW = _plain_answer(b"408 Request Timeout", "the request headers came too slowly")


class ConnectionBudget:
    """The connections of one process: how many are open, and which wait for a request."""

    def __init__(self, *, max_connections: int, idle_timeout: float, header_timeout: float):
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.open = 0
        # Insertion-ordered, so the first is the one that has waited longest.
        self._waiting: dict[GuardedConnection, None] = {}

    def opened(self) -> bool:
        """Count a new connection in; False when no room can be made for it."""
        self.open += 1
        if self.open <= self.max_connections:
            return True
        oldest = next(iter(self._waiting), None)
        if oldest is None:
            return False
        oldest.drop()
        return True

    def closed(self, connection: "GuardedConnection") -> None:
        self.open -= 1
        self.stop_waiting(connection)

    def waiting(self, connection: "GuardedConnection") -> None:
        self._waiting.pop(connection, None)
        self._waiting[connection] = None

    def stop_waiting(self, connection: "GuardedConnection") -> None:
        self._waiting.pop(connection, None)


class _Coalesced:
    """The transport a request's answer is written through: what is written in one turn of
    the event loop is sent in one call, at the end of the turn or as the answer completes.

    Uvicorn writes a response's head as soon as the application starts it, and its body
    when it comes, a moment later in the same turn for any answer built whole.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GuardedConnection(HttpToolsProtocol):
    """Uvicorn's HTTP/1.1 connection, with clocks on the time it waits for a request."""

    budget: ConnectionBudget

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._heard_from = False
        self._waiting_since = 0.0
        self._counted = False
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # One for the connection: answers to pipelined requests leave in their order.
        self._answers = _Coalesced(transport, self.loop)
        self._counted = True
        if not self.budget.opened():
            transport.write(_REFUSED)
            transport.close()
            return
        self._wait_for_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted:
            self._counted = False
            self.budget.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a body nobody will read
        if not self._heard_from and self._deadline is not None:
            # The request has begun: its headers must be complete within `header_timeout` of
            # the moment the connection began to wait for it.
            self._heard_from = True
            self._disarm()
            self._deadline = self.loop.call_at(
                self._waiting_since + self.budget.header_timeout, self._headers_too_slow
            )
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        self.budget.stop_waiting(self)
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = self._answers  # type: ignore[assignment]

    def on_response_complete(self) -> None:
        # Before anything else reaches the socket: the end of the stream, another answer.
        self._answers.flush()
        unread_body = self.cycle is not None and self.cycle.more_body
        super().on_response_complete()
        if self.transport.is_closing() or self.pipeline:
            return
        self._unset_keepalive_if_required()
        if unread_body:
            self._linger()
        else:
            self._wait_for_request()

    def drop(self) -> None:
        """Close this connection to make room for another; it has no request under way."""
        self._disarm()
        self.budget.stop_waiting(self)
        if not self.transport.is_closing():
            self.transport.close()

    def _wait_for_request(self) -> None:
        self._heard_from = False
        self._waiting_since = self.loop.time()
        self.budget.waiting(self)
        self._arm(self.budget.idle_timeout, self.drop)

    def _headers_too_slow(self) -> None:
        self._deadline = None
        self.budget.stop_waiting(self)
        if not self.transport.is_closing():
            self.transport.write(_HEADERS_TOO_SLOW)
            self.transport.close()

    def _linger(self) -> None:
        """An answer went out before its request's body had arrived (a 404, a 413, a 401).

        Reading the rest would cost what refusing early saved; closing at once could reset the
        connection before the client reads the answer. So the answer is followed by the end of
        this side's stream, and what still arrives is dropped unread until the client closes,
        or for at most `idle_timeout`.
        """
        self._lingering = True
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(self.budget.idle_timeout, self.drop)

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def guarded_protocol(
    *, max_connections: int, idle_timeout: float, header_timeout: float
) -> type[GuardedConnection]:
    """A connection class for one server process, sharing one budget."""
    budget = ConnectionBudget(
        max_connections=max_connections, idle_timeout=idle_timeout, header_timeout=header_timeout
    )
    return type("Connection", (GuardedConnection,), {"budget": budget})


def connections_allowed(wanted: int) -> int:
    """Raise this process's open-file limit as far as the system lets it, and say how many
    client connections fit under it."""
    if sys.platform == "win32":
        return wanted
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and soft < target:
        new_soft = target if hard == resource.RLIM_INFINITY else min(target, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_FILES))
