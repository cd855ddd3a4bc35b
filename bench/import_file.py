"""`tracer import` of a large CSV: time, rows per second and peak memory, then a rerun.

    python -m bench.import_file [--rows 1000000] [--claims 2000] [--outlets 500] [--postgres]

Writes a CSV of `rows` sightings (claims told inline, outlets created by their first row, 70%
titled), imports it with `python -m app import` into a fresh database, then imports it again:
the rerun must record nothing. Peak resident memory is the importing process's own.
"""

import argparse
import asyncio
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import private_postgres_database

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
COLUMNS = [
    "claim",
    "outlet",
    "outlet_name",
    "outlet_kind",
    "url",
    "published_at",
    "stance",
    "title",
]


def write_csv(path: Path, rows: int, claims: int, outlets: int) -> None:
    chooser = random.Random(11)
    start = datetime(2022, 8, 1, tzinfo=UTC)
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for n in range(rows):
            claim, outlet = chooser.randrange(claims), chooser.randrange(outlets)
            title = f"Report {n} on claim {claim}" if chooser.random() < 0.7 else ""
            writer.writerow(
                [
                    f"Imported claim {claim} about the grain corridor",
                    f"outlet-{outlet}",
                    f"Outlet {outlet}",
                    "news_outlet",
                    f"https://example.org/{n}",
                    (start + timedelta(minutes=n)).isoformat(),
                    "reports",
                    title,
                ]
            )


def run_import(url: str, path: Path) -> tuple[float, float, str]:
    """Seconds, peak resident MB and the summary line of one `tracer import`."""
    env = {**os.environ, "TRACER_DATABASE_URL": url}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "import", str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - started
    assert process.stdout is not None
    summary = process.stdout.readline().strip()
    assert os.waitstatus_to_exitcode(status) == 0, summary
    # ru_maxrss is in kilobytes on Linux.
    return took, usage.ru_maxrss / 1024, summary


def report(url: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "sightings.csv"
        write_csv(path, args.rows, args.claims, args.outlets)
        size = path.stat().st_size / 2**20
        print(f"{args.rows:,} rows, {size:.0f} MB of CSV, {url.split(':', 1)[0]}")
        for name in ("first import", "rerun"):
            took, peak, summary = run_import(url, path)
            print(
                f"{name:12}: {took:7.1f} s  {args.rows / took:8,.0f} rows/s  "
                f"peak RSS {peak:6.0f} MB  | {summary.split(': ', 1)[-1]}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--outlets", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        admin = os.environ.get("TRACER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)

        async def database() -> None:
            async with private_postgres_database(admin) as url:
                await asyncio.to_thread(report, url, args)

        asyncio.run(database())
        return
    with tempfile.TemporaryDirectory() as scratch:
        report(f"sqlite+aiosqlite:///{Path(scratch) / 'import.db'}", args)


if __name__ == "__main__":
    main()
