"""The erasure schedule and the restriction register (ledger tables).

When an erasure keeps a record because a retention rule still requires it, the record is **restricted** (Art. 18:
stored, not used — the register says which records, on what basis and until when) and **scheduled**: it is due for
erasure the day after its retention ends (`erasure.erase_due`, or a scheduled notebook, runs what has come due).
Records whose retention has not started (the anchor date is still empty) are scheduled without a date and looked at
again on every run. Rows are named by dataset and primary key (JSON), never by their content; the key is sealed
(`workspace.sealing`, deterministic: equal keys give equal tokens, so the SQL below matches them without holding
them), because a primary key can itself be personal data (a list keyed by e-mail address). Rows an earlier
privacyops wrote with clear keys are still read and matched.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from ..values import json_safe
from ..workspace import Workspace, sealing
from ..workspace.keys import workspace_secret
from .keyring import workspace_key
from .store import ledger_exists, open_ledger

SCHEDULED, DONE, GONE, SUPERSEDED = "scheduled", "done", "gone", "superseded"


_KEY_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # built once: called per planned row


@functools.lru_cache(maxsize=1 << 17)
def _plain_key_json(key: tuple) -> str:  # ints and strings only: no two such keys are equal yet written apart
    return _KEY_JSON.encode(key)


def key_json(key: Iterable[Any]) -> str:
    """A row key as JSON text (the one spelling plans, schedules and verification compare)."""
    key = tuple(key)
    if all(type(v) is int or type(v) is str for v in key):  # the usual keys (a batch asks for each many times)
        return _plain_key_json(key)
    return _KEY_JSON.encode(json_safe(list(key)))


def key_from_json(text: str) -> tuple:
    return tuple(json.loads(text))


@dataclass(frozen=True)
class ScheduleEntry:
    dataset: str
    row_key: str  # JSON list of the primary key values
    plan_id: str  # the approved plan that decided "keep until, then erase"
    case_id: str | None
    due_on: dt.date | None  # None: the retention has not started (anchor empty); re-checked on every run
    retain_until: dt.date | None
    basis: str  # rule and ground, or why the record is kept
    status: str
    scheduled_at: dt.datetime
    done_plan: str | None = None
    done_at: dt.datetime | None = None

    @property
    def key(self) -> tuple:
        return key_from_json(self.row_key)

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda v: v.isoformat() if v else None)
        return {"dataset": self.dataset, "key": list(self.key), "plan_id": self.plan_id, "case_id": self.case_id,
                "due_on": iso(self.due_on), "retain_until": iso(self.retain_until), "basis": self.basis,
                "status": self.status, "scheduled_at": iso(self.scheduled_at), "done_plan": self.done_plan,
                "done_at": iso(self.done_at)}


@dataclass(frozen=True)
class Restriction:
    dataset: str
    row_key: str
    plan_id: str
    case_id: str | None
    basis: str
    retain_until: dt.date | None
    restricted_at: dt.datetime
    lifted_at: dt.datetime | None = None
    lifted_by: str | None = None

    @property
    def key(self) -> tuple:
        return key_from_json(self.row_key)

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda v: v.isoformat() if v else None)
        return {"dataset": self.dataset, "key": list(self.key), "plan_id": self.plan_id, "case_id": self.case_id,
                "basis": self.basis, "retain_until": iso(self.retain_until), "restricted_at": iso(self.restricted_at),
                "lifted_at": iso(self.lifted_at), "lifted_by": self.lifted_by}


_SCOLS = "dataset, row_key, plan_id, case_id, due_on, retain_until, basis, status, scheduled_at, done_plan, done_at"
_RCOLS = "dataset, row_key, plan_id, case_id, basis, retain_until, restricted_at, lifted_at, lifted_by"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _secret(con) -> bytes | None:
    keys_dir = getattr(con, "keys_dir", None)
    return workspace_secret(keys_dir) if keys_dir is not None else None


def _sealed(secret: bytes | None, row_key: str) -> str:
    return sealing.seal_deterministic(secret, sealing.ROW_KEY, row_key) if secret else row_key


def _both(secret: bytes | None, items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(dataset, key) as stored now (sealed) and as an earlier privacyops stored them (clear)."""
    return [(d, _sealed(secret, k)) for d, k in items] + (items if secret else [])


def _opened(secret: bytes, row_key: str) -> str:
    return sealing.open_text(secret, sealing.ROW_KEY, row_key)


_TYPES = {"text": ("VARCHAR", "text"), "date": ("DATE", "date"), "ts": ("TIMESTAMP", "timestamp")}


@contextmanager
def _rows(con, columns: dict[str, str], rows: list[tuple]) -> Iterator[tuple[str, list[Any]]]:
    """The rows as one relation `r` with `columns` (name -> text, date, ts) for a set-based statement: an Arrow
    table registered with the embedded ledger, arrays unnested on PostgreSQL. Yields (relation SQL, params): one
    statement for all the rows, instead of one per row or per chunk."""
    names = list(columns)
    values = [list(col) for col in zip(*rows)] if rows else [[] for _ in names]
    if con.kind == "postgres":
        arrays = ", ".join(f"?::{_TYPES[columns[n]][1]}[]" for n in names)
        yield f"unnest({arrays}) AS r({', '.join(names)})", values
        return
    import pyarrow as pa  # here: reading commands need not pay its import

    kinds = {"text": pa.string(), "date": pa.date32(), "ts": pa.timestamp("us")}
    table = pa.table({n: pa.array(v, type=kinds[columns[n]]) for n, v in zip(names, values)})
    name = f"_privacyops_rows_{uuid.uuid4().hex[:8]}"
    con.raw.register(name, table)
    try:
        yield f"{name} AS r", []
    finally:
        con.raw.unregister(name)


def _unique(items: list[tuple], width: int = 2) -> list[tuple]:
    """The last item per (dataset, key): one statement may not touch a row twice (ON CONFLICT)."""
    return list({tuple(it[:width]): it for it in items}.values())


def schedule(con, items: Iterable[tuple[str, str, dt.date | None, dt.date | None, str]], plan_id: str,
             case_id: str | None) -> int:
    """Put rows on the schedule (`items`: dataset, row_key, due_on, retain_until, basis) inside the caller's
    ledger transaction, in one statement. A row already scheduled is taken over by the newer decision."""
    secret, items = _secret(con), _unique(list(items))
    if not items:
        return 0
    if secret:  # a clear entry an earlier privacyops wrote for the same row is taken over too
        with _rows(con, {"dataset": "text", "row_key": "text"}, [(d, k) for d, k, *_ in items]) as (rel, params):
            con.execute(f"DELETE FROM erasure_schedule s USING {rel} WHERE s.dataset = r.dataset AND "
                        f"s.row_key = r.row_key", params)
    rows = [(d, _sealed(secret, k), due_on, until, basis) for d, k, due_on, until, basis in items]
    cols = {"dataset": "text", "row_key": "text", "due_on": "date", "retain_until": "date", "basis": "text"}
    with _rows(con, cols, rows) as (rel, params):
        con.execute(f"INSERT INTO erasure_schedule ({_SCOLS}) SELECT r.dataset, r.row_key, ?, ?, r.due_on, "
                    f"r.retain_until, r.basis, ?, ?, NULL, NULL FROM {rel} ON CONFLICT (dataset, row_key) DO "
                    "UPDATE SET plan_id = excluded.plan_id, case_id = excluded.case_id, due_on = excluded.due_on, "
                    "retain_until = excluded.retain_until, basis = excluded.basis, status = excluded.status, "
                    "scheduled_at = excluded.scheduled_at, done_plan = NULL, done_at = NULL",
                    [plan_id, case_id, SCHEDULED, _now(), *params])
    return len(rows)


def finish(con, items: Iterable[tuple[str, str]], plan_id: str, status: str = DONE) -> None:
    """Mark scheduled rows erased (or gone) by `plan_id`, inside the caller's ledger transaction."""
    keys = _both(_secret(con), _unique(list(items)))
    if not keys:
        return
    with _rows(con, {"dataset": "text", "row_key": "text"}, keys) as (rel, params):
        con.execute(f"UPDATE erasure_schedule AS s SET status = ?, done_plan = ?, done_at = ? FROM {rel} "
                    f"WHERE s.dataset = r.dataset AND s.row_key = r.row_key", [status, plan_id, _now(), *params])


def reschedule(con, dataset: str, row_key: str, due_on: dt.date | None, until: dt.date | None) -> None:
    both = [k for _, k in _both(_secret(con), [(dataset, row_key)])]
    con.execute(f"UPDATE erasure_schedule SET due_on = ?, retain_until = ? WHERE dataset = ? AND row_key IN "
                f"({', '.join('?' for _ in both)})", [due_on, until, dataset, *both])


def restrict(con, items: Iterable[tuple[str, str, str, dt.date | None]], plan_id: str, case_id: str | None) -> int:
    """Record restricted rows (`items`: dataset, row_key, basis, retain_until) in the register, in one
    statement."""
    secret, items = _secret(con), _unique(list(items))
    if not items:
        return 0
    rows = [(d, _sealed(secret, k), basis, until) for d, k, basis, until in items]
    cols = {"dataset": "text", "row_key": "text", "basis": "text", "retain_until": "date"}
    with _rows(con, cols, rows) as (rel, params):
        con.execute(f"INSERT INTO restrictions ({_RCOLS}) SELECT r.dataset, r.row_key, ?, ?, r.basis, "
                    f"r.retain_until, ?, NULL, NULL FROM {rel} ON CONFLICT (dataset, row_key, plan_id) DO NOTHING",
                    [plan_id, case_id, _now(), *params])
    return len(rows)


def lift(con, items: Iterable[tuple[str, str]], plan_id: str) -> None:
    """Lift the restrictions of rows that have now been erased."""
    keys = _both(_secret(con), _unique(list(items)))
    if not keys:
        return
    with _rows(con, {"dataset": "text", "row_key": "text"}, keys) as (rel, params):
        con.execute(f"UPDATE restrictions AS s SET lifted_at = ?, lifted_by = ? FROM {rel} WHERE s.dataset = "
                    f"r.dataset AND s.row_key = r.row_key AND s.lifted_at IS NULL", [_now(), plan_id, *params])


def entries(ws: Workspace, status: str | None = SCHEDULED, plan_id: str | None = None) -> list[ScheduleEntry]:
    if not ledger_exists(ws):
        return []
    sql, params = f"SELECT {_SCOLS} FROM erasure_schedule WHERE 1 = 1", []
    if status:
        sql += " AND status = ?"
        params.append(status)
    if plan_id:
        sql += " AND plan_id = ?"
        params.append(plan_id)
    with open_ledger(ws) as con:
        rows = con.execute(sql, params).fetchall()
    secret = workspace_key(ws)
    got = [ScheduleEntry(d, _opened(secret, k), *rest) for d, k, *rest in rows]
    # Ordered here, not in SQL: sealed keys sort in no useful order. No date (anchor empty) last, as SQL sorts NULL.
    return sorted(got, key=lambda e: (e.due_on is None, e.due_on or dt.date.min, e.dataset, e.row_key))


def due(ws: Workspace, as_of: dt.date) -> list[ScheduleEntry]:
    """Scheduled rows whose day has come (due_on <= as_of), and rows still waiting for their anchor date."""
    return [e for e in entries(ws) if e.due_on is None or e.due_on <= as_of]


def restrictions(ws: Workspace, active_only: bool = True) -> list[Restriction]:
    """The restriction register (Art. 18): rows kept but not to be used, with their basis and end date."""
    if not ledger_exists(ws):
        return []
    sql = f"SELECT {_RCOLS} FROM restrictions"
    if active_only:
        sql += " WHERE lifted_at IS NULL"
    with open_ledger(ws) as con:
        rows = con.execute(sql).fetchall()
    secret = workspace_key(ws)
    return sorted((Restriction(d, _opened(secret, k), *rest) for d, k, *rest in rows),
                  key=lambda r: (r.dataset, r.row_key))


__all__ = ["ScheduleEntry", "Restriction", "entries", "due", "restrictions", "key_json", "key_from_json",
           "SCHEDULED", "DONE", "GONE"]
