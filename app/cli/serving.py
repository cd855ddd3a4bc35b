"""Running Tracer: migrate, serve, the worker, captures and the worked example."""

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.cli.base import cli, migrated_settings, opened
from app.cli.keys import create_key
from app.config import Settings, get_settings
from app.connections import connections_allowed, guarded_protocol
from app.db import create_engine
from app.demo import loader as demo
from app.demo.loader import DemoResult
from app.enums import Scope
from app.evidence.worker import capture_pending
from app.logs import configure_logging
from app.migrate import is_at_head

# Also loaded for what it registers: `tracer demo` records sightings, and the outlet flows
# follow every change of sightings.
from app.network import flows as _outlet_flows  # noqa: F401
from app.transactions import transaction
from app.worker import run_worker


async def _is_migrated(settings: Settings) -> bool:
    engine = create_engine(settings)
    try:
        return await is_at_head(engine)
    finally:
        await engine.dispose()


def _write_private(path: Path, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content + "\n")


def _first_admin_key(settings: Settings) -> str:
    """On a new embedded database, make an admin key so a newcomer can start at once."""
    if settings.bootstrap_admin_key is not None:
        return "  Admin key:  the one in TRACER_BOOTSTRAP_ADMIN_KEY"
    clear = None
    if settings.is_sqlite:
        clear = asyncio.run(create_key(settings, "first-admin", Scope.admin, only_if_none=True))
    if clear is not None:
        _write_private(settings.admin_key_file, clear)
        return (
            f"  Admin key:  {clear}\n"
            f"              (shown once; kept in {settings.admin_key_file}, readable only by you)"
        )
    if settings.admin_key_file.exists():
        return f"  Admin key:  in {settings.admin_key_file}"
    return "  Admin key:  create one with `tracer keys create --name NAME --scope admin`"


def _program() -> str:
    """How the user reached this command (`.venv/bin/tracer` under `make run`), to echo it back."""
    invoked = Path(sys.argv[0])
    return str(invoked) if invoked.name == "tracer" else "tracer"


@cli.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    migrated_settings()
    typer.echo("database is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database, then serve the API and deliver alerts."""
    settings = migrated_settings()
    key_line = _first_admin_key(settings)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown_host}:{port}"
    typer.echo(
        f"\nTracer is serving on {base}\n"
        f"  API docs:   {base}/docs  (OpenAPI: {base}/openapi.json)\n"
        f"  Pages:      {base}/ui/  (sign in with a key)\n"
        f"{key_line}\n"
        f'  Try:        curl -H "Authorization: Bearer $(cat {settings.admin_key_file})" '
        f"{base}/v1/claims\n"
        f"  More keys:  {_program()} keys create --name NAME --scope read|write|admin\n"
    )
    configure_logging(settings.log_level)
    max_connections = connections_allowed(settings.max_connections)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=guarded_protocol(
            max_connections=max_connections,
            idle_timeout=settings.idle_timeout_seconds,
            header_timeout=settings.header_timeout_seconds,
        ),
        # A burst of connections waits in the kernel's queue rather than being turned away.
        backlog=min(max_connections, 65_535),
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


async def _load_demo(settings: Settings) -> DemoResult:
    async with opened(settings) as sessionmaker, transaction(sessionmaker) as session:
        return await demo.load(session=session)


@cli.command("demo")
def load_demo() -> None:
    """Load the worked example: the "100,000 North Korean troops" chain and its denial."""
    result = asyncio.run(_load_demo(migrated_settings()))
    typer.echo(
        f"worked example: {result.created} sightings recorded, {result.already_there} already there"
    )
    for ref, claim_id in result.claim_ids.items():
        typer.echo(f"  claim {ref}: {claim_id}  (GET /v1/claims/{claim_id}/chain)")


@cli.command()
def worker() -> None:
    """Deliver alerts, beside `tracer serve` or on another machine; run as many as you like."""
    settings = get_settings()
    if not asyncio.run(_is_migrated(settings)):
        typer.echo(
            "the database is not migrated to this version of Tracer; run `tracer migrate` "
            "(or start `tracer serve`, which migrates) and start the worker again",
            err=True,
        )
        raise typer.Exit(2)
    configure_logging(settings.log_level)
    typer.echo("delivering alerts; stop with Ctrl-C")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings))


@cli.command()
def capture(
    pending: Annotated[bool, typer.Option("--pending", help="Sightings not fetched yet.")] = False,
) -> None:
    """Capture the sources of sightings not fetched yet: recorded before captures existed or
    while TRACER_CAPTURE was false."""
    if not pending:
        typer.echo("say which sightings to capture: tracer capture --pending", err=True)
        raise typer.Exit(2)
    counts = asyncio.run(capture_pending(migrated_settings()))
    typer.echo(", ".join(f"{count} {status}" for status, count in counts.items()))
