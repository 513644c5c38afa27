"""Writes (rectification, erasure), a connector mixin: delete and update inside one transaction per source."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from ..errors import SourceError
from ..map import Dataset
from .types import CHUNK, Rows


class StoreWrites:
    """Every write goes through these operations, inside `transaction()`: one transaction per source, so a failure
    leaves each source fully changed or untouched. Values are parameters; columns come from the map."""


    def _require_writable(self) -> None:
        if self.read_only:
            raise SourceError(f"source '{self.source.name}' was opened read-only; open it for writing "
                              f"(Workspace.writer) to change data")

    @contextmanager
    def transaction(self) -> Iterator["StoreWrites"]:
        """Writes inside commit together at the end, or not at all if anything raises."""
        self._require_writable()
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def begin(self) -> None:
        self.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def _count_of(self, rows: Rows) -> int:
        return int(rows.rows[0][0]) if rows.rows and rows.rows[0] and rows.rows[0][0] is not None else 0

    def delete_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> int:
        """Delete the rows whose `column` holds one of `values`; returns how many."""
        self._require_writable()
        vals, n = self.coerce(dataset, column, values), 0
        for i in range(0, len(vals), CHUNK):
            part = vals[i:i + CHUNK]
            n += self._count_of(self.execute(
                f"DELETE FROM {self.relation(dataset)} WHERE {self.quote(column)} "
                f"IN ({self._placeholders(len(part))})", part))
        return n

    def update_in(self, dataset: Dataset, column: str, values: Iterable[Any], assignments: dict[str, Any]) -> int:
        """Set the same values (`assignments`: column -> value) on the rows whose `column` is in `values`."""
        self._require_writable()
        if not assignments:
            return 0
        sets = ", ".join(f"{self.quote(c)} = {self.param}" for c in assignments)
        vals, n = self.coerce(dataset, column, values), 0
        for i in range(0, len(vals), CHUNK):
            part = vals[i:i + CHUNK]
            n += self._count_of(self.execute(
                f"UPDATE {self.relation(dataset)} SET {sets} WHERE {self.quote(column)} "
                f"IN ({self._placeholders(len(part))})", [*assignments.values(), *part]))
        return n

    def update_rows(self, dataset: Dataset, key: str, changes: Sequence[tuple[Any, dict[str, Any]]]) -> int:
        """Per-row values: `changes` is [(key value, {column: new value})]. Rows with the same set of columns are
        updated together."""
        self._require_writable()
        groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
        for k, cols in changes:
            groups.setdefault(tuple(sorted(cols)), []).append((k, cols))
        n = 0
        for cols, items in groups.items():  # the generic form: one statement per row
            sets = ", ".join(f"{self.quote(c)} = {self.param}" for c in cols)
            sql = f"UPDATE {self.relation(dataset)} SET {sets} WHERE {self.quote(key)} = {self.param}"
            for k, values in items:
                n += self._count_of(self.execute(sql, [*(values[c] for c in cols), k]))
        return n
