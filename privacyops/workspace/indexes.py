"""Lookup indexes: make identity and reference lookups answer in milliseconds on large stores.

`privacyops index` creates, in each DuckDB, PostgreSQL and SQLite source, an index per reference column a walk can
follow down (see `walked`) and per single-column primary key (the walks from a subject to its rows, and rows read by
key), and one per identity column
on the very expression lookup compares (`lower(trim(email))`, the last digits of a phone number, the raw id) where
the workspace's lookup index (index.duckdb) does not answer identity probes for the dataset: PostgreSQL and SQLite
sources, or `lookup_index=False`. In a DuckDB source the lookup index answers them, so those indexes are not made
(and ones made before are dropped): every index of a table is updated, and its touched parts held in memory, when an
erasure deletes or masks rows; a stale lookup index falls back to the scan, correct and slower. Without any index
lookups stay correct, only slower. (SQLite gets no phone index: its expression needs a function only privacyops
defines.) File sources (Parquet, CSV) cannot carry indexes: sort them by their reference columns instead.

Index names are derived from the table, kind and column, so the connector can tell which predicates have one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


from ..map import EMAIL, NAME, PHONE, DataMap, Dataset
from ..sources import Connector, index_name, open_source
from .folder import Workspace
from .lookup_index import IndexBuild, build_lookup_index, drop_lookup_index, index_applies, index_path

INDEXED_KINDS = ("duckdb", "postgres", "sqlite")  # source kinds that can carry lookup indexes


def walked(dm: DataMap) -> set[str]:
    """The datasets whose rows a lookup can reach and walk down from: those it finds people in (identity columns,
    subject datasets), their children, the rows they own, and so on. A reference into any other dataset (a product
    catalogue) is never followed down from its target, so its column needs no index: the index would only cost the
    build (1.7 s of the demo's at a million subjects) and every erasure of the rows that hold it. (A pick of such a
    row, `lookup --pick catalog:KEY`, reads its children by a scan: the same answer, slower.)"""
    out = {n for n, d in dm.datasets.items() if d.identities or d.subject}
    todo = list(out)
    while todo:
        name = todo.pop()
        for nxt in [r.dataset for r in dm.children(name)] + [r.to_dataset for r in dm.datasets[name].owned_references]:
            if nxt not in out:
                out.add(nxt)
                todo.append(nxt)
    return out


def _candidates(dataset: Dataset, con: Connector, identities: bool = True,
                reach: set[str] | None = None) -> list[tuple[str, str, str]]:
    """(name, kind, expression) of every index privacyops makes for a dataset, before `wanted` keeps one per
    expression (so also the ones an earlier version made twice). `reach` (`walked`): references into other datasets
    get none."""
    out = []
    for kind, cols in dataset.identities.items() if identities else ():
        if kind == NAME:
            continue  # fuzzy: a scan by nature
        if not con.can_index(kind):
            continue
        for col in cols:
            q = con.quote(col)
            expr = (con.email_expr(q) if kind == EMAIL else con.phone_key_expr(q) if kind == PHONE else q)
            out.append((index_name(dataset, kind, col), kind, expr))
    for ref in dataset.references:  # children found from their parents
        if reach is not None and ref.to_dataset not in reach:
            continue
        out.append((index_name(dataset, "ref", ref.column), "ref", con.quote(ref.column)))
    if len(dataset.primary_key) == 1:  # parents found from their children, picks by key
        out.append((index_name(dataset, "key", dataset.primary_key[0]), "key", con.quote(dataset.primary_key[0])))
    return out


def wanted(dataset: Dataset, con: Connector, identities: bool = True,
           reach: set[str] | None = None) -> list[tuple[str, str, str]]:
    """(name, kind, expression) of the indexes that serve a dataset's lookups, one per expression; `identities`
    False: without the identity columns' (the lookup index answers those probes, see `lookup_index_serves`);
    `reach` (`walked(map)`): without the references a walk never follows down."""
    # one index per expression: an id column that is also the key (or a reference) gets one, not two (each is
    # updated on every delete), named as the key's or reference's; the store probes any index on the column
    by_expr: dict[str, tuple[str, str, str]] = {}
    for name, kind, expr in _candidates(dataset, con, identities, reach):
        by_expr[expr] = (name, kind, expr)
    return list(by_expr.values())


def lookup_index_serves(ws: Workspace, dataset: Dataset, building: bool = False) -> bool:
    """Whether the workspace's lookup index answers `dataset`'s identity probes (it exists, or is being built by
    `building`, and covers the dataset's source kind): then its identity columns need no index in the store."""
    return (building or index_path(ws).exists()) and index_applies(ws, dataset)


@dataclass
class IndexReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # datasets on file sources
    seconds: float = 0.0
    lookup_index: IndexBuild | None = None  # the identity and mention index (index.duckdb), when built
    lookup_index_dropped: bool = False


def _datasets_by_source(ws: Workspace) -> dict[str, list[Dataset]]:
    out: dict[str, list[Dataset]] = {}
    for ds in ws.datamap.datasets.values():
        out.setdefault(ds.source, []).append(ds)
    return out


def create_indexes(ws: Workspace, progress: bool = True, drop: bool = False, lookup_index: bool = True) -> IndexReport:
    """Create (or with `drop`, remove) the lookup indexes in every source that can hold them, then (re)build the
    workspace's identity and mention index (`lookup_index.py`; `lookup_index=False`: leave it). Idempotent."""
    report = IndexReport()
    t0 = time.perf_counter()
    ws.close()  # DuckDB will not open a file writable while this process keeps it open read-only
    from tqdm.auto import tqdm  # here: every command imports this module, few build indexes

    jobs = []
    reach = walked(ws.datamap)
    for source_name, datasets in _datasets_by_source(ws).items():
        source = ws.datamap.sources[source_name]
        if source.kind not in INDEXED_KINDS:
            report.skipped.extend(d.name for d in datasets)
            continue
        jobs.append((source, datasets))
    for source, datasets in jobs:
        con = open_source(source, ws.root, read_only=False)
        try:
            existing = {ds.name: con.index_names(ds) for ds in datasets}
            steps = []
            for ds in datasets:
                # with the lookup index, identity columns need none: the ones made before are dropped, as are
                # the second indexes an earlier version made on one column
                want = {} if drop else {w[0]: w for w in wanted(ds, con, not lookup_index_serves(
                    ws, ds, building=lookup_index), reach)}
                steps += [(ds, name, kind, None) for name, kind, _ in _candidates(ds, con)
                          if name in existing[ds.name] and name not in want]
                steps += [(ds, *w) for w in want.values()]
            for ds, name, kind, expr in tqdm(steps, desc=f"indexes in {source.name}", unit="index",
                                             disable=not progress):
                if expr is None:
                    con.drop_index(ds, name)
                    report.dropped.append(f"{ds.name}: {kind}")
                elif name in existing[ds.name]:
                    report.existing.append(f"{ds.name}: {kind}")
                else:
                    con.create_index(ds, name, expr)
                    report.created.append(f"{ds.name}: {kind} {expr}")
            if source.kind == "duckdb":
                con.execute("CHECKPOINT")
        finally:
            con.close()
    ws.forget_schemas()
    if drop and lookup_index:
        report.lookup_index_dropped = drop_lookup_index(ws)
    elif lookup_index:
        report.lookup_index = build_lookup_index(ws, progress=progress)
    report.seconds = time.perf_counter() - t0
    return report
