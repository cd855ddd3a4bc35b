"""A real HTTP receiver on 127.0.0.1 for webhook tests, with a scriptable answer."""

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: bytes = b""


Script = Callable[[int, dict[str, str]], Reply]


class Receiver:
    """Answers every POST with `script(n, headers)`, n counting requests from 1."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: Script = lambda _n, _headers: Reply()
        self._server: asyncio.Server | None = None
        self._count = 0
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for handler in list(self._handlers):
                handler.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()

    @property
    def arrived(self) -> int:
        """Requests received so far, including those still waiting for their answer."""
        return self._count

    def succeeded(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        try:
            await reader.readline()
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self._count += 1
            reply = self.script(self._count, headers)
            if reply.delay:
                await asyncio.sleep(reply.delay)
            self.requests.append(Received(headers, body, reply.status, time.monotonic()))
            extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
            writer.write(
                f"HTTP/1.1 {reply.status} Answer\r\ncontent-length: {len(reply.body)}\r\n"
                f"connection: close\r\n{extra}\r\n".encode()
                + reply.body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(handler)
            writer.close()


async def eventually(check: Callable[[], bool], seconds: float = 15.0) -> None:
    """Wait until `check()` holds, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
