"""SQL written once for both engines: expressions each engine is given in its own words, and
ways to keep a planner without fresh statistics on the plan a query was written for."""

from typing import Any

from sqlalchemy import Boolean, ColumnElement, CompoundSelect, Select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_array_contains(FunctionElement[bool]):
    """`json_array_contains(column, value)`: whether a JSON array column holds a string."""

    type = Boolean()
    inherit_cache = True
    name = "json_array_contains"


@compiles(json_array_contains, "postgresql")
def _json_array_contains_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    column, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST({column} AS JSONB) @> jsonb_build_array(CAST({value} AS TEXT)))"


@compiles(json_array_contains, "sqlite")
def _json_array_contains_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    column, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"


class not_indexed(FunctionElement[Any]):
    """`not_indexed(column)`: the column, which the database may not use an index to look up.

    Without fresh statistics (SQLite has none unless asked; PostgreSQL here runs without
    autovacuum), a planner may drive a join from the side an index makes look cheap and probe
    the other side once per pair of rows: quadratic in the chain. Written so that no index
    matches (SQLite's unary `+`, as its documentation advises; `COALESCE(x, x)` on
    PostgreSQL), the column is only checked on rows reached through the join's keys.
    """

    inherit_cache = True
    name = "not_indexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(not_indexed)
def _not_indexed(element: Any, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses.clauses[0], **kw)
    return f"COALESCE({column}, {column})"


@compiles(not_indexed, "sqlite")
def _not_indexed_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses.clauses[0], **kw))


class in_by_key(ColumnElement[bool]):
    """`column IN (values)`, each of the values looked up through the column's index.

    Without fresh statistics PostgreSQL may hash the values and scan the whole table for them
    instead; given them as one array computed before the scan (`= ANY(ARRAY(...))`), it can
    only look them up. SQLite looks up an IN list's values by index already.
    """

    inherit_cache = False
    type = Boolean()
    # A condition in itself: without it, SQLite's rendering compares it to 1, and the
    # comparison hides the IN from the planner, which then scans the table.
    _is_implicitly_boolean = True

    def __init__(self, column: Any, values: Select[Any] | CompoundSelect[Any]) -> None:
        self.column = column
        self.values = values.scalar_subquery()

    def get_children(self, **kw: Any) -> tuple[Any, ...]:
        return (self.column, self.values)


@compiles(in_by_key)
def _in_by_key(element: in_by_key, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.values, **kw)}"


@compiles(in_by_key, "postgresql")
def _in_by_key_postgresql(element: in_by_key, compiler: Any, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY(ARRAY{values})"


class Unindexed:
    """An entity whose columns read as `not_indexed`: for a condition written for an entity
    (such as a chain's `Members`) applied to the far side of a join."""

    def __init__(self, entity: Any) -> None:
        self._entity = entity

    def __getattr__(self, name: str) -> Any:
        return not_indexed(getattr(self._entity, name))
