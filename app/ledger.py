"""Which rows a read sees: the ledger as it stands now, or as it stood at a past moment.

Reads of chains, traces and denial reports select from the entities of a `LedgerView`,
`view[Model]`, instead of naming the models directly. `CURRENT` gives the models themselves,
the fast path for every read of today; a view `as_of` a past moment gives in their place
aliases over the current and history tables that hold what was true then, so the same query
code answers both. Which history table belongs to which model the domains declare themselves
(`app.versioning.history_of`); this module knows no domain.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, true
from sqlalchemy.orm import aliased

from app.db import Base
from app.versioning import RowFilter, at_moment, history_table, parts_at_moment


class LedgerView:
    """The ledger's entities at one moment (`as_of`), or today's when it is None.

    `within` narrows a past moment's rows of some models to those a read can use (a claim's
    sightings, their citations): the past is then assembled from those rows alone, through the
    indexes of the live and history tables, instead of from the whole ledger. Today's view
    ignores it: the live tables are read through their indexes already.
    """

    def __init__(
        self, as_of: datetime | None = None, within: dict[type[Base], RowFilter] | None = None
    ) -> None:
        self.as_of = as_of
        self.within = within or {}
        self._entities: dict[type[Base], Any] = {}

    def narrowed(self, within: dict[type[Base], RowFilter]) -> "LedgerView":
        """The same moment, its rows of these models only those matching their conditions."""
        if self.as_of is None:
            return self
        return LedgerView(self.as_of, {**self.within, **within})

    def __getitem__(self, model: type[Base]) -> Any:
        if self.as_of is None:
            return model
        # One alias per model and view: every query of a view must join the same entity.
        entity = self._entities.get(model)
        if entity is None:
            table = model.__table__
            assert isinstance(table, Table)
            past = at_moment(table, history_table(model), self.as_of, self.within.get(model))
            entity = aliased(model, past)
            self._entities[model] = entity
        return entity

    def parts(self, model: type[Base]) -> list[tuple[Table, ColumnElement[bool]]]:
        """The tables holding the model's rows in this view, each with the condition its rows
        meet: for a statement that must reach each table's own indexes, where a join to the
        union `view[model]` would not (a recursive walk on SQLite)."""
        table = model.__table__
        assert isinstance(table, Table)
        if self.as_of is None:
            return [(table, true())]
        return parts_at_moment(table, history_table(model), self.as_of, self.within.get(model))


CURRENT = LedgerView()


def as_of(moment: datetime | None) -> LedgerView:
    """The ledger as it stood at `moment`; today's when `moment` is None."""
    return CURRENT if moment is None else LedgerView(moment)
