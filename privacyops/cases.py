"""Cases: the register of data-subject requests, with their deadlines (Art. 12(3) GDPR).

A request must be answered within one month of receipt; the month ends on the same day of the next month, or on
that month's last day when the day does not exist (31 January -> 28/29 February).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from .errors import CaseError
from .ledger import ledger_exists, open_ledger
from .workspace import Workspace, current_actor

CASE_TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection",
              "consent-withdrawal", "complaint")
OPEN, CLOSED = "open", "closed"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the last day of that month when it has no such day."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Case:
    case_id: str
    type: str
    status: str
    received: dt.date
    due: dt.date
    channel: str | None
    verified_by: str | None
    opened_by: str
    opened_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "type": self.type, "status": self.status,
                "received": self.received.isoformat(), "due": self.due.isoformat(), "channel": self.channel,
                "verified_by": self.verified_by, "opened_by": self.opened_by,
                "opened_at": self.opened_at.isoformat()}


_COLS = "case_id, type, status, received, due, channel, verified_by, opened_by, opened_at"


def _case(row: tuple) -> Case:
    return Case(*row)


def open_case(ws: Workspace, case_type: str, received: dt.date | str, *, channel: str | None = None,
              verified_by: str | None = None, subject: str | None = None) -> Case:
    """Register a request; its due date is one month from receipt. `subject` is kept only as a keyed hash."""
    from . import audit  # audit imports workspace; late import keeps module load order simple

    if case_type not in CASE_TYPES:
        raise CaseError(f"unknown case type '{case_type}'; allowed: {', '.join(CASE_TYPES)}")
    if isinstance(received, str):
        try:
            received = dt.date.fromisoformat(received)
        except ValueError:
            raise CaseError(f"received date '{received}' is not a valid date written YYYY-MM-DD") from None
    due = add_months(received, 1)
    actor = current_actor()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    s_hash = audit.subject_hash(ws, subject) if subject else None
    with open_ledger(ws) as con:
        with con.transaction(lock=True):  # numbering: two analysts opening cases at once get different ids
            n = con.execute("SELECT count(*) FROM cases WHERE case_id LIKE ?",
                            [f"DSR-{received.year}-%"]).fetchone()[0]
            case_id = f"DSR-{received.year}-{n + 1:04d}"
            con.execute(f"INSERT INTO cases ({_COLS}, subject_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [case_id, case_type, OPEN, received, due, channel, verified_by, actor, now, s_hash])
    audit.record(ws, "case.open", {"type": case_type, "received": received.isoformat(), "due": due.isoformat(),
                                   "channel": channel}, case_id=case_id, subject=subject)
    return get_case(ws, case_id)


def get_case(ws: Workspace, case_id: str) -> Case:
    if not ledger_exists(ws):
        raise CaseError(f"unknown case '{case_id}': this workspace has no cases yet (privacyops case open ...)")
    with open_ledger(ws) as con:
        row = con.execute(f"SELECT {_COLS} FROM cases WHERE case_id = ?", [case_id]).fetchone()
    if not row:
        raise CaseError(f"unknown case '{case_id}'; see `privacyops case list`")
    return _case(row)


def list_cases(ws: Workspace, status: str | None = None) -> list[Case]:
    if not ledger_exists(ws):
        return []
    sql, params = f"SELECT {_COLS} FROM cases", []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    with open_ledger(ws) as con:
        return [_case(r) for r in con.execute(sql + " ORDER BY received, case_id", params).fetchall()]
