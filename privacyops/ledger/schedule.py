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
from dataclasses import dataclass
from typing import Any, Iterable

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


ROWS_PER_STATEMENT = 200


def _secret(con) -> bytes | None:
    keys_dir = getattr(con, "keys_dir", None)
    return workspace_secret(keys_dir) if keys_dir is not None else None


def _sealed(secret: bytes | None, row_key: str) -> str:
    return sealing.seal_deterministic(secret, sealing.ROW_KEY, row_key) if secret else row_key


def _both(secret: bytes | None, keys: list[str]) -> list[str]:
    """The keys as stored now (sealed) and as an earlier privacyops stored them (clear)."""
    return [_sealed(secret, k) for k in keys] + (keys if secret else [])


def _opened(secret: bytes, row_key: str) -> str:
    return sealing.open_text(secret, sealing.ROW_KEY, row_key)


def _chunks(items: list, n: int = ROWS_PER_STATEMENT):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def schedule(con, items: Iterable[tuple[str, str, dt.date | None, dt.date | None, str]], plan_id: str,
             case_id: str | None) -> int:
    """Put rows on the schedule (`items`: dataset, row_key, due_on, retain_until, basis) inside the caller's
    ledger transaction, many rows per statement. A row already scheduled is taken over by the newer decision."""
    secret, items = _secret(con), list(items)
    if secret:  # a clear entry an earlier privacyops wrote for the same row is taken over too
        for dataset, keys in _by_dataset((d, k) for d, k, *_ in items).items():
            for part in _chunks(keys):
                con.execute(f"DELETE FROM erasure_schedule WHERE dataset = ? AND row_key IN "
                            f"({', '.join('?' for _ in part)})", [dataset, *part])
    items = [(d, _sealed(secret, k), due_on, until, basis) for d, k, due_on, until, basis in items]
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
    now, secret = _now(), _secret(con)
    for dataset, keys in _by_dataset(items).items():
        for part in _chunks(keys):
            both = _both(secret, part)
            con.execute(f"UPDATE erasure_schedule SET status = ?, done_plan = ?, done_at = ? WHERE dataset = ? AND "
                        f"row_key IN ({', '.join('?' for _ in both)})", [status, plan_id, now, dataset, *both])


def reschedule(con, dataset: str, row_key: str, due_on: dt.date | None, until: dt.date | None) -> None:
    both = _both(_secret(con), [row_key])
    con.execute(f"UPDATE erasure_schedule SET due_on = ?, retain_until = ? WHERE dataset = ? AND row_key IN "
                f"({', '.join('?' for _ in both)})", [due_on, until, dataset, *both])


def restrict(con, items: Iterable[tuple[str, str, str, dt.date | None]], plan_id: str, case_id: str | None) -> int:
    """Record restricted rows (`items`: dataset, row_key, basis, retain_until) in the register."""
    secret = _secret(con)
    items = [(d, _sealed(secret, k), basis, until) for d, k, basis, until in items]
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
    now, secret = _now(), _secret(con)
    for dataset, keys in _by_dataset(items).items():
        for part in _chunks(keys):
            both = _both(secret, part)
            con.execute(f"UPDATE restrictions SET lifted_at = ?, lifted_by = ? WHERE dataset = ? AND lifted_at IS "
                        f"NULL AND row_key IN ({', '.join('?' for _ in both)})", [now, plan_id, dataset, *both])


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
