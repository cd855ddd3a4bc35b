"""`tracer keys`: make, list and revoke API keys from the machine that runs Tracer."""

import asyncio
from typing import Annotated

import typer

from app.auth.models import ApiKey
from app.auth.service import COMMAND_LINE, any_key_exists
from app.cli.base import cli, migrated_settings, opened
from app.config import Settings
from app.enums import Scope
from app.errors import NotFound
from app.keys import service as keys
from app.pagination import PageParams
from app.transactions import transaction

keys_cli = typer.Typer(help="API keys.")
cli.add_typer(keys_cli, name="keys")


async def create_key(settings: Settings, name: str, scope: Scope, only_if_none: bool) -> str | None:
    """A new key in clear, or None when `only_if_none` and some key already exists."""
    async with opened(settings) as sessionmaker, transaction(sessionmaker) as session:
        if only_if_none and await any_key_exists(session=session):
            return None
        _, clear = await keys.create_key(
            session=session, name=name, scope=scope, actor=COMMAND_LINE
        )
        return clear


@keys_cli.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what will use the key.")],
    scope: Annotated[Scope, typer.Option(help="read, write or admin.")],
) -> None:
    """Create an API key and print it; it is shown only this once."""
    clear = asyncio.run(create_key(migrated_settings(), name, scope, only_if_none=False))
    typer.echo(f"created {scope.value} key {name!r}; it will not be shown again:")
    typer.echo(clear)


async def _all_keys(settings: Settings) -> list[ApiKey]:
    async with opened(settings) as sessionmaker, sessionmaker() as session:
        found: list[ApiKey] = []
        cursor = None
        while True:
            page, cursor = await keys.list_keys(
                session=session, page=PageParams(limit=500, cursor=cursor)
            )
            found += page
            if cursor is None:
                return found


@keys_cli.command("list")
def keys_list() -> None:
    """List every key, newest first, revoked ones included; never a key itself."""
    found = asyncio.run(_all_keys(migrated_settings()))
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
    async with opened(settings) as sessionmaker, transaction(sessionmaker) as session:
        await keys.revoke_key(session=session, key_id=key_id, actor=COMMAND_LINE)


@keys_cli.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`tracer keys list`).")],
) -> None:
    """Revoke a key: it is refused from then on; revoking twice is harmless."""
    settings = migrated_settings()
    try:
        asyncio.run(_revoke_key(settings, key_id))
    except NotFound as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"revoked key {key_id}")
