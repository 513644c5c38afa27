"""The erasure schedule and the restriction register (ledger tables).

When an erasure keeps a record because a retention rule still requires it, the record is **restricted** (Art. 18:
stored, not used — the register says which records, on what basis and until when) and **scheduled**: it is due for
erasure the day after its retention ends (`erasure.erase_due`, or a scheduled notebook, runs what has come due).
Records whose retention has not started (the anchor date is still empty) are scheduled without a date and looked at
again on every run. Rows are named by dataset and primary key (JSON), never by their content.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable

from ..values import json_safe
from ..workspace import Workspace
from .store import ledger_exists, open_ledger

SCHEDULED, DONE, GONE, SUPERSEDED = "scheduled", "done", "gone", "superseded"


def key_json(key: Iterable[Any]) -> str:

    return json.dumps(json_safe(list(key)), separators=(",", ":"), ensure_ascii=False)


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


ROWS_PER_STATEMENT = 200


def _chunks(items: list, n: int = ROWS_PER_STATEMENT):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def schedule(con, items: Iterable[tuple[str, str, dt.date | None, dt.date | None, str]], plan_id: str,
             case_id: str | None) -> int:
    """Put rows on the schedule (`items`: dataset, row_key, due_on, retain_until, basis) inside the caller's
    ledger transaction, many rows per statement. A row already scheduled is taken over by the newer decision."""
    items = list(items)
    now = _now()
    for part in _chunks(items):
        con.execute(f"INSERT INTO erasure_schedule ({_SCOLS}) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)"] * len(part)) +
                    " ON CONFLICT (dataset, row_key) DO UPDATE SET plan_id = excluded.plan_id, case_id = "
                    "excluded.case_id, due_on = excluded.due_on, retain_until = excluded.retain_until, basis = "
                    "excluded.basis, status = excluded.status, scheduled_at = excluded.scheduled_at, done_plan = "
                    "NULL, done_at = NULL",
                    [v for dataset, row_key, due_on, until, basis in part
                     for v in (dataset, row_key, plan_id, case_id, due_on, until, basis, SCHEDULED, now)])
    return len(items)


def _by_dataset(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for dataset, row_key in items:
        out.setdefault(dataset, []).append(row_key)
    return out


def finish(con, items: Iterable[tuple[str, str]], plan_id: str, status: str = DONE) -> None:
    """Mark scheduled rows erased (or gone) by `plan_id`, inside the caller's ledger transaction."""
    now = _now()
    for dataset, keys in _by_dataset(items).items():
        for part in _chunks(keys):
            con.execute(f"UPDATE erasure_schedule SET status = ?, done_plan = ?, done_at = ? WHERE dataset = ? AND "
                        f"row_key IN ({', '.join('?' for _ in part)})", [status, plan_id, now, dataset, *part])


def reschedule(con, dataset: str, row_key: str, due_on: dt.date | None, until: dt.date | None) -> None:
    con.execute("UPDATE erasure_schedule SET due_on = ?, retain_until = ? WHERE dataset = ? AND row_key = ?",
                [due_on, until, dataset, row_key])


def restrict(con, items: Iterable[tuple[str, str, str, dt.date | None]], plan_id: str, case_id: str | None) -> int:
    """Record restricted rows (`items`: dataset, row_key, basis, retain_until) in the register."""
    items = list(items)
    now = _now()
    for part in _chunks(items):
        con.execute(f"INSERT INTO restrictions ({_RCOLS}) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, NULL, NULL)"] * len(part)) +
                    " ON CONFLICT (dataset, row_key, plan_id) DO NOTHING",
                    [v for dataset, row_key, basis, until in part
                     for v in (dataset, row_key, plan_id, case_id, basis, until, now)])
    return len(items)


def lift(con, items: Iterable[tuple[str, str]], plan_id: str) -> None:
    """Lift the restrictions of rows that have now been erased."""
    now = _now()
    for dataset, keys in _by_dataset(items).items():
        for part in _chunks(keys):
            con.execute(f"UPDATE restrictions SET lifted_at = ?, lifted_by = ? WHERE dataset = ? AND lifted_at IS "
                        f"NULL AND row_key IN ({', '.join('?' for _ in part)})", [now, plan_id, dataset, *part])


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
        rows = con.execute(sql + " ORDER BY due_on, dataset, row_key", params).fetchall()
    return [ScheduleEntry(*r) for r in rows]


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
        return [Restriction(*r) for r in con.execute(sql + " ORDER BY dataset, row_key").fetchall()]


__all__ = ["ScheduleEntry", "Restriction", "entries", "due", "restrictions", "key_json", "key_from_json",
           "SCHEDULED", "DONE", "GONE"]
