"""Cases: the register of data-subject requests, with their deadlines (Art. 12(3) GDPR).

A request must be answered within one month of receipt; the month ends on the same day of the next month, or on
that month's last day when the day does not exist (31 January -> 28/29 February).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import CaseError
from ..values import iso_date
from ..workspace import Workspace, current_actor
from . import audit
from .store import ledger_exists, open_ledger

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
    extended_due: dt.date | None = None
    extension_reason: str | None = None
    subject_informed: dt.date | None = None  # when the subject was told of the extension (Art. 12(3))
    closed_at: dt.datetime | None = None
    outcome: str | None = None

    @property
    def deadline(self) -> dt.date:
        """The date the answer is due: the extended one when the case was extended."""
        return self.extended_due or self.due

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda v: v.isoformat() if v else None)
        return {"case_id": self.case_id, "type": self.type, "status": self.status,
                "received": self.received.isoformat(), "due": self.due.isoformat(), "channel": self.channel,
                "verified_by": self.verified_by, "opened_by": self.opened_by,
                "opened_at": self.opened_at.isoformat(), "extended_due": iso(self.extended_due),
                "extension_reason": self.extension_reason, "subject_informed": iso(self.subject_informed),
                "deadline": self.deadline.isoformat(), "closed_at": iso(self.closed_at), "outcome": self.outcome}


_COLS = ("case_id, type, status, received, due, channel, verified_by, opened_by, opened_at, extended_due, "
         "extension_reason, subject_informed, closed_at, outcome")
_INSERT_COLS = "case_id, type, status, received, due, channel, verified_by, opened_by, opened_at"
MAX_EXTENSION_MONTHS = 2  # Art. 12(3): "extended by two further months where necessary"


def _case(row: tuple) -> Case:
    return Case(*row)


def open_case(ws: Workspace, case_type: str, received: dt.date | str, *, channel: str | None = None,
              verified_by: str | None = None, subject: str | None = None) -> Case:
    """Register a request; its due date is one month from receipt. `subject` is kept only as a keyed hash."""

    if case_type not in CASE_TYPES:
        raise CaseError(f"unknown case type '{case_type}'; allowed: {', '.join(CASE_TYPES)}")
    if isinstance(received, str):
        try:
            received = iso_date(received)  # strict: YYYY-MM-DD, ASCII digits, a year a due date can follow
        except ValueError as exc:
            raise CaseError(f"received date '{received}' is not a valid date written YYYY-MM-DD ({exc})") from None
    due = add_months(received, 1)
    actor = current_actor()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    s_hash = audit.subject_hash(ws, subject) if subject else None
    with open_ledger(ws) as con:
        with con.transaction(lock=True):  # numbering: two analysts opening cases at once get different ids
            n = con.execute("SELECT count(*) FROM cases WHERE case_id LIKE ?",
                            [f"DSR-{received.year}-%"]).fetchone()[0]
            case_id = f"DSR-{received.year}-{n + 1:04d}"
            con.execute(f"INSERT INTO cases ({_INSERT_COLS}, subject_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [case_id, case_type, OPEN, received, due, channel, verified_by, actor, now, s_hash])
            audit.record(ws, "case.open", {"type": case_type, "received": received.isoformat(),
                                           "due": due.isoformat(), "channel": channel}, case_id=case_id,
                         subject=subject, con=con)
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


def _date(value: dt.date | str | None, what: str, default: dt.date | None = None) -> dt.date:
    if value is None:
        if default is None:
            raise CaseError(f"{what} is required (YYYY-MM-DD)")
        return default
    if isinstance(value, dt.date):
        return value
    try:
        return iso_date(value)
    except ValueError as exc:
        raise CaseError(f"{what} '{value}' is not a valid date written YYYY-MM-DD ({exc})") from None


def extend_case(ws: Workspace, case_id: str, months: int, reason: str, *,
                informed: dt.date | str | None = None, today: dt.date | None = None) -> Case:
    """Extend the deadline by 1 or 2 months in all (Art. 12(3)): only before the first due date, with a reason,
    and only once the subject has been told (the date is recorded)."""

    case = get_case(ws, case_id)
    today = today or dt.date.today()
    informed_on = _date(informed, "the date the subject was informed", default=today)
    if case.status != OPEN:
        raise CaseError(f"case {case_id} is {case.status}; only open cases can be extended")
    if not reason or not reason.strip():
        raise CaseError("an extension needs its reason (complexity, number of requests), which the subject is told")
    if today > case.due:
        raise CaseError(f"case {case_id} was due on {case.due}: an extension must be decided and the subject told "
                        f"within the first month (Art. 12(3)); it is now too late to extend")
    if informed_on > case.due or informed_on < case.received:
        raise CaseError(f"the subject must be told of the extension between receipt ({case.received}) and the first "
                        f"due date ({case.due}); {informed_on} is outside it")
    already = _months_between(case.received, case.extended_due) - 1 if case.extended_due else 0
    if months not in (1, 2) or already + months > MAX_EXTENSION_MONTHS:
        raise CaseError(f"a case can be extended by {MAX_EXTENSION_MONTHS} months at most in all; this one has "
                        f"{already} already, so {months} more is not allowed")
    new_due = add_months(case.received, 1 + already + months)
    with open_ledger(ws) as con, con.transaction(lock=True):  # the change and its audit entry commit together
        con.execute("UPDATE cases SET extended_due = ?, extension_reason = ?, subject_informed = ? "
                    "WHERE case_id = ?", [new_due, reason.strip(), informed_on, case_id])
        audit.record(ws, "case.extend", {"months": months, "extended_due": new_due.isoformat(),
                                         "subject_informed": informed_on.isoformat()}, case_id=case_id, con=con)
    return get_case(ws, case_id)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def close_case(ws: Workspace, case_id: str, outcome: str, *, at: dt.datetime | dt.date | None = None) -> Case:
    """Close a case with its outcome (what was done, or why the request was refused); `at`: when it was closed
    (default now; a date means noon that day), never before the case was received."""

    case = get_case(ws, case_id)
    if case.status == CLOSED:
        raise CaseError(f"case {case_id} is already closed ({case.outcome})")
    if not outcome or not outcome.strip():
        raise CaseError("closing a case needs its outcome, e.g. 'archive sent 2026-12-01' or 'refused: identity "
                        "not verified'")
    if at is None:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    elif isinstance(at, dt.datetime):
        now = at.replace(tzinfo=None) if at.tzinfo is None else at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    elif isinstance(at, dt.date):
        now = dt.datetime.combine(at, dt.time(12))
    else:
        raise CaseError(f"closing time '{at}' is not a date or a date and time")
    if now.date() < case.received:
        raise CaseError(f"case {case_id} was received on {case.received}; it cannot be closed before that "
                        f"({now.date()})")
    late = now.date() > case.deadline
    with open_ledger(ws) as con, con.transaction(lock=True):  # the change and its audit entry commit together
        con.execute("UPDATE cases SET status = ?, closed_at = ?, outcome = ? WHERE case_id = ?",
                    [CLOSED, now, outcome.strip(), case_id])
        audit.record(ws, "case.close", {"on_time": not late, "deadline": case.deadline.isoformat()},
                     case_id=case_id, con=con)
    return get_case(ws, case_id)
