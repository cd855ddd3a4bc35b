"""Reads as a dashboard fleet loads them: `wrk` against a real `tracer serve`, beside a bare
endpoint answering the same bytes.

    python -m bench.reads_wrk [--seconds 8] [--rounds 2] [--connections 16] [--postgres]

Needs `wrk` on the PATH (Debian: `apt-get install wrk`). Starts, on this machine, one
`tracer serve` process over a database holding the worked example and a claim with a chain of
1,000 sightings, and one bare FastAPI process (a single route returning constant bytes, no
middleware, no database: the ceiling this stack reaches here) served by uvicorn with the same
options. Then drives, in alternating rounds so that a busy moment of the machine falls on all
alike:

- bare: the denial report's bytes, then the chain's, from the bare process;
- `GET /v1/claims/{id}/denial` of the worked example's denied claim;
- `GET /v1/claims/{id}/chain` of the 1,000-sighting claim;
- the same denial report polled with `If-None-Match` (a dashboard that already has it).

Prints requests per second, each read as a share of the bare endpoint answering the same body
(goals: denial at least 50%, the 1,000-sighting chain at least 25%), and wrk's own CPU time, so
that a client near saturation shows itself. SQLite by default; `--postgres` uses a private
database on the server named by TRACER_BENCH_POSTGRES_URL.
"""

import argparse
import asyncio
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI, Response

from bench.harness import private_postgres_database

ADMIN_KEY = "trk_bench_admin_key_for_reads"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CHAIN_LENGTH = 1000
START = datetime(2023, 3, 1, tzinfo=UTC)

# The bare process: constant bytes read from files named in its environment.
bare = FastAPI()
_BODIES = {
    name: Path(os.environ[f"BENCH_BARE_{name.upper()}"]).read_bytes()
    for name in ("denial", "chain")
    if f"BENCH_BARE_{name.upper()}" in os.environ
}


@bare.get("/bare/{name}")
async def bare_endpoint(name: str) -> Response:
    return Response(_BODIES[name], media_type="application/json")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@asynccontextmanager
async def _process(command: list[str], env: dict[str, str], probe: str) -> AsyncIterator[None]:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await _wait_up(probe)
        yield
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


async def _seed(base: str) -> tuple[str, str]:
    """The worked example's denied claim, and a claim with a chain of 1,000 sightings."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
        claims = (await http.get("/v1/claims", params={"status": "denied"})).json()["items"]
        denied = claims[0]["id"]
        created = await http.post("/v1/claims", json={"statement": "A chain read by dashboards"})
        chain_claim = created.json()["id"]
        items = []
        for n in range(CHAIN_LENGTH):
            item: dict[str, object] = {
                "ref": f"s{n}",
                "claim_id": chain_claim,
                "outlet": {"slug": f"relay-{n % 40}", "name": f"Relay {n % 40}", "kind": "other"},
                "url": f"https://relay-{n % 40}.example/{n}",
                "published_at": (START + timedelta(minutes=n)).isoformat(),
                "stance": "reports",
            }
            if n:
                item["cites_refs"] = [f"s{(n - 1) // 2}"]
            items.append(item)
        answer = await http.post("/v1/sightings/batch", json={"items": items, "atomic": True})
        answer.raise_for_status()
    return denied, chain_claim


def _wrk(
    url: str, seconds: float, connections: int, headers: dict[str, str]
) -> tuple[float, float]:
    """wrk's requests per second at `url`, and the CPU seconds wrk itself used."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} answers were not 2xx/3xx\n{output}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert found, output
    return float(found.group(1)), cpu


async def _measure(url: str, args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRACER_")},
            "TRACER_DATABASE_URL": url,
            "TRACER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "TRACER_CAPTURE": "false",
            "TRACER_EVIDENCE_STORE": str(Path(tmp) / "evidence"),
            "TRACER_SECRET_KEY_FILE": str(Path(tmp) / "secret"),
            "TRACER_ADMIN_KEY_FILE": str(Path(tmp) / "admin-key"),
            # Every request counted, none refused: the limiter's cost is part of the figure.
            "TRACER_RATE_LIMIT": "100000000",
        }
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "app", "serve", "--port", str(port)]
        demo = [sys.executable, "-m", "app", "demo"]
        await asyncio.to_thread(subprocess.run, demo, env=env, check=True, capture_output=True)
        async with _process(serve, env, f"{base}/healthz"):
            denied, chain_claim = await _seed(base)
            auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
            targets = {
                "denial": (f"{base}/v1/claims/{denied}/denial", auth),
                "chain": (f"{base}/v1/claims/{chain_claim}/chain", auth),
            }
            bodies = {}
            async with httpx.AsyncClient(headers=auth, timeout=60) as http:
                for name, (target, _) in list(targets.items()):
                    answer = await http.get(target)
                    answer.raise_for_status()
                    bodies[name] = answer.content
                    etag = answer.headers.get("etag")
                    if name == "denial" and etag:
                        targets["denial_304"] = (target, {**auth, "If-None-Match": etag})
            bare_env = dict(env)
            for name, body in bodies.items():
                path = Path(tmp) / f"{name}.json"
                path.write_bytes(body)
                bare_env[f"BENCH_BARE_{name.upper()}"] = str(path)
            bare_port = _free_port()
            uvicorn = [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.reads_wrk:bare",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
            bare_base = f"http://127.0.0.1:{bare_port}"
            async with _process(uvicorn, bare_env, f"{bare_base}/bare/denial"):
                targets["bare_denial"] = (f"{bare_base}/bare/denial", {})
                targets["bare_chain"] = (f"{bare_base}/bare/chain", {})
                for target, headers in targets.values():  # warm up: connections, caches
                    _wrk(target, 1, args.connections, headers)
                figures = dict.fromkeys(targets, (0.0, 0.0))
                each = args.seconds / args.rounds
                for _ in range(args.rounds):
                    for name, (target, headers) in targets.items():
                        rate, cpu = _wrk(target, each, args.connections, headers)
                        total, used = figures[name]
                        figures[name] = (total + rate / args.rounds, used + cpu)
            figures["sizes"] = (float(len(bodies["denial"])), float(len(bodies["chain"])))
    return figures


async def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    started = time.perf_counter()
    if args.postgres:
        admin = os.environ.get("TRACER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        async with private_postgres_database(admin) as url:
            figures = await _measure(url, args)
        engine = "PostgreSQL"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            figures = await _measure(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args)
        engine = "SQLite"
    denial_size, chain_size = figures.pop("sizes")
    print(
        f"{engine}: wrk, {args.connections} connections, {args.seconds:g} s per target in "
        f"{args.rounds} alternating rounds; one server process each "
        f"({time.perf_counter() - started:.0f} s in all)"
    )
    print(f"  body sizes: denial {denial_size / 1024:.1f} KiB, chain {chain_size / 1024:.0f} KiB")
    for name, (rate, cpu) in figures.items():
        print(f"  {name:<12} {rate:9.0f} req/s   (wrk CPU {cpu / args.seconds:4.0%})")
    shares = [("denial", "bare_denial", 0.5), ("chain", "bare_chain", 0.25)]
    if "denial_304" in figures:
        shares.append(("denial_304", "bare_denial", 0.5))
    for name, against, goal in shares:
        share = figures[name][0] / figures[against][0]
        print(f"  {name} / {against}: {share:6.1%}   (goal >= {goal:.0%})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--postgres", action="store_true")
    asyncio.run(main(parser.parse_args()))
