"""The `tracer` command."""

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.auth.models import ApiKey
from app.auth.service import COMMAND_LINE, any_key_exists
from app.claims import embeddings, matching
from app.claims import service as claims
from app.claims.models import Claim
from app.config import Settings, get_settings
from app.connections import connections_allowed, guarded_protocol
from app.db import create_engine, create_sessionmaker
from app.demo import loader as demo
from app.demo.loader import DemoResult
from app.enums import Scope
from app.errors import NotFound
from app.evidence.worker import capture_pending
from app.intake import importer
from app.keys import service as keys
from app.logs import configure_logging
from app.migrate import is_at_head, upgrade_to_head

# Also loaded for what it registers: `tracer import` and `tracer demo` record sightings, and
# the outlet flows follow every change of sightings.
from app.network import flows as _outlet_flows
from app.pagination import PageParams
from app.schemas import utc_z
from app.transactions import transaction
from app.worker import run_worker

cli = typer.Typer(help="Tracer: where a claim came from, where it went, and who denied it.")
keys_cli = typer.Typer(help="API keys.")
cli.add_typer(keys_cli, name="keys")


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


async def _is_migrated(settings: Settings) -> bool:
    engine = create_engine(settings)
    try:
        return await is_at_head(engine)
    finally:
        await engine.dispose()


async def _create_key(
    settings: Settings, name: str, scope: Scope, only_if_none: bool
) -> str | None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            if only_if_none and await any_key_exists(session=session):
                return None
            _, clear = await keys.create_key(
                session=session, name=name, scope=scope, actor=COMMAND_LINE
            )
            return clear
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
        clear = asyncio.run(_create_key(settings, "first-admin", Scope.admin, only_if_none=True))
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
    asyncio.run(_migrate(get_settings()))
    typer.echo("database is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Migrate the database, then serve the API and deliver alerts."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
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
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            return await demo.load(session=session)
    finally:
        await engine.dispose()


@cli.command("demo")
def load_demo() -> None:
    """Load the worked example: the "100,000 North Korean troops" chain and its denial."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    result = asyncio.run(_load_demo(settings))
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
    settings = get_settings()
    asyncio.run(_migrate(settings))
    counts = asyncio.run(capture_pending(settings))
    typer.echo(", ".join(f"{count} {status}" for status, count in counts.items()))


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what will use the key.")],
    scope: Annotated[Scope, typer.Option(help="read, write or admin.")],
) -> None:
    """Create an API key and print it; it is shown only this once."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    clear = asyncio.run(_create_key(settings, name, scope, only_if_none=False))
    typer.echo(f"created {scope.value} key {name!r}; it will not be shown again:")
    typer.echo(clear)


async def _all_keys(settings: Settings) -> list[ApiKey]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            found: list[ApiKey] = []
            cursor = None
            while True:
                page, cursor = await keys.list_keys(
                    session=session, page=PageParams(limit=500, cursor=cursor)
                )
                found += page
                if cursor is None:
                    return found
    finally:
        await engine.dispose()


@keys_cli.command("list")
def keys_list() -> None:
    """List every key, newest first, revoked ones included; never a key itself."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    found = asyncio.run(_all_keys(settings))
    if not found:
        typer.echo("no keys yet: `tracer keys create --name NAME --scope SCOPE` makes one")
        return
    typer.echo(f"{'id':36}  {'scope':5}  {'prefix':12}  {'created (UTC)':19}  {'revoked':7}  name")
    for key in found:
        revoked = key.revoked_at.strftime("%Y-%m-%d") if key.revoked_at else "-"
        created = key.created_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"{key.id:36}  {key.scope.value:5}  {key.prefix:12}  {created:19}  {revoked:7}  "
            f"{key.name}"
        )


async def _revoke_key(settings: Settings, key_id: str) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await keys.revoke_key(session=session, key_id=key_id, actor=COMMAND_LINE)
    finally:
        await engine.dispose()


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`tracer keys list`).")],
) -> None:
    """Revoke a key: it is refused from then on; revoking twice is harmless."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    try:
        asyncio.run(_revoke_key(settings, key_id))
    except NotFound as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"revoked key {key_id}")


async def _reindex(settings: Settings, batch: int) -> tuple[int, bool]:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            claim_ids = list(await session.scalars(select(Claim.id).order_by(Claim.id)))
        with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
            task = progress.add_task(f"reindexing {len(claim_ids)} claims", total=len(claim_ids))
            for start in range(0, len(claim_ids), batch):
                async with sessionmaker() as session, session.begin():
                    chunk = claim_ids[start : start + batch]
                    # Under the claims' locks, as every change of their sightings counts them.
                    await claims.lock(session=session, claim_ids=set(chunk))
                    await _outlet_flows.recount(session, chunk)
                    for claim_id in chunk:
                        await matching.reindex_claim(
                            session=session, claim_id=claim_id, embed=False
                        )
                    await matching.embed_pending(session=session)
                progress.advance(task, len(claim_ids[start : start + batch]))
        return len(claim_ids), matching.status()["matcher"] == "hybrid"
    finally:
        await engine.dispose()


@cli.command()
def reindex(
    batch: Annotated[int, typer.Option(help="Claims rebuilt per transaction.", min=1)] = 100,
) -> None:
    """Rebuild what claim matching keeps of every claim (its words and sentence vectors), and
    count every claim's outlet flows again."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    embeddings.configure(
        model_path=settings.embedding_model_path, threads=settings.embedding_threads
    )
    count, with_vectors = asyncio.run(_reindex(settings, batch))
    typer.echo(f"reindexed {count} claims")
    if not with_vectors:
        typer.echo(f"without sentence vectors: {matching.status().get('reason')}", err=True)
        raise typer.Exit(1)


async def _import(settings: Settings, source: importer.Source, name: str) -> importer.Summary:
    engine = create_engine(settings)
    columns = (
        *Progress.get_default_columns()[:2],
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("importing", total=source.count, rate="…")

            def advance(rows: int) -> None:
                progress.advance(task, rows)
                speed = progress.tasks[task].speed
                progress.update(task, rate=f"{speed:,.0f}" if speed else "…")

            return await importer.import_rows(
                sessionmaker=create_sessionmaker(engine),
                rows=source.read(),
                file_format=source.file_format,
                recorded_by=name,
                advance=advance,
            )
    finally:
        await engine.dispose()


@cli.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A CSV, NDJSON or ClaimReview JSON-LD file.")],
    recorded_by: Annotated[
        str | None, typer.Option(help="Who the sightings are recorded by; import:FILE if unset.")
    ] = None,
) -> None:
    """Record the sightings of a file; rows already recorded are counted, not stored twice."""
    try:
        source = importer.read_file(file)
    except importer.NotImportable as exc:
        typer.echo(f"{file}: {exc}; nothing was stored", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    asyncio.run(_migrate(settings))
    name = recorded_by or f"import:{file.name}"
    summary = asyncio.run(_import(settings, source, name))
    typer.echo(
        f"{file} ({source.file_format.value}, {source.count} rows): {summary.created} created, "
        f"{summary.duplicates} duplicates, {len(summary.errors)} errors"
    )
    for label, message in summary.errors:
        typer.echo(f"  {label}: {message}")
    if summary.stopped:
        typer.echo(summary.stopped, err=True)
    if not summary.complete:
        raise typer.Exit(1)


async def _history(settings: Settings, record_id: str) -> list[AuditEntry]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await audit.record_history(session=session, target_id=record_id)
    finally:
        await engine.dispose()


def _shown(value: object) -> str:
    return "—" if value is None or value == [] else str(value)


@cli.command()
def history(
    record_id: Annotated[str, typer.Argument(help="A sighting's or a claim's id.")],
) -> None:
    """Print a sighting's or a claim's history: every revision, who made it and why."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    entries = asyncio.run(_history(settings, record_id))
    if not entries:
        typer.echo(f"no sighting or claim with id {record_id!r} was ever recorded", err=True)
        raise typer.Exit(1)
    typer.echo(f"{entries[0].target_type} {record_id}, newest first:")
    for entry in entries:
        when = utc_z(entry.at)
        reason = f": {entry.reason}" if entry.reason else ""
        typer.echo(
            f"  revision {entry.revision}  {entry.action} {when} by {entry.key_name}{reason}"
        )
        for field, change in entry.changes.items():
            typer.echo(f"      {field}: {_shown(change.get('from'))} -> {_shown(change.get('to'))}")


def main() -> None:
    cli()
