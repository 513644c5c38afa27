"""Lookup indexes: make identity and reference lookups answer in milliseconds on large stores.

`privacyops index` creates, in each DuckDB, PostgreSQL and SQLite source, an index per identity column on the very
expression lookup compares (`lower(trim(email))`, the last digits of a phone number, the raw id) and one per
reference column. The store answers `expression = ?` from such an index instead of scanning; without them lookups
stay correct, only slower. (SQLite gets no phone index: its expression needs a function only privacyops defines.)
File sources (Parquet, CSV) cannot carry indexes: sort them by their reference columns instead.

Index names are derived from the table, kind and column, so the connector can tell which predicates have one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


from ..map import EMAIL, NAME, PHONE, Dataset
from ..sources import Connector, index_name, open_source
from .folder import Workspace
from .lookup_index import IndexBuild, build_lookup_index, drop_lookup_index

INDEXED_KINDS = ("duckdb", "postgres", "sqlite")  # source kinds that can carry lookup indexes


def wanted(dataset: Dataset, con: Connector) -> list[tuple[str, str, str]]:
    """(name, kind, expression) of the indexes that serve a dataset's lookups."""
    out = []
    for kind, cols in dataset.identities.items():
        if kind == NAME:
            continue  # fuzzy: a scan by nature
        if not con.can_index(kind):
            continue
        for col in cols:
            q = con.quote(col)
            expr = (con.email_expr(q) if kind == EMAIL else con.phone_key_expr(q) if kind == PHONE else q)
            out.append((index_name(dataset, kind, col), kind, expr))
    for ref in dataset.references:  # children found from their parents
        out.append((index_name(dataset, "ref", ref.column), "ref", con.quote(ref.column)))
    if len(dataset.primary_key) == 1:  # parents found from their children, picks by key
        out.append((index_name(dataset, "key", dataset.primary_key[0]), "key", con.quote(dataset.primary_key[0])))
    return list({name: (name, kind, expr) for name, kind, expr in out}.values())


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
            steps = [(ds, *w) for ds in datasets for w in wanted(ds, con)]
            for ds, name, kind, expr in tqdm(steps, desc=f"indexes in {source.name}", unit="index",
                                             disable=not progress):
                if drop:
                    if name in existing[ds.name]:
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
