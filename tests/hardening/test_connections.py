"""Connections that hold a socket and say nothing, or say it slowly, against `tracer serve`.

The full sizes (2,000 idle and 200 slow connections) are in bench/connections.py; here a few
dozen, with the limits set low by configuration so that every one of them is reached.
"""

import select
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.processes import serve_process, tracer_env

# Every wait below is a bound for failing, far above what passing needs.
PATIENCE = 15.0


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[str]:
    env = tracer_env(
        database_url,
        tmp_path,
        TRACER_IDLE_TIMEOUT_SECONDS="1",
        TRACER_HEADER_TIMEOUT_SECONDS="2",
        TRACER_MAX_CONNECTIONS="40",
        TRACER_DISPATCH_IN_APP="false",
    )
    with serve_process(env) as base:
        yield base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=PATIENCE)


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _idle_and_slow_connections_leave_others_answered_and_are_closed(served: str) -> None:
    with ExitStack() as stack:
        idle = [stack.enter_context(_connect(served)) for _ in range(50)]
        slow = [stack.enter_context(_connect(served)) for _ in range(10)]
        for sock in slow:
            sock.sendall(b"GET /v1/claims HTTP/1.1\r\nHost: tracer\r\n")

        # More sockets than TRACER_MAX_CONNECTIONS are open, none with a request: others are
        # still let in and answered.
        with httpx.Client(base_url=served, timeout=PATIENCE) as http:
            health = http.get("/healthz")
            read = http.get("/v1/claims", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        assert health.status_code == 200
        assert read.status_code == 200

        # A socket that never sends a byte is closed without an answer.
        assert _read_until_closed(idle[-1]) == b""

        # A request whose headers trickle in, a line at a time, is cut off with 408.
        trickling = stack.enter_context(_connect(served))
        trickling.sendall(b"GET /v1/claims HTTP/1.1\r\n")
        for _ in range(int(PATIENCE / 0.5)):
            if select.select([trickling], [], [], 0.5)[0]:
                break
            trickling.sendall(b"X-Slow: 1\r\n")
        answer = _read_until_closed(trickling)
        assert answer.startswith(b"HTTP/1.1 408 ")


def test_idle_slow_and_unread_requests_hold_nothing_up(served: str) -> None:
    """One `tracer serve` per engine serves both checks: a start is slow."""
    _idle_and_slow_connections_leave_others_answered_and_are_closed(served)
    _a_body_for_an_unknown_path_is_not_waited_for(served)
    _pipelined_requests_are_answered_whole_and_in_order(served)
    _a_stream_s_first_part_arrives_while_it_stays_open(served)


def _a_body_for_an_unknown_path_is_not_waited_for(served: str) -> None:
    with _connect(served) as sock:
        # Headers promising 10 MiB on a path no route serves, then nothing more.
        sock.sendall(
            b"POST /v1/nowhere/batch HTTP/1.1\r\nHost: tracer\r\n"
            b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n"
        )
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 404 ")
    assert b"application/problem+json" in answer


def _pipelined_requests_are_answered_whole_and_in_order(served: str) -> None:
    # An answer's head and body leave the server in one write: two requests sent at once must
    # still get two complete answers, the first one's first.
    with _connect(served) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: tracer\r\n\r\n"
            b"GET /v1/claims/nowhere HTTP/1.1\r\nHost: tracer\r\n"
            b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\nConnection: close\r\n\r\n"
        )
        answer = _read_until_closed(sock)
    first, _, second = answer.partition(b"HTTP/1.1 404 ")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert first.endswith(b"}")
    assert b"application/problem+json" in second


def _a_stream_s_first_part_arrives_while_it_stays_open(served: str) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b"GET /v1/events/stream HTTP/1.1\r\nHost: tracer\r\n"
            b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\n\r\n"
        )
        received = b""
        while b"retry:" not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 ")
