"""The ledger from the command line: import a file, print a record's history, rebuild what is
derived from every claim."""

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from app.audit import service as audit
from app.audit.models import AuditEntry
from app.claims import embeddings, matching
from app.claims import service as claims
from app.claims.models import Claim
from app.cli.base import cli, migrated_settings, opened
from app.config import Settings
from app.intake import importer

# Also loaded for what it registers: `tracer import` records sightings, and the outlet flows
# follow every change of sightings.
from app.network import flows as _outlet_flows
from app.schemas import utc_z


async def _reindex(settings: Settings, batch: int) -> tuple[int, bool]:
    async with opened(settings) as sessionmaker:
        async with sessionmaker() as session:
            claim_ids = list(await session.scalars(select(Claim.id).order_by(Claim.id)))
        with Progress(disable=not sys.stderr.isatty(), transient=True) as progress:
            task = progress.add_task(f"reindexing {len(claim_ids)} claims", total=len(claim_ids))
            for start in range(0, len(claim_ids), batch):
                chunk = claim_ids[start : start + batch]
                async with sessionmaker() as session, session.begin():
                    # Under the claims' locks, as every change of their sightings counts them.
                    await claims.lock(session=session, claim_ids=set(chunk))
                    await _outlet_flows.recount(session, chunk)
                    for claim_id in chunk:
                        await matching.reindex_claim(
                            session=session, claim_id=claim_id, embed=False
                        )
                    await matching.embed_pending(session=session)
                progress.advance(task, len(chunk))
    return len(claim_ids), matching.status()["matcher"] == "hybrid"


@cli.command()
def reindex(
    batch: Annotated[int, typer.Option(help="Claims rebuilt per transaction.", min=1)] = 100,
) -> None:
    """Rebuild what claim matching keeps of every claim (its words and sentence vectors), and
    count every claim's outlet flows again."""
    settings = migrated_settings()
    embeddings.configure(
        model_path=settings.embedding_model_path, threads=settings.embedding_threads
    )
    count, with_vectors = asyncio.run(_reindex(settings, batch))
    typer.echo(f"reindexed {count} claims")
    if not with_vectors:
        typer.echo(f"without sentence vectors: {matching.status().get('reason')}", err=True)
        raise typer.Exit(1)


async def _import(settings: Settings, source: importer.Source, name: str) -> importer.Summary:
    columns = (
        *Progress.get_default_columns()[:2],
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
    )
    async with opened(settings) as sessionmaker:
        with Progress(*columns, disable=not sys.stderr.isatty()) as progress:
            task = progress.add_task("importing", total=source.count, rate="…")

            def advance(rows: int) -> None:
                progress.advance(task, rows)
                speed = progress.tasks[task].speed
                progress.update(task, rate=f"{speed:,.0f}" if speed else "…")

            return await importer.import_rows(
                sessionmaker=sessionmaker,
                rows=source.read(),
                file_format=source.file_format,
                recorded_by=name,
                advance=advance,
            )


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
    settings = migrated_settings()
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
    async with opened(settings) as sessionmaker, sessionmaker() as session:
        return await audit.record_history(session=session, target_id=record_id)


def _shown(value: object) -> str:
    return "—" if value is None or value == [] else str(value)


@cli.command()
def history(
    record_id: Annotated[str, typer.Argument(help="A sighting's or a claim's id.")],
) -> None:
    """Print a sighting's or a claim's history: every revision, who made it and why."""
    entries = asyncio.run(_history(migrated_settings(), record_id))
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
