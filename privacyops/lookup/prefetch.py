"""Reading ahead for one lookup: the reads one step of the walk is about to make are independent of each other, so
they run two at a time — one in the calling thread, one in a helper thread on a second cursor of the same DuckDB
file (DuckDB runs a query without Python's lock; the machine this is made for has two cores). The walk then takes
each answer for the very query it would have run (`Reader.select_in`), so answers and their order do not change.

Only read-only DuckDB and file sources: a writer's second cursor would not see its open transaction, and other
stores (PostgreSQL, SQLite) and the batched connectors of `lookup_many` read as before."""

from __future__ import annotations

import copy
import os
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Callable, Iterable

from ..map import Dataset
from ..sources import Connector, type_family
from ..sources.duckdb import DuckDBConnector, FileConnector

Asks = Iterable[tuple[Dataset, str, Iterable[Any]]]  # (dataset, column, values) as `Reader.select_in` takes them
Answers = dict[tuple, list[dict[str, Any]]]  # (dataset name, column, the values read) -> rows
_TWINNABLE = (DuckDBConnector, FileConnector)
_POOL: dict[int, ThreadPoolExecutor] = {}  # by process: a forked child makes its own (the thread stays behind)


def _pool() -> ThreadPoolExecutor:
    """The one helper thread (a lookup runs at most two reads at a time)."""
    pid = os.getpid()
    if pid not in _POOL:
        _POOL.clear()
        _POOL[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privacyops-lookup")
    return _POOL[pid]


def read_ahead(con_of: Callable[[Dataset], Connector], known: Callable[[Dataset, str, Any], bool],
               asks: Asks) -> Answers:
    """Run `asks` (values `known` already are left out, as `select_in` leaves them), half in a helper thread, and
    return the answers by (dataset name, column, values). Fewer than two reads: nothing is read ahead."""
    jobs: list[tuple[Any, Dataset, str, tuple]] = []
    for ds, column, values in asks:
        con = con_of(ds)
        if type(con) not in _TWINNABLE or not con.read_only \
                or type_family(con.columns(ds).get(column, "")) not in ("integer", "text"):
            continue
        todo = tuple(v for v in con.coerce(ds, column, values) if not known(ds, column, v))
        if todo and all(j[1:] != (ds, column, todo) for j in jobs):
            jobs.append((con, ds, column, todo))
    if len(jobs) < 2:
        return {}
    twins: dict[int, Any] = {}
    for con, *_ in jobs[1::2]:
        if id(con) not in twins:
            twin = copy.copy(con)  # its caches shared; its own cursor: the same file, another connection
            twin.con = con.con.cursor()
            twins[id(con)] = twin

    def run(part: list) -> list[tuple[tuple, list[dict[str, Any]]]]:
        return [((ds.name, column, todo), con.select_in(ds, column, list(todo)).dicts())
                for con, ds, column, todo in part]

    try:
        helper = _pool().submit(run, [(twins[id(con)], *rest) for con, *rest in jobs[1::2]])
        try:
            mine = run(jobs[0::2])
        finally:
            wait([helper])  # its cursor is closed below: never under a read still running
        return dict(mine + helper.result())
    finally:
        for twin in twins.values():
            twin.con.close()
