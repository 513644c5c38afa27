"""Many lookups at once: `lookup_many(ws, items)` answers exactly what `lookup()` answers for each item, with the
queries of all items asked together.

How: every item runs the very walk of `lookup()` (find.py: seeds, people, records, context, mentions) in a
lockstep worker, and only one worker runs at a time. When a worker needs rows (a `select_in`, an identity probe of
the lookup index, the mention index, a mention check) it hands its question in and stops; when every worker has
stopped, the question most of them wait on is answered — ONE query per dataset and column for the union of the
values all workers asked for (one index probe for all identities of a kind, one for all mentions) — the answer is
split back per worker (each gets the rows a query of its own values would have returned), and those workers run on
(the others wait: workers walk at different depths, and the ones let go often ask the same questions later).
So a batch of N subjects costs about as many queries as one lookup, and the answer of each item is the one
`lookup()` gives (the rows in the same sets; their order within a dataset may differ).

Why workers and not a second, set-based copy of the walk: the walk decides whose a row is in many subtle steps
(parties, owners, shared values, held-back rows); one implementation of it cannot drift from another. The workers
are greenlets (threads where the greenlet package is missing) handing one baton around (never two running at once),
so the connectors, the workspace and the lookup index are used as by one lookup after another. Greenlets switch in
about a microsecond inside the one thread; a thread hand-over waits for the OS to wake the next thread, which on a
busy machine cost more than the walk itself (a batch of 1,000 subjects hands the baton ~25,000 times).

Questions whose answer cannot be split back exactly from a union (a column compared as the store casts it — dates,
decimals — a scan without the lookup index, a name search) are asked for the one worker, as `lookup()` asks them.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

try:  # the workers' baton without the OS scheduler (see the module docstring); threads where it is missing
    import greenlet as _greenlet
except ImportError:  # pragma: no cover - greenlet ships with the test tools and the pinned environment
    _greenlet = None

from ..errors import LookupInputError
from ..map import PHONE
from ..sources import digits_of, type_family
from ..sources.types import PHONE_GAP
from ..workspace import Workspace
from ..workspace.lookup_index import email_key, open_lookup_index, probed
from .find import _run, prepare
from .identify import AUTO
from .reader import Reader
from .subject import SubjectRecords

_INT64 = (-2**63, 2**63 - 1)  # the ids `values.ascii_int` takes
CHUNK = 2000  # items looked up together (their workers alive at once): bounds threads and memory
Item = tuple  # (identifier, pick "DATASET:KEY"[, kind]); identifier or pick may be None, kind defaults to auto


@dataclass
class _Ask:
    """One question of one worker: batched with the others of the same `group`."""

    group: tuple
    payload: Any
    worker: _Worker
    result: Any = None
    error: BaseException | None = None


class _Worker(threading.Thread):
    """One item's lookup; runs only while it holds the baton (`go`)."""

    def __init__(self, batcher: _Batcher, fn: Callable[[], Any]):
        super().__init__(daemon=True)  # a worker left waiting (the caller interrupted) never keeps the process
        self.batcher, self.fn = batcher, fn
        self.go = threading.Lock()
        self.go.acquire()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        self.go.acquire()
        try:
            self.result = self.fn()
        except BaseException as exc:  # handed to the caller (an input error is the item's answer)
            self.error = exc
        finally:
            self.batcher.pass_on()


if _greenlet is not None:
    class _Green(_greenlet.greenlet):
        """One item's lookup as a greenlet of the driver's thread: runs when the driver switches to it, and
        switches back to the driver (its parent) when it asks a question or finishes."""

        def __init__(self, batcher: _Batcher, fn: Callable[[], Any]):
            super().__init__()
            self.batcher, self.fn = batcher, fn
            self.result: Any = None
            self.error: BaseException | None = None

        def run(self) -> None:
            try:
                self.result = self.fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller (an input error is the item's answer)
                self.error = exc


def _new_worker(batcher: _Batcher, fn: Callable[[], Any]) -> Any:
    return _Green(batcher, fn) if _greenlet is not None else _Worker(batcher, fn)


def _current_worker(batcher: _Batcher) -> Any:
    """The worker of `batcher` running this code, or None (asked outside a batch)."""
    cur = _greenlet.getcurrent() if _greenlet is not None else threading.current_thread()
    return cur if isinstance(cur, (_Worker, _Green) if _greenlet is not None else _Worker) and \
        cur.batcher is batcher else None


@dataclass
class _Rows:
    """What `Connector.select_in` returns, as far as `Reader` uses it."""

    rows: list[dict[str, Any]]

    def dicts(self) -> list[dict[str, Any]]:
        return self.rows


@dataclass
class _Batcher:
    """The baton and the questions waiting for an answer."""

    ws: Workspace
    index: Any  # the real LookupIndex, or None
    pending: dict[tuple, list[_Ask]] = field(default_factory=dict)  # by group, in the order asked
    main: threading.Lock = field(default_factory=threading.Lock)
    queries: int = 0  # how many statements answered the batch (for the benchmark)
    runnable: deque = field(default_factory=deque)  # workers whose answer is in, waiting for the baton

    def pass_on(self) -> None:
        """The baton (held by the worker calling this) to the next runnable worker, else back to the driver: one
        thread switch per question, not two."""
        if self.runnable:
            self.runnable.popleft().go.release()
        else:
            self.main.release()

    def ask(self, group: tuple, payload: Any) -> Any:
        worker = _current_worker(self)
        a = _Ask(group, payload, worker)  # type: ignore[arg-type]
        if worker is None:
            self._answer([a])  # asked outside a batch: answered at once
        elif isinstance(worker, _Worker):
            self.pending.setdefault(group, []).append(a)
            self.pass_on()  # the baton to the next worker (or the driver) ...
            worker.go.acquire()  # ... until the answer is in
        else:
            self.pending.setdefault(group, []).append(a)
            worker.parent.switch()  # to the driver, which switches back once the answer is in
        if a.error is not None:
            raise a.error
        return a.result

    def drive(self, workers: list[_Worker]) -> None:
        """Run the workers to the end: each until it asks or finishes, then answer all questions together."""
        if workers and not isinstance(workers[0], _Worker):
            return _drive_green(self, workers)
        self.main.acquire()
        for w in workers:
            w.start()
        runnable = self.runnable
        runnable.extend(workers)
        while True:
            if runnable:  # they run one after the other, the last hands the baton back
                runnable.popleft().go.release()
                self.main.acquire()
            if not self.pending:
                break
            # Only the question most workers wait on is answered; the others wait for the workers it lets run on,
            # which often ask them too (workers walk at different depths): half the statements of answering all.
            asks = self.pending.pop(max(self.pending, key=lambda g: len(self.pending[g])))
            self._answer(asks)
            runnable.extend(a.worker for a in asks)
        self.main.release()
        for w in workers:
            w.join()

    def _answer(self, asks: list[_Ask]) -> None:
        kind = asks[0].group[0]
        try:
            {"in": self._select_in, "ident": self._identity, "mhits": self._mention_hits,
             "mention": self._mentions}[kind](asks)
        except Exception as exc:  # every worker that asked gets the store's error, as its own query would have
            for a in asks:
                a.error = exc

    # -- the questions ------------------------------------------------------------------------------------------
    def _select_in(self, asks: list[_Ask]) -> None:
        """Rows whose column holds one of each worker's values (integer or text columns: compared exactly)."""
        _, name, column = asks[0].group
        ds = self.ws.datamap.datasets[name]
        values = list(dict.fromkeys(v for a in asks for v in a.payload))
        con = self.ws.connector(ds.source)
        got = getattr(con, "select_in_joined", con.select_in)(ds, column, values).dicts()
        self.queries += 1
        at: dict[Any, list[int]] = {}
        for i, r in enumerate(got):
            at.setdefault(r[column], []).append(i)
        for a in asks:  # the rows are shared, not copied: `Reader.select_in` keeps them and hands out copies
            pos = sorted(i for v in a.payload for i in at.get(v, ()))  # the store's order, as its own query
            a.result = _Rows([got[i] for i in pos])

    def _identity(self, asks: list[_Ask]) -> None:
        """`LookupIndex.identity_hits` for each worker, from one probe of the union (see `_probes`)."""
        _, kind, digits = asks[0].group
        values = sorted({v for a in asks for v in a.payload})
        hits = self.index.identity_hits(kind, values, digits)
        self.queries += 1
        at: dict[str, list[int]] = {}
        for i, h in enumerate(hits):  # by value (phones: by every leading part a probe may ask for)
            for p in ({h[0][:n] for n in range(6, len(h[0]) + 1)} if kind == PHONE else (h[0],)):
                at.setdefault(p, []).append(i)
        for a in asks:
            a.result = [hits[i] for i in sorted({i for p in _probes(kind, digits, a.payload) for i in at.get(p, ())})]

    def _mention_hits(self, asks: list[_Ask]) -> None:
        """`LookupIndex.mention_hits` for each worker: one probe for all, split by the entry each matched."""
        locals_all = sorted({k for a in asks for k in (email_key(e) for e in a.payload[0]) if k})
        lower = dict(zip(locals_all, self.index.con.execute("SELECT list_transform(?::VARCHAR[], x -> lower(x))",
                                                            [locals_all]).fetchone()[0])) if locals_all else {}
        wanted = {a.worker: {f"email:{lower[k]}" for k in (email_key(e) for e in a.payload[0]) if k} |
                  {f"phone:{n}" for n in a.payload[1]} for a in asks}
        keys = sorted(set().union(*wanted.values()))
        by_key: dict[str, list[tuple[str, tuple]]] = {}
        if keys:
            for key, dataset, k in probed(self.index.con, "SELECT key, dataset, k FROM mention WHERE key", keys):
                by_key.setdefault(key, []).append((dataset, tuple(k)))
            self.queries += 1
        for a in asks:
            out: dict[str, set[tuple]] = {}
            for key in wanted[a.worker]:
                for dataset, k in by_key.get(key, ()):
                    out.setdefault(dataset, set()).add(k)
            a.result = out

    def _mentions(self, asks: list[_Ask]) -> None:
        """`select_mentions` of candidate rows for each worker: one statement for the union of the candidates,
        e-mails and numbers; each worker gets its candidates that pass its own conditions (the statement's, in
        Python), at most its limit."""
        _, name, fields = asks[0].group
        ds = self.ws.datamap.datasets[name]
        con = self.ws.connector(ds.source)
        col = asks[0].payload[3][0]
        emails = sorted({e for a in asks for e in a.payload[0]})
        phones = sorted({p for a in asks for p in a.payload[1]})
        within = list(dict.fromkeys(v for a in asks for v in a.payload[3][1]))
        limit = sum(a.payload[2] for a in asks)
        got = con.select_mentions(ds, fields, emails, phones, limit=limit, within=(col, within)).dicts()
        self.queries += 1
        at: dict[str, list[int]] = {}
        for i, r in enumerate(got):
            at.setdefault(str(r.get(col)), []).append(i)
        for a in asks:
            pos = sorted({i for v in a.payload[3][1] for i in at.get(str(v), ())})
            test = _mention_test(a.payload[0], a.payload[1]) if pos else None  # compiled only for candidates
            rows = [dict(got[i]) for i in pos if any(test(got[i].get(f)) for f in fields)]
            a.result = _Rows(rows[:a.payload[2]])


def _drive_green(batcher: _Batcher, workers: list[Any]) -> None:
    """`_Batcher.drive` with greenlets: the same order of runs and answers, each run a switch into the worker."""
    runnable, pending = deque(workers), batcher.pending
    while True:
        while runnable:
            runnable.popleft().switch()  # back here when it asks (or finishes)
        if not pending:
            break
        asks = pending.pop(max(pending, key=lambda g: len(pending[g])))
        batcher._answer(asks)
        runnable.extend(a.worker for a in asks)


def _probes(kind: str, digits: int, values: Sequence[str]) -> list[str]:
    """What a hit's value must be for `identity_hits(kind, values)` to return it: the value itself (e-mails, ids);
    for phones, a value starting with a number's reversed last digits (the index holds digits only, so
    `identity_hits`' range `t <= value < t + ":"` is exactly "starts with t")."""
    if kind != PHONE:
        return list(values)
    out = []
    for v in values:
        d = digits_of(v)
        k = min(digits, len(d))
        if k >= 6:
            out.append(d[-k:][::-1])
    return out


def _mention_test(emails: Sequence[str], phones: Sequence[str]) -> Callable[[Any], bool]:
    """The conditions `select_mentions` puts on one text field, in Python: an "@" and one of the e-mails (any
    case), or a phone number's last two digits and its digits with at most two separators between them."""
    compiled: dict[str | None, re.Pattern] = {}  # each compiled when a text first needs it (most never do)

    def pattern(phone: str | None) -> re.Pattern:  # None: the e-mails'
        if phone not in compiled:
            compiled[phone] = (re.compile("|".join(re.escape(e) for e in emails), re.I) if phone is None else
                               re.compile(PHONE_GAP.join(re.escape(ch) for ch in phone)))
        return compiled[phone]

    def test(text: Any) -> bool:
        if text is None:
            return False
        text = str(text)
        if emails and "@" in text and pattern(None).search(text):
            return True
        return any(p[-2:] in text and pattern(p).search(text) for p in phones)

    return test


class _Connector:
    """A source's connector as one worker sees it: batched `select_in` and mention checks, the rest its own."""

    def __init__(self, real: Any, batcher: _Batcher):
        self._real, self._batcher = real, batcher
        self._family: dict[tuple[str, str], str] = {}

    def __getattr__(self, name: str) -> Any:
        got = getattr(self._real, name)
        if callable(got):  # a method: kept, so the next call finds it at once
            setattr(self, name, got)
        return got

    def _family_of(self, ds: Any, column: str) -> str:
        at = (ds.name, column)
        family = self._family.get(at)
        if family is None:
            family = self._family[at] = type_family(self._real.columns(ds).get(column, ""))
        return family

    def coerce(self, ds: Any, column: str, values: Iterable[Any]) -> list[Any]:
        """`Connector.coerce`: values of the column's type already (ids as int, text as str) kept as they are,
        without converting each again (the same list: in order, without repeats)."""
        values = list(values)
        family = self._family_of(ds, column)
        if family == "integer" and all(type(v) is int and _INT64[0] <= v <= _INT64[1] for v in values):
            return list(dict.fromkeys(values))
        if family == "text" and all(type(v) is str for v in values):
            return list(dict.fromkeys(values))
        return self._real.coerce(ds, column, values)

    def select_in(self, ds: Any, column: str, values: Iterable[Any]) -> Any:
        if self._family_of(ds, column) not in ("integer", "text"):
            return self._real.select_in(ds, column, values)  # compared as the store casts: asked alone
        vals = self.coerce(ds, column, values)
        if not vals:
            return _Rows([])
        return self._batcher.ask(("in", ds.name, column), vals)

    def select_mentions(self, ds: Any, fields: Sequence[str], emails: Sequence[str], phones: Sequence[str],
                        limit: int = 500, within: tuple[str, Sequence[Any]] | None = None) -> Any:
        if within is None:  # a scan: its rows are the subject's alone
            return self._real.select_mentions(ds, fields, emails, phones, limit=limit, within=within)
        return self._batcher.ask(("mention", ds.name, tuple(fields)),
                                 (list(emails), list(phones), int(limit), (within[0], list(within[1]))))


class _Index:
    """The lookup index as one worker sees it: identity and mention probes batched, the rest its own."""

    def __init__(self, real: Any, batcher: _Batcher):
        self._real, self._batcher = real, batcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def identity_hits(self, kind: str, values: Iterable[str], phone_digits: int) -> list:
        return self._batcher.ask(("ident", kind, phone_digits), sorted(set(values)))

    def mention_hits(self, emails: Sequence[str], needles: Sequence[str]) -> dict[str, set[tuple]]:
        return self._batcher.ask(("mhits",), (list(emails), list(needles)))


class _Shared:
    """What every worker of a batch shares: the index's answer for each dataset, the connectors' proxies."""

    def __init__(self, ws: Workspace, batcher: _Batcher, use_index: bool):
        self.ws, self.batcher = ws, batcher
        self.index = _Index(batcher.index, batcher) if (use_index and batcher.index is not None) else None
        self.state: dict[str, str | None] = {}
        self.signatures: dict[str, str] = {}
        self.notes: list[str] = []
        self.cons: dict[str, _Connector] = {}

    def reader(self) -> Reader:
        r = Reader(self.ws, use_index=False)
        r.index = self.index  # staleness is asked once per dataset for the whole batch
        r._index_state, r._signatures, r.notes = self.state, self.signatures, self.notes
        r.con = self.con  # type: ignore[method-assign]
        return r

    def con(self, ds: Any) -> _Connector:
        if ds.source not in self.cons:
            self.cons[ds.source] = _Connector(self.ws.connector(ds.source), self.batcher)
        return self.cons[ds.source]


def lookup_many(ws: Workspace, items: Sequence[Item], *, mentions: bool = True, use_index: bool = True,
                chunk: int = CHUNK, done: Callable[[int], None] | None = None,
                stats: dict[str, int] | None = None) -> list[SubjectRecords | LookupInputError]:
    """Look up every item (identifier, pick[, kind]) as `lookup(ws, identifier, pick=pick, kind=kind,
    mentions=mentions, audit_log=False)` would, with the queries of up to `chunk` items asked together (see the module docstring).

    Returns, per item in order, its SubjectRecords (status found / ambiguous / not_found) or the LookupInputError
    that lookup() would raise for it. No audit entry (the caller records what the batch was for). `done(n)` is
    called as items finish (a progress bar); `stats` gets how many statements answered the batch."""
    out: list[SubjectRecords | LookupInputError] = []
    dm = ws.datamap
    with ws.reading():
        batcher = _Batcher(ws, open_lookup_index(ws) if use_index else None)
        shared = _Shared(ws, batcher, use_index)
        for start in range(0, len(items), max(int(chunk), 1)):
            part = items[start:start + max(int(chunk), 1)]
            workers = [_new_worker(batcher, _job(shared, dm, it[0], it[1], it[2] if len(it) > 2 else AUTO,
                                                 mentions)) for it in part]
            batcher.drive(workers)
            for w in workers:
                if isinstance(w.error, LookupInputError):
                    out.append(w.error)
                elif w.error is not None:
                    raise w.error
                else:
                    out.append(w.result)
            if done is not None:
                done(len(part))
    if stats is not None:
        stats["queries"] = stats.get("queries", 0) + batcher.queries
    return out


def rows_holding(ws: Workspace, ds: Any, kind: str, values: Iterable[str]) -> list[dict[str, Any]]:
    """Rows of `ds` whose identity columns of `kind` hold one of `values`, compared as `lookup()` compares them
    (`Connector.select_identity`): from the lookup index when it answers for `ds` — one probe for thousands of
    addresses — else the store's own query."""
    with ws.reading():
        return Reader(ws).identity_rows(ds, kind, values)


def rows_holding_each(ws: Workspace, datasets: Iterable[Any], kind: str,
                      values: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """`rows_holding` of several datasets (name -> rows) through one reader: the lookup index is probed once for
    the values (its answer names every dataset), not once per dataset (the probe scans the index: a batch's
    thousands of addresses)."""
    values = list(values)
    with ws.reading():
        reader = Reader(ws)
        return {ds.name: reader.identity_rows(ds, kind, values) for ds in datasets}


def _job(shared: _Shared, dm: Any, identifier: str | None, pick: str | None, kind: str,
         mentions: bool) -> Callable[[], SubjectRecords]:
    def run() -> SubjectRecords:
        text, kinds, result = prepare(dm, identifier, kind, pick)
        reader = shared.reader()
        _run(reader, result, text, kinds, pick, mentions)
        result.notes = list(reader.notes)
        return result

    return run


__all__ = ["CHUNK", "Item", "lookup_many", "rows_holding", "rows_holding_each"]
