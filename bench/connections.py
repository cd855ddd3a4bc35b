"""A flood of connections that say nothing, or say it slowly, against one `tracer serve`.

    python -m bench.connections [--idle 2000] [--slow 200] [--seconds 15] [--before]

Starts `tracer serve` on a private SQLite database, then, from 127.0.0.1 like everyone else:

- opens `--idle` connections that never send a byte, and `--slow` connections that send a
  request line and then one header line a second, never finishing;
- meanwhile, four times a second on a new connection each, asks `GET /healthz` and an
  authenticated `GET /v1/claims`, and records how long each answer took (goal: within 1 s);
- records when the server closed each idle connection (goal: within 10 s) and each slow one.

Prints latency percentiles, failures, close times and the server's resident memory. First,
`--bodies` (20) bodies of 10 MiB are sent at once to a path no route serves, and the server's
memory is watched while they are answered. `--before`
runs the server as `tracer serve` ran it until now (uvicorn's `limit_concurrency=1000`,
keep-alive timeout only), for comparison; `--max-connections N` sets a lower connection limit
than the flood, to see the longest-waiting connections make room.
"""

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.api_overhead import _free_port

ADMIN_KEY = "trk_bench_admin_key_connections"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start(
    folder: Path, port: int, before: bool, max_connections: int | None
) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACER_")},
        "TRACER_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'tracer.db'}",
        "TRACER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "TRACER_ADMIN_KEY_FILE": str(folder / "admin-key"),
        "TRACER_SECRET_KEY_FILE": str(folder / "secret-key"),
        "TRACER_LOG_LEVEL": "WARNING",
    }
    if max_connections is not None:
        env["TRACER_MAX_CONNECTIONS"] = str(max_connections)
    subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, check=True)
    if before:
        command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
        command += ["--limit-concurrency", "1000", "--timeout-keep-alive", "5"]
        command += ["--log-level", "warning"]
    else:
        command = [sys.executable, "-m", "app", "serve"]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _wait_ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        for _ in range(1200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("tracer serve did not start")


async def _idle(port: int, closed_after: list[float], stop: asyncio.Event) -> None:
    # Timed from before the connection is opened: the figure is an upper bound.
    opened = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    read = asyncio.ensure_future(reader.read(1))
    stopped = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([read, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if read in done:
        closed_after.append(time.monotonic() - opened)
    else:
        read.cancel()
    writer.close()


async def _slow(port: int, closed_after: list[float], stop: asyncio.Event) -> None:
    opened = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/claims HTTP/1.1\r\nHost: tracer\r\n")
    read = asyncio.ensure_future(reader.read(4096))
    while not stop.is_set():
        done, _ = await asyncio.wait([read], timeout=1.0)
        if done:
            closed_after.append(time.monotonic() - opened)
            break
        try:
            writer.write(b"X-Slowly: 1\r\n")
            await writer.drain()
        except OSError:
            closed_after.append(time.monotonic() - opened)
            break
    read.cancel()
    writer.close()


def _probe(http: httpx.Client, path: str, headers: dict[str, str]) -> float | None:
    started = time.monotonic()
    try:
        response = http.get(path, headers=headers)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return time.monotonic() - started


def _probing(base: str, seconds: float) -> dict[str, list[float | None]]:
    """Probes from a thread of their own, each on a new connection, as a newcomer would."""
    results: dict[str, list[float | None]] = {"/healthz": [], "/v1/claims": []}
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=10, limits=no_reuse) as http:
        while time.monotonic() < deadline:
            results["/healthz"].append(_probe(http, "/healthz", {}))
            results["/v1/claims"].append(_probe(http, "/v1/claims", auth))
            time.sleep(0.25)
    return results


def _summary(name: str, timings: list[float | None]) -> str:
    answered = sorted(t for t in timings if t is not None)
    failed = len(timings) - len(answered)
    if not answered:
        return f"  {name:<12} {len(timings)} probes, all failed"
    p50 = statistics.median(answered)
    p95 = answered[int(0.95 * (len(answered) - 1))]
    over = sum(1 for t in answered if t > 1.0)
    return (
        f"  {name:<12} {len(timings)} probes: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"max {answered[-1] * 1000:.0f} ms; over 1 s: {over}; failed or not 200: {failed}"
    )


def _closes(name: str, count: int, closed_after: list[float]) -> str:
    if not closed_after:
        return f"  {name:<12} {count} opened, none closed by the server during the run"
    ordered = sorted(closed_after)
    return (
        f"  {name:<12} {count} opened, {len(ordered)} closed by the server after "
        f"min {ordered[0]:.1f} s, median {statistics.median(ordered):.1f} s, "
        f"max {ordered[-1]:.1f} s"
    )


async def _unread_bodies(base: str, pid: int, count: int) -> None:
    """`count` bodies of 10 MiB at once to a path no route serves."""
    body = b"[" + b" " * (10 * 2**20 - 2) + b"]"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
    rss_before = peak = _rss_mb(pid)
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:

        async def send() -> str:
            try:
                response = await http.post("/v1/nowhere/batch", content=body, headers=headers)
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return str(response.status_code)

        sending = asyncio.gather(*(send() for _ in range(count)))
        while not sending.done():
            peak = max(peak, _rss_mb(pid))
            await asyncio.sleep(0.05)
    answers = sending.result()
    print(
        f"{count} bodies of 10 MiB at once to an unknown path: answers "
        f"{ {a: answers.count(a) for a in set(answers)} } in {time.monotonic() - started:.1f} s; "
        f"server memory {rss_before:.0f} MB before, {peak:.0f} MB at the peak"
    )


async def _flood(port: int, pid: int, idle: int, slow: int, seconds: float, bodies: int) -> None:
    base = f"http://127.0.0.1:{port}"
    await _wait_ready(base)
    if bodies:
        await _unread_bodies(base, pid, bodies)
    rss_before = _rss_mb(pid)
    stop = asyncio.Event()
    idle_closed: list[float] = []
    slow_closed: list[float] = []
    opened = time.monotonic()
    flood = [asyncio.ensure_future(_idle(port, idle_closed, stop)) for _ in range(idle)]
    flood += [asyncio.ensure_future(_slow(port, slow_closed, stop)) for _ in range(slow)]
    probing = asyncio.ensure_future(asyncio.to_thread(_probing, base, seconds))
    peak = rss_before
    while not probing.done():
        peak = max(peak, _rss_mb(pid))
        await asyncio.sleep(0.2)
    stop.set()
    results = probing.result()
    await asyncio.gather(*flood, return_exceptions=True)
    print(
        f"flood of {idle} idle and {slow} slow-header connections from 127.0.0.1, "
        f"probed for {seconds:g} s (the run took {time.monotonic() - opened:.0f} s)"
    )
    for path, timings in results.items():
        print(_summary(path, timings))
    print(_closes("idle", idle, idle_closed))
    print(_closes("slow-header", slow, slow_closed))
    print(f"  server memory: {rss_before:.0f} MB before, {peak:.0f} MB at the peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--bodies", type=int, default=20, help="10 MiB bodies to an unknown path")
    parser.add_argument("--before", action="store_true", help="serve as before this change")
    parser.add_argument(
        "--max-connections", type=int, help="TRACER_MAX_CONNECTIONS (default: the server's)"
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.idle + args.slow + 500
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        server = _start(Path(folder), port, args.before, args.max_connections)
        try:
            asyncio.run(_flood(port, server.pid, args.idle, args.slow, args.seconds, args.bodies))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
