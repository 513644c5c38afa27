"""Reading rows for one lookup: the workspace's connectors, primary keys, identity matches asked once each."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Iterable

from ..map import EMAIL, IMPLICIT_PARTY, DataMap, Dataset, Party, Reference
from ..sources import SCORE, DuckDBConnector, Rows, digits_of, type_family
from ..sources.queries import NameMatches
from ..sources.scored import select_scored, select_spelled
from ..workspace import Workspace
from ..workspace.lookup_index import index_applies, open_lookup_index
from .identities import IdentityProbes
from .prefetch import ReadAhead

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
        name, pk, owned, roles = ds.name, ds.primary_key, self.owned, self.role  # a name search adds thousands
        for r in rows:
            k = (r[pk[0]],) if len(pk) == 1 else tuple(r[c] for c in pk)
            rid = (name, k)
            if k in bucket and (rid in owned or not owns):
                continue
            bucket[k] = r
            roles[rid] = role
            if owns:
                owned.add(rid)
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


class Reader(IdentityProbes):
    """The data access of one lookup over an open workspace."""

    def __init__(self, ws: Workspace, use_index: bool = True):
        self.ws = ws
        self.dm: DataMap = ws.datamap
        self._identity_memo: dict[tuple, list[Row]] = {}
        self._rows_memo: dict[tuple, list[Row]] = {}
        self.index = open_lookup_index(ws) if use_index else None
        self._index_state: dict[str, str | None] = {}
        self._signatures: dict[str, str] = {}
        self._hits: dict[tuple, list] = {}
        self._ahead = ReadAhead()  # what `prefetch` reads, by (dataset, column, values)
        self.notes: list[str] = []  # datasets scanned because the lookup index could not answer for them

    def indexed(self, ds: Dataset) -> bool:
        """Whether the lookup index answers for `ds` (current and covering it); a stale one is noted, and scanned."""
        if self.index is None:
            return False
        if ds.name not in self._index_state:
            reason = self.index.stale(self.ws, ds, self._signatures) if index_applies(self.ws, ds) else "n/a"
            self._index_state[ds.name] = reason
            if reason and reason != "n/a":
                self.notes.append(f"{ds.name}: {reason}; scanned instead (`privacyops index --refresh`)")
        return self._index_state[ds.name] is None

    def con(self, ds: Dataset):
        return self.ws.connector(ds.source)

    @staticmethod
    def key(ds: Dataset, row: Row) -> tuple:
        pk = ds.primary_key  # (one column, the usual key, without a generator: a name search asks it of thousands)
        return (row[pk[0]],) if len(pk) == 1 else tuple(row[c] for c in pk)

    def select_in(self, ds: Dataset, column: str, values: Iterable[Any]) -> list[Row]:
        """Rows whose `column` holds one of `values`; each (dataset, column, value) is read once per lookup (the
        walk up, the walk down and the context ask for the same person's rows again)."""
        con = self.con(ds)
        if type_family(con.columns(ds).get(column, "")) not in ("integer", "text"):
            return con.select_in(ds, column, values).dicts()  # values compare as the store casts them: no memo
        vals = con.coerce(ds, column, values)
        todo = [v for v in vals if (ds.name, column, v) not in self._rows_memo]
        if todo:
            got = self._ahead.take((ds.name, column, tuple(todo)))  # read by `prefetch`: the very query below
            if got is None:
                got = con.select_in(ds, column, todo).dicts()
            for v in todo:
                self._rows_memo[(ds.name, column, v)] = []
            for r in got:
                if (ds.name, column, r[column]) in self._rows_memo:
                    self._rows_memo[(ds.name, column, r[column])].append(r)
            if len(todo) == len(vals):
                return [dict(r) for r in got]  # the store's order, as without the memo
        out, seen = [], set()
        for v in vals:
            for r in self._rows_memo[(ds.name, column, v)]:
                k = self.key(ds, r)
                if k not in seen:
                    seen.add(k)
                    out.append(dict(r))
        return out

    def prefetch(self, asks: Iterable[tuple[Dataset, str, Iterable[Any]]], least: int = 2) -> None:
        """Read ahead what a step of the walk is about to ask `select_in` (prefetch.py: two reads at a time)."""
        self._ahead.add(self.con, lambda ds, column, v: (ds.name, column, v) in self._rows_memo, asks, least)

    def close(self) -> None:
        """The end of the lookup: reads ahead it did not take are dropped (the helper's cursor closed)."""
        self._ahead.close()

    def fetch_keys(self, ds: Dataset, keys: list[tuple]) -> list[Row]:
        if len(ds.primary_key) == 1:
            return self.select_in(ds, ds.primary_key[0], [k[0] for k in keys])
        wanted = {tuple(str(v) for v in k) for k in keys}
        first = self.select_in(ds, ds.primary_key[0], [k[0] for k in keys])
        return [r for r in first if tuple(str(r[c]) for c in ds.primary_key) in wanted]

    def name_matches(self, ds: Dataset, columns: tuple[str, ...], query: str) -> NameMatches:
        """`Connector.name_matches` (rows best first, the score last; how many matched), from the lookup index's
        distinct spellings when it answers for `ds` (`indexed_name_matches`)."""
        con = self.con(ds)
        got = indexed_name_matches(self, ds, columns, query) if self.indexed(ds) else None
        return con.name_matches(ds, columns, query, self.dm.settings.name_match_threshold) if got is None else got

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
        values = self._identity_values(kind, values)
        memo = (ds.name, kind, columns)
        todo = [v for v in values if memo + (v,) not in self._identity_memo]
        if todo:
            rows = (self._indexed_identity(ds, kind, columns, todo) if self.indexed(ds) else
                    self.con(ds).select_identity(ds, kind, columns, todo, self.dm.settings).dicts())
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


def indexed_name_matches(reader: Reader, ds: Dataset, columns: tuple[str, ...], query: str) -> NameMatches | None:
    """`Reader.name_matches` from the lookup index: the same scores, then the rows bearing the spellings found, one
    equality filter each (a DuckDB file), or the rows read by key. Of the rows, only the columns a name search
    reads (`seed_columns`). None when the index holds no names of `ds`."""
    con, threshold, index = reader.con(ds), reader.dm.settings.name_match_threshold, reader.index
    # A DuckDB file only: a file source would read its files again per spelling (its reads by key prune files)
    duck = isinstance(con, DuckDBConnector) and con.source.kind == "duckdb"
    if duck:
        got = index.name_spellings(con, ds, columns, query, threshold)
        rows = None if got is None else select_spelled(con, ds, seed_columns(reader.dm, ds), columns,
                                                         [(values, score) for values, _, score in got[0]])
        if got is not None and rows is not None:
            return NameMatches(_best_first(ds, rows), got[1])
    hits = index.name_matches(con, ds, columns, query, threshold)
    if hits is None:
        return None
    score, total = dict(hits[0]), hits[1]
    rows = select_scored(con, ds, seed_columns(reader.dm, ds), score) if duck else None
    if rows is not None:  # one join in the store: the rows with their scores
        return NameMatches(_best_first(ds, rows), total)
    scored = [(r, score[tuple(str(r[c]) for c in ds.primary_key)]) for r in reader.fetch_keys(ds, list(score))
              if tuple(str(r[c]) for c in ds.primary_key) in score]
    scored.sort(key=lambda x: (-x[1], reader.key(ds, x[0])))  # as the SQL: best first, then by key
    columns_out = list(scored[0][0]) if scored else []
    return NameMatches(Rows(columns_out + [SCORE], [tuple(r.values()) + (s,) for r, s in scored]), total)


def _best_first(ds: Dataset, rows: Rows) -> Rows:
    """`rows` (SCORE last) best first, then by key, as the unindexed name search sorts them (the store sorted
    them already: the sort in Python keeps Python's order of keys, in a few microseconds)."""
    rows.rows.sort(key=itemgetter(*(rows.columns.index(c) for c in ds.primary_key)))  # two stable sorts: by key,
    rows.rows.sort(key=itemgetter(-1), reverse=True)  # then best first (equal scores keep their key order)
    return rows


def seed_columns(dm: DataMap, ds: Dataset) -> tuple[str, ...]:
    """The columns a name search reads of its matching rows (a common name has thousands): the key, every
    identity (a candidate's label), the references walked up from the row and the columns rows owning it point
    at. The rows never go further: a name search always answers with candidates to pick from."""
    memo = dm.__dict__.setdefault("_seed_columns", {})  # per dataset of this map: asked per name search
    if ds.name not in memo or memo[ds.name][0] is not ds:
        cols = [*ds.primary_key, *(c for cols in ds.identities.values() for c in cols),
                *(r.column for r in ds.references), *(r.to_column for r in dm.owners_of(ds.name))]
        memo[ds.name] = (ds, tuple(dict.fromkeys(cols)))
    return memo[ds.name][1]


def identity_groups(ds: Dataset, kind: str) -> list[tuple[Party | None, tuple[str, ...]]]:
    """Who an identity of `kind` names in a row of `ds`: (party, its columns of that kind). Columns no named party
    lists belong to the owner (None: no party owns the row). Worked out once per dataset and kind (every lookup
    asks it of every dataset); the list is not to be changed."""
    memo = ds.__dict__.setdefault("_identity_groups", {})
    if kind not in memo:
        memo[kind] = _identity_groups(ds, kind)
    return memo[kind]


def _identity_groups(ds: Dataset, kind: str) -> list[tuple[Party | None, tuple[str, ...]]]:
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

