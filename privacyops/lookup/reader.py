"""Reading rows for one lookup: the workspace's connectors, primary keys, identity matches asked once each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ..map import EMAIL, IMPLICIT_PARTY, PHONE, DataMap, Dataset, Party, Reference
from ..sources import digits_of
from ..workspace import Workspace

Row = dict[str, Any]
RowKey = tuple  # (dataset name, primary key tuple)


@dataclass
class Found:
    """Rows gathered during one lookup, per dataset, keyed by primary key: how they were reached, the party the
    person is in each row, and whether the person owns it (only owned rows are walked down from)."""

    rows: dict[str, dict[tuple, Row]] = field(default_factory=dict)
    via: dict[str, list[str]] = field(default_factory=dict)
    role: dict[RowKey, str] = field(default_factory=dict)  # (dataset, key) -> party name
    owned: set[RowKey] = field(default_factory=set)
    co_owned: set[RowKey] = field(default_factory=set)  # owned rows other people own too (a shared address)

    def add(self, ds: Dataset, rows: Iterable[Row], via: str, role: str = IMPLICIT_PARTY,
            owns: bool = True) -> dict[tuple, Row]:
        """Add rows; return the ones that are new, or newly owned (a row the person appeared in and turns out to
        own: the owner's role wins)."""
        bucket = self.rows.setdefault(ds.name, {})
        new = {}
        for r in rows:
            k = tuple(r[c] for c in ds.primary_key)
            rid = (ds.name, k)
            if k in bucket and (rid in self.owned or not owns):
                continue
            bucket[k] = r
            self.role[rid] = role
            if owns:
                self.owned.add(rid)
            new[k] = r
        if new:
            vias = self.via.setdefault(ds.name, [])
            if via not in vias:
                vias.append(via)
        return new

    def has(self, ds: str, key: tuple) -> bool:
        return key in self.rows.get(ds, {})

    def owns(self, ds: str, key: tuple) -> bool:
        return (ds, key) in self.owned

    def owned_values(self, ds: str, column: str) -> set[str]:
        """The values of `column` in the rows of `ds` the person owns (as text: stores differ in types)."""
        return {str(r.get(column)) for k, r in self.rows.get(ds, {}).items() if (ds, k) in self.owned}


class Reader:
    """The data access of one lookup over an open workspace."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.dm: DataMap = ws.datamap
        self._identity_memo: dict[tuple, list[Row]] = {}

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

    def identity_rows(self, ds: Dataset, kind: str, values: Iterable[str],
                      columns: tuple[str, ...] | None = None) -> list[Row]:
        """Rows whose identity `columns` (default: all of the dataset's for `kind`) match one of `values`, each
        (dataset, kind, columns, value) queried once per lookup: the expansion step asks again for the values the
        seed step already searched."""
        columns = ds.identity_columns(kind) if columns is None else columns
        values = sorted({self.norm(kind, v) if kind in (EMAIL, PHONE) else v.strip() for v in values})
        memo = (ds.name, kind, columns)
        todo = [v for v in values if memo + (v,) not in self._identity_memo]
        if todo:
            rows = self.con(ds).select_identity(ds, kind, columns, todo, self.dm.settings).dicts()
            if len(todo) == 1:
                self._identity_memo[memo + (todo[0],)] = rows
            else:  # several values in one scan: the result is kept for the set, not per value
                self._identity_memo[memo + ("\x00".join(todo),)] = rows
                values = [v for v in values if v not in todo] + ["\x00".join(todo)]
        out, seen = [], set()
        for v in values:
            for r in self._identity_memo.get(memo + (v,), []):
                k = self.key(ds, r)
                if k not in seen:
                    seen.add(k)
                    out.append(r)
        return out


def identity_groups(ds: Dataset, kind: str) -> list[tuple[Party | None, tuple[str, ...]]]:
    """Who an identity of `kind` names in a row of `ds`: (party, its columns of that kind). Columns no named party
    lists belong to the owner (None: no party owns the row)."""
    if not ds.named_parties:
        cols = ds.identity_columns(kind)
        return [(ds.parties[0] if ds.parties else None, cols)] if cols else []
    groups = [(p, p.identities[kind]) for p in ds.parties if p.identities.get(kind)]
    claimed = {c for _, cols in groups for c in cols}
    rest = tuple(c for c in ds.identity_columns(kind) if c not in claimed)
    return groups + ([(ds.owner_party, rest)] if rest else [])


@dataclass
class Person:
    """The person a lookup is about: their row in a subject dataset, when they have one (else they are known only
    by their identifiers, e.g. a guest named by e-mail)."""

    dataset: str | None = None
    row: Row | None = None

    def named_by(self, ref: Reference, value: Any) -> bool:
        """Whether `value` in the column of `ref` points at this person's row."""
        return (self.row is not None and ref.to_dataset == self.dataset
                and str(self.row.get(ref.to_column)) == str(value))

