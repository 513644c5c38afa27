"""Reading rows for one lookup: the workspace's connectors, primary keys, identity matches asked once each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..map import EMAIL, PHONE, DataMap, Dataset
from ..sources import digits_of
from ..workspace import Workspace

Row = dict[str, Any]
RowKey = tuple  # (dataset name, primary key tuple)


@dataclass
class Found:
    """Rows gathered during one lookup, per dataset, keyed by primary key, with how they were reached."""

    rows: dict[str, dict[tuple, Row]] = field(default_factory=dict)
    via: dict[str, list[str]] = field(default_factory=dict)

    def add(self, ds: Dataset, rows: Iterable[Row], via: str) -> dict[tuple, Row]:
        """Add rows; return the ones that were new."""
        bucket = self.rows.setdefault(ds.name, {})
        new = {}
        for r in rows:
            k = tuple(r[c] for c in ds.primary_key)
            if k not in bucket:
                bucket[k] = r
                new[k] = r
        if new:
            vias = self.via.setdefault(ds.name, [])
            if via not in vias:
                vias.append(via)
        return new

    def has(self, ds: str, key: tuple) -> bool:
        return key in self.rows.get(ds, {})


class Reader:
    """The data access of one lookup over an open workspace."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.dm: DataMap = ws.datamap
        self._identity_memo: dict[tuple[str, str, str], list[Row]] = {}

    def con(self, ds: Dataset):
        return self.ws.connector(ds.source)

    @staticmethod
    def key(ds: Dataset, row: Row) -> tuple:
        return tuple(row[c] for c in ds.primary_key)

    def select_in(self, ds: Dataset, column: str, values: Iterable[Any]) -> list[Row]:
        return self.con(ds).select_in(ds, column, values).dicts()

    def fetch_keys(self, ds: Dataset, keys: list[tuple]) -> list[Row]:
        if len(ds.primary_key) == 1:
            return self.select_in(ds, ds.primary_key[0], [k[0] for k in keys])
        wanted = {tuple(str(v) for v in k) for k in keys}
        first = self.select_in(ds, ds.primary_key[0], [k[0] for k in keys])
        return [r for r in first if tuple(str(r[c]) for c in ds.primary_key) in wanted]

    def norm(self, kind: str, value: Any) -> str:
        """An e-mail or phone number as lookup compares it (lower-cased; the last N digits)."""
        if kind == EMAIL:
            return str(value).strip().lower()
        return digits_of(str(value))[-self.dm.settings.phone_match_digits:]

    def identity_rows(self, ds: Dataset, kind: str, values: Iterable[str]) -> list[Row]:
        """Rows matching identity values, each (dataset, kind, value) queried once per lookup: the expansion
        step asks again for the values the seed step already searched."""
        values = sorted({self.norm(kind, v) if kind in (EMAIL, PHONE) else v.strip() for v in values})
        todo = [v for v in values if (ds.name, kind, v) not in self._identity_memo]
        if todo:
            rows = self.con(ds).select_identity(ds, kind, ds.identity_columns(kind), todo,
                                                self.dm.settings).dicts()
            if len(todo) == 1:
                self._identity_memo[(ds.name, kind, todo[0])] = rows
            else:  # several values in one scan: the result is kept for the set, not per value
                self._identity_memo[(ds.name, kind, "\x00".join(todo))] = rows
                values = [v for v in values if v not in todo] + ["\x00".join(todo)]
        out, seen = [], set()
        for v in values:
            for r in self._identity_memo.get((ds.name, kind, v), []):
                k = self.key(ds, r)
                if k not in seen:
                    seen.add(k)
                    out.append(r)
        return out
