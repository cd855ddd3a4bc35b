"""Outlets across claims at scale: `GET /v1/network` and outlet records on PostgreSQL.

Builds a ledger of `--sightings` sightings over `--claims` claims and `--outlets` outlets
(default 1,000,000 / 20,000 / 10,000), and the same at a tenth of each (`--scales 0.1,1`), each
in a private database, bulk-loaded with COPY (outlets, claims, tags, sightings, citations) and
the outlet flows counted by the outlet_flows migration (timed: it is what an upgrade of an
existing ledger costs). It then serves Tracer as `tracer serve` in a subprocess and measures,
three times each, the whole network as JSON, the network of one tag and of the flows of at least
five citations, and (fifteen times each) the record of a typical outlet and of the busiest one:
time, bytes received, and the growth of the server's resident memory while the request ran.

Each claim spreads as a cascade: its first sighting is by one of a few hundred outlets that
start claims; every later one cites one or two earlier sightings, and is mostly by an outlet
that usually follows the cited one (ten followers each), now and then by any outlet. One claim
in ten is denied by an official outlet part way through.

Run on purpose, with `TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test`:
`python -m bench.network` (`--scales 0.01,0.1` for a quick run). Loading a million sightings takes
minutes: `--keep NAME` keeps each scale's database as `NAME_<sightings>` and a later run with the
same option reuses it (migrated to the current head, vacuumed and analysed); `--drop` drops them
at the end.
"""

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from alembic import command
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import create_engine
from app.migrate import alembic_config, upgrade_to_head
from app.urls import canonical_url
from bench.chain_at_scale import _free_port, _peak_growth
from bench.harness import _admin, private_postgres_database, wait_until_answering

KEY = "trk_bench_admin_key"
# The revision that creates and fills the outlet flows.
FLOWS_REVISION = "3b7f0d9e2a61"
START = datetime(2022, 1, 1, tzinfo=UTC)
FOLLOWERS = 10
OFFICIAL_SHARE = 0.05
STARTERS = 300
DENIED_SHARE = 0.1
TAGS = ["dprk", "donbass", "energy", "elections", "health"]
KINDS = ["news_outlet", "news_outlet", "social_account", "anonymous_channel", "broadcaster"]
STANCES = ["asserts", "reports", "reports", "questions"]
RECORD_TRIES = 15


@dataclass
class Size:
    sightings: int
    claims: int
    outlets: int


def _ledger(size: Size, rng: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table, in COPY's column order."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    outlets, kinds = [], []
    for n in range(size.outlets):
        kind = "official" if rng.random() < OFFICIAL_SHARE else rng.choice(KINDS)
        kinds.append(kind)
        slug = f"outlet-{n}"
        outlets.append(
            (
                str(uuid.UUID(int=rng.getrandbits(128))),
                slug,
                f"Outlet {n}",
                kind,
                "RU",
                None,
                None,
                "[]",
                slug,
                now,
                now,
                "bench",
                None,
                1,
                now,
                "bench",
                None,
                now,
            )
        )
    ids = [row[0] for row in outlets]
    officials = [n for n, kind in enumerate(kinds) if kind == "official"] or [0]
    followers = [[rng.randrange(size.outlets) for _ in range(FOLLOWERS)] for _ in ids]
    starters = rng.sample(range(size.outlets), min(STARTERS, size.outlets))
    claims, tags, sightings, citations = [], [], [], []
    per_claim = size.sightings // size.claims
    for c in range(size.claims):
        claim_id = str(uuid.UUID(int=rng.getrandbits(128)))
        statement = f"Claim number {c}"
        began = START + timedelta(seconds=rng.randrange(2 * 365 * 86400))
        claims.append(
            (
                claim_id,
                statement,
                statement.lower(),
                uuid.uuid5(uuid.NAMESPACE_OID, statement).hex
                + uuid.uuid5(uuid.NAMESPACE_URL, statement).hex,
                None,
                "en",
                f'["{TAGS[c % 5]}"]',
                None,
                now,
                now,
                "none",
                0,
                0,
                None,
                0,
                "bench",
                None,
                1,
                now,
                "bench",
                None,
                now,
            )
        )
        tags.append((claim_id, TAGS[c % len(TAGS)]))
        denied_at = rng.randrange(per_claim // 3, per_claim) if rng.random() < DENIED_SHARE else -1
        made: list[tuple[str, int, datetime]] = []
        for step in range(per_claim):
            at = began + timedelta(minutes=30 * step + rng.randrange(30))
            cited = (
                rng.sample(made[-20:], min(len(made[-20:]), rng.choice([1, 1, 2]))) if made else []
            )
            if step == denied_at:
                outlet, stance = rng.choice(officials), "denies"
            elif not cited:
                outlet, stance = rng.choice(starters), "asserts"
            else:
                source = cited[0][1]
                outlet = (
                    rng.choice(followers[source])
                    if rng.random() < 0.9
                    else rng.randrange(size.outlets)
                )
                stance = rng.choice(STANCES)
            sighting_id = str(uuid.UUID(int=rng.getrandbits(128)))
            url = f"https://outlet-{outlet}.example/{c}/{step}"
            sightings.append(
                (
                    sighting_id,
                    claim_id,
                    ids[outlet],
                    url,
                    canonical_url(url),
                    at,
                    "exact",
                    stance,
                    at,
                    "bench",
                    None,
                    1,
                    at,
                    "bench",
                    None,
                    at,
                )
            )
            citations += [(sighting_id, earlier, "cites", at) for earlier, _, _ in cited]
            made.append((sighting_id, outlet, at))
    return {
        "outlets": outlets,
        "claims": claims,
        "claim_tags": tags,
        "sightings": sightings,
        "citations": citations,
    }


COLUMNS = {
    "outlets": [
        "id",
        "slug",
        "name",
        "kind",
        "country",
        "language",
        "url",
        "aliases",
        "search_text",
        "created_at",
        "updated_at",
        "recorded_by",
        "recorded_by_key_id",
        "revision",
        "revised_at",
        "revised_by",
        "revised_by_key_id",
        "valid_from",
    ],
    "claims": [
        "id",
        "statement",
        "normalized",
        "fingerprint",
        "summary",
        "language",
        "tags",
        "variant_of",
        "created_at",
        "updated_at",
        "denial_status",
        "sightings_count",
        "outlets_count",
        "first_seen_at",
        "sightings_after_denial",
        "recorded_by",
        "recorded_by_key_id",
        "revision",
        "revised_at",
        "revised_by",
        "revised_by_key_id",
        "valid_from",
    ],
    "claim_tags": ["claim_id", "tag"],
    "sightings": [
        "id",
        "claim_id",
        "outlet_id",
        "url",
        "canonical_url",
        "published_at",
        "published_at_precision",
        "stance",
        "recorded_at",
        "recorded_by",
        "recorded_by_key_id",
        "revision",
        "revised_at",
        "revised_by",
        "revised_by_key_id",
        "valid_from",
    ],
    "citations": ["citing_id", "cited_id", "basis", "valid_from"],
}


def _recount_by_migration(connection: Any) -> None:
    config = alembic_config(connection)
    command.downgrade(config, f"{FLOWS_REVISION}-1")
    command.upgrade(config, "head")


async def _load(url: str, size: Size) -> tuple[str, str]:
    """Fill a migrated database; the slugs of a typical outlet and of the busiest one."""
    engine = create_engine(Settings(database_url=url))
    await upgrade_to_head(engine)
    rows = _ledger(size, random.Random(20261206))
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        for table, columns in COLUMNS.items():
            await connection.copy_records_to_table(table, records=rows[table], columns=columns)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    # The outlet flows of rows loaded behind the service's back are counted the way the
    # migration counts an existing ledger: down past it and up again, which also times it.
    began = time.perf_counter()
    async with engine.begin() as migrating:
        await migrating.run_sync(_recount_by_migration)
    print(f"  the outlet_flows migration counted the ledger in {time.perf_counter() - began:.0f} s")
    await engine.dispose()
    return await _outlets_to_read(url)


async def _outlets_to_read(url: str) -> tuple[str, str]:
    """After a VACUUM ANALYZE, as a deployment runs after a bulk load (the server's autovacuum
    would in time): the slugs of a typical outlet and of the busiest one."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        await connection.execute("VACUUM ANALYZE")
        counted = await connection.fetch(
            "SELECT o.slug, sum(d.sightings) AS n FROM outlet_days d JOIN outlets o "
            "ON o.id = d.outlet_id GROUP BY o.slug ORDER BY n, o.slug"
        )
    finally:
        await connection.close()
    return counted[len(counted) // 2]["slug"], counted[-1]["slug"]


async def _measure(
    http: httpx.AsyncClient, pid: int, path: str, repeat: int = 3, **params: Any
) -> list[Any]:
    times, size, growth, cpu = [], 0, [], []
    for _ in range(repeat):
        with _peak_growth(pid) as grew:
            began, used = time.perf_counter(), _cpu_seconds(pid)
            size = 0
            async with http.stream("GET", path, params=params) as response:
                assert response.status_code == 200, await response.aread()
                async for part in response.aiter_bytes():
                    size += len(part)
            times.append(time.perf_counter() - began)
            cpu.append(_cpu_seconds(pid) - used)
        growth.append(grew[0])
    return [min(times), statistics.median(times), size, max(growth), statistics.median(cpu)]


def _cpu_seconds(pid: int) -> float:
    """The processor time the server has used: unlike the time a request takes, hardly
    changed by other work on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(base: str, pid: int, typical: str, busiest: str) -> dict[str, list[Any]]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=600
    ) as http:
        await wait_until_answering(http, "/readyz", seconds=60)
        return {
            "network (all claims)": await _measure(http, pid, "/v1/network"),
            "network ?tag=dprk": await _measure(http, pid, "/v1/network", tag="dprk"),
            "network ?min_citations=5": await _measure(http, pid, "/v1/network", min_citations=5),
            # A record takes milliseconds, where a busy machine's noise is as large: more tries.
            "record, typical outlet": await _measure(
                http, pid, f"/v1/outlets/{typical}/record", RECORD_TRIES
            ),
            "record, busiest outlet": await _measure(
                http, pid, f"/v1/outlets/{busiest}/record", RECORD_TRIES
            ),
        }


def _serve_and_measure(url: str, typical: str, busiest: str) -> dict[str, list[Any]]:
    port = _free_port()
    env = {
        **os.environ,
        "TRACER_DATABASE_URL": url,
        "TRACER_BOOTSTRAP_ADMIN_KEY": KEY,
        "TRACER_CAPTURE": "false",
    }
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            return asyncio.run(_drive(f"http://127.0.0.1:{port}", server.pid, typical, busiest))
        finally:
            server.terminate()
            server.wait(timeout=60)


async def _one(admin_url: str, size: Size) -> dict[str, list[Any]]:
    async with private_postgres_database(admin_url) as url:
        began = time.perf_counter()
        typical, busiest = await _load(url, size)
        print(f"  loaded {size} in {time.perf_counter() - began:.0f} s", flush=True)
        return await asyncio.to_thread(_serve_and_measure, url, typical, busiest)


async def _loaded_as(admin_url: str, name: str) -> str | None:
    """The comment a finished load left on the database `name`, if it exists."""
    plain = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        comment: str | None = await connection.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            name,
        )
        return comment
    finally:
        await connection.close()


async def _kept(admin_url: str, size: Size, prefix: str) -> dict[str, list[Any]]:
    """`_one` on a database kept between runs: loaded once, then migrated to the current head."""
    name = f"{prefix}_{size.sightings}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    mark = f"bench.network {size}"
    if await _loaded_as(admin_url, name) == mark:
        print(f"  reusing the database {name}", flush=True)
        engine = create_engine(Settings(database_url=url))
        await upgrade_to_head(engine)
        await engine.dispose()
        typical, busiest = await _outlets_to_read(url)
    else:
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _admin(admin_url, f'CREATE DATABASE "{name}"')
        began = time.perf_counter()
        typical, busiest = await _load(url, size)
        await _admin(admin_url, f"COMMENT ON DATABASE \"{name}\" IS '{mark}'")
        print(f"  loaded {size} in {time.perf_counter() - began:.0f} s", flush=True)
    return await asyncio.to_thread(_serve_and_measure, url, typical, busiest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--outlets", type=int, default=10_000)
    parser.add_argument("--scales", default="0.1,1", help="comma-separated, the last the base")
    parser.add_argument("--keep", metavar="NAME", help="keep and reuse databases named NAME_*")
    parser.add_argument("--drop", action="store_true", help="drop the kept databases at the end")
    args = parser.parse_args()
    admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
    if not admin_url:
        print("(set TRACER_BENCH_POSTGRES_URL to a PostgreSQL server to run this benchmark)")
        return
    results = {}
    for scale in (float(s) for s in args.scales.split(",")):
        size = Size(
            int(args.sightings * scale),
            max(int(args.claims * scale), 1),
            max(int(args.outlets * scale), 1),
        )
        print(f"scale {scale}: {size}, load average {os.getloadavg()}", flush=True)
        if args.keep:
            results[scale] = asyncio.run(_kept(admin_url, size, args.keep))
            if args.drop:
                drop = f'DROP DATABASE IF EXISTS "{args.keep}_{size.sightings}" WITH (FORCE)'
                asyncio.run(_admin(admin_url, drop))
        else:
            results[scale] = asyncio.run(_one(admin_url, size))
    print(f"load average at the end {os.getloadavg()}")
    print("\n| scale | request | best | median | server CPU | bytes | server memory growth |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for scale, figures in results.items():
        for name, (best, median, size, growth, cpu) in figures.items():
            print(
                f"| {scale} | {name} | {best * 1000:.0f} ms | {median * 1000:.0f} ms | "
                f"{cpu * 1000:.0f} ms | {size:,} | {growth / 2**20:.1f} MiB |"
            )
    scales = list(results)
    if len(scales) > 1:
        small, large = results[scales[0]], results[scales[-1]]
        print(f"\nratio of the {scales[-1]} scale to the {scales[0]} scale (median times):")
        for name in large:
            print(
                f"  {name}: {large[name][1] / small[name][1]:.2f}x "
                f"(server CPU {large[name][4] / max(small[name][4], 1e-3):.2f}x)"
            )


if __name__ == "__main__":
    main()
