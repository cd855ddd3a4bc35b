"""Every import in app/ goes down the layer order written in docs/architecture.md.

The order is the one below, bottom first: a module may import what is listed before its own
package, never what comes after it. Imports inside functions and under TYPE_CHECKING count
too, since a lazy import that goes up is still a dependency that goes up.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

LAYERS: list[tuple[str, list[str]]] = [
    (
        "kernel",
        [
            "config",
            "enums",
            "columns",
            "request_ids",
            "streaming",
            "netguard",
            "urls",
            "validators",
            "migrate",
            "metrics",
            "observing",
            "db",
            "portable",
            "errors",
            "collisions",
            "logs",
            "input_guard",
            "limits",
            "connections",
            "openapi",
            "schemas",
            "deps",
            "pagination",
            "versioning",
            "ledger",
            "ratelimit",
        ],
    ),
    (
        "platform",
        ["outbox", "transactions", "derived", "auth", "audit", "keys", "idempotency", "revisions"],
    ),
    (
        "domains",
        [
            "outlets",
            "sightings",
            "claims",
            "evidence",
            "recording",
            "denials",
            "chains",
            "network",
            "intake",
            "url_info",
        ],
    ),
    ("delivery", ["alerts"]),
    ("pages", ["ui", "demo"]),
    ("shell", ["worker", "health", "front", "main", "cli", "models", "__main__"]),
]
ORDER = [unit for _, units in LAYERS for unit in units]


def _unit(module: str) -> str | None:
    """The package or top-level module of app/ that `module` belongs to."""
    parts = module.split(".")
    if parts[0] != "app" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> list[str]:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file, at any depth."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target == "app":
                # `from app import outbox` imports the unit `outbox`.
                for alias in node.names:
                    yield node.lineno, f"app.{alias.name}"
            else:
                yield node.lineno, target


def _upward_imports() -> list[str]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        source = _unit(".".join(_module_name(path)))
        if source is None:
            continue
        for line, imported in _imports(path):
            target = _unit(imported)
            if target is None or target == source:
                continue
            if ORDER.index(target) > ORDER.index(source):
                where = path.relative_to(APP.parent)
                found.append(f"{where}:{line} imports {imported} ({source} is below {target})")
    return found


def test_every_package_has_its_place_in_the_order() -> None:
    units = {p.stem if p.is_file() else p.name for p in APP.iterdir()}
    units = {u for u in units if not u.startswith((".", "_")) or u == "__main__"}
    units -= {"__pycache__", "static", "templates"}
    missing = sorted(units - set(ORDER))
    assert not missing, f"add these to LAYERS and to docs/architecture.md: {missing}"
    assert len(ORDER) == len(set(ORDER))


def test_every_import_goes_down() -> None:
    assert _upward_imports() == []


def test_the_written_order_is_the_tested_one() -> None:
    written = (APP.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for _, units in LAYERS:
        for unit in units:
            assert f"`{unit}`" in written, f"docs/architecture.md does not place `{unit}`"
