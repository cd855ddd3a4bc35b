"""A real HTTP server on 127.0.0.1 for fetching tests, answering each path as a test scripts it.

It speaks HTTP/1.1 over raw sockets so that tests can send what no framework would: a body
that never ends, a byte a second, a gzip bomb, an answer that never comes.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"HTTP/1.1 {status} Status\r\n{lines}connection: close\r\n\r\n".encode("latin-1")


def page(
    body: bytes, *, status: int = 200, content_type: str = "text/html; charset=utf-8", **extra: str
) -> Handler:
    async def answer(writer: asyncio.StreamWriter) -> None:
        headers = {"content-type": content_type, "content-length": str(len(body))}
        headers.update({k.replace("_", "-"): v for k, v in extra.items()})
        writer.write(head(status, headers) + body)
        await writer.drain()

    return answer


def redirect(location: str, *, status: int = 302, **extra: str) -> Handler:
    return page(b"<a href='elsewhere'>moved</a>", status=status, location=location, **extra)


def raw(data: bytes) -> Handler:
    """Exactly these bytes, then the connection closed: nothing at all, or not HTTP."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return answer


def silent() -> Handler:
    async def answer(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    return answer


def dribble(every: float) -> Handler:
    """Headers at once, then one byte of a long body every `every` seconds."""

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(head(200, {"content-type": "text/html", "content-length": "1000"}))
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(every)

    return answer


def endless(*, declared: int | None = None) -> Handler:
    """A body that goes on until the client leaves, with or without a Content-Length."""
    piece = b"0123456789abcdef" * 4096

    async def answer(writer: asyncio.StreamWriter) -> None:
        headers = {"content-type": "application/octet-stream"}
        if declared is not None:
            headers["content-length"] = str(declared)
        writer.write(head(200, headers))
        while True:
            writer.write(piece)
            await writer.drain()

    return answer


def after(seconds: float, handler: Handler) -> Handler:
    async def answer(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(seconds)
        await handler(writer)

    return answer


class Pages:
    """Answers each path with its handler (404 for others) and remembers what it was asked."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        # Requests waiting for their handler at once: at most, and now.
        self.most_busy = 0
        self._busy = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, path: str) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}{path}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, 0)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request_line = (await reader.readline()).decode("latin-1")
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            path = request_line.split(" ")[1] if request_line.count(" ") >= 2 else ""
            self.seen.append(Seen(path, headers))
            handler = self.routes.get(path, page(b"<h1>Not found</h1>", status=404))
            self._busy += 1
            self.most_busy = max(self.most_busy, self._busy)
            try:
                await handler(writer)
            finally:
                self._busy -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels a handler; ending quietly keeps asyncio from logging it.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
