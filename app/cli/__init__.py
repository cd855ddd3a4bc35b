"""The `tracer` command: each module registers its commands on the one `cli`."""

from app.cli import keys, records, serving
from app.cli.base import cli

__all__ = ["cli", "keys", "main", "records", "serving"]


def main() -> None:
    cli()
