"""Reading ahead for one lookup: the reads one step of the walk is about to make are independent of each other, so
they run two at a time — the calling thread runs each one as the walk reaches it, a helper thread works from the
other end of the queue on a second cursor of the same DuckDB file (DuckDB runs a query without Python's lock; the
machine this is made for has two cores). The walk takes each answer for the very query it would have run
(`Reader.select_in`), so answers and their order do not change; it goes on with an answer as soon as it has it
(reads it makes meanwhile, e.g. who else owns an address, overlap the helper's), and a read the walk did not come
to is dropped (`ReadAhead.close`, at the end of the lookup).

Only read-only DuckDB and file sources: a writer's second cursor would not see its open transaction, and other
stores (PostgreSQL, SQLite) and the batched connectors of `lookup_many` read as before."""

from __future__ import annotations

import copy
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable

from ..map import Dataset
from ..sources import Connector, type_family
from ..sources.duckdb import DuckDBConnector, FileConnector

Asks = Iterable[tuple[Dataset, str, Iterable[Any]]]  # (dataset, column, values) as `Reader.select_in` takes them
Key = tuple  # (dataset name, column, the values read)
_TWINNABLE = (DuckDBConnector, FileConnector)
_POOL: dict[int, ThreadPoolExecutor] = {}  # by process: a forked child makes its own (the thread stays behind)
_ASIDE: dict[int, ThreadPoolExecutor] = {}
_PENDING, _RUNNING, _DONE = 0, 1, 2


def _pool() -> ThreadPoolExecutor:
    """The one helper thread (a lookup runs at most two reads at a time)."""
    pid = os.getpid()
    if pid not in _POOL:
        _POOL.clear()
        _POOL[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privacyops-lookup")
    return _POOL[pid]


def run_aside(fn: Callable[..., Any], *args: Any) -> Future:
    """Run `fn(*args)` in a thread of its own (not the reads' helper: a lookup's ledger read beside its walk)."""
    pid = os.getpid()
    if pid not in _ASIDE:
        _ASIDE.clear()
        _ASIDE[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="privacyops-aside")
    return _ASIDE[pid].submit(fn, *args)


class _Job:
    """One read: queued, then run by the helper (on its twin cursor) or by the caller (on the connector)."""

    __slots__ = ("con", "ds", "column", "todo", "state", "rows", "failed", "done")

    def __init__(self, con: Connector, ds: Dataset, column: str, todo: tuple):
        self.con, self.ds, self.column, self.todo = con, ds, column, todo
        self.state = _PENDING
        self.rows: list[dict[str, Any]] | None = None
        self.failed = False
        self.done = threading.Event()


class ReadAhead:
    """The reads ahead of one lookup (see the module docstring). `take` hands the walk one answer; `close` drops the
    reads not taken and waits for the helper's current one (its cursor is closed then: never under a read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[Key, _Job] = {}
        self._queue: list[_Job] = []  # pending, in the walk's order: the helper takes from the end
        self._twins: dict[int, Any] = {}
        self._helper: Future | None = None
        self._draining = False  # a helper runs (or is about to) the queue

    def add(self, con_of: Callable[[Dataset], Connector], known: Callable[[Dataset, str, Any], bool],
            asks: Asks, least: int = 2) -> None:
        """Queue `asks` (values `known` already are left out, as `select_in` leaves them). Fewer than `least` reads:
        nothing is read ahead (one read the walk is about to run anyway; `least` 1 for reads of the walk's next
        step, asked while it is still on this one)."""
        jobs: list[_Job] = []
        for ds, column, values in asks:
            con = con_of(ds)
            if type(con) not in _TWINNABLE or not con.read_only \
                    or type_family(con.columns(ds).get(column, "")) not in ("integer", "text"):
                continue
            todo = tuple(v for v in con.coerce(ds, column, values) if not known(ds, column, v))
            key = (ds.name, column, todo)
            if todo and key not in self._jobs and all((j.ds.name, j.column, j.todo) != key for j in jobs):
                jobs.append(_Job(con, ds, column, todo))
        if not jobs or len(jobs) < least:
            return
        with self._lock:
            for j in jobs:
                self._jobs[(j.ds.name, j.column, j.todo)] = j
            self._queue.extend(jobs)
            if not self._draining:  # (decided under the lock the helper leaves by: no job is left behind)
                self._draining = True
                self._helper = _pool().submit(self._drain)

    def take(self, key: Key) -> list[dict[str, Any]] | None:
        """The answer of the read `key` (run here when the helper has not started it); None when it was not read
        ahead (or failed in the helper: the caller runs it, and its error is raised there)."""
        with self._lock:
            job = self._jobs.pop(key, None)
            if job is None:
                return None
            mine = job.state == _PENDING
            if mine:
                job.state = _RUNNING
                self._queue.remove(job)
        if mine:
            return job.con.select_in(job.ds, job.column, list(job.todo)).dicts()
        job.done.wait()
        return None if job.failed else job.rows

    def _drain(self) -> None:
        """The helper: the last pending read first, until none is left."""
        while True:
            with self._lock:
                if not self._queue:
                    self._draining = False
                    return
                job = self._queue.pop()
                job.state = _RUNNING
                twin = self._twins.get(id(job.con))
            try:
                if twin is None:
                    twin = copy.copy(job.con)  # its caches shared; its own cursor: the same file, another connection
                    twin.con = job.con.con.cursor()
                    self._twins[id(job.con)] = twin
                job.rows = twin.select_in(job.ds, job.column, list(job.todo)).dicts()
            except BaseException:  # the walk runs it again itself: its error is raised where it is asked
                job.failed = True
            finally:
                job.state = _DONE
                job.done.set()

    def close(self) -> None:
        """Drop the reads not taken; wait for the helper's current one; close its cursors."""
        with self._lock:
            self._queue.clear()
            self._jobs.clear()
            helper, self._helper = self._helper, None
        if helper is not None and not helper.cancel():  # not started (another lookup's drain first): never will
            helper.exception()  # waits (the helper never raises: failures are marked on their job)
        self._draining = False
        for twin in self._twins.values():
            twin.con.close()
        self._twins.clear()
