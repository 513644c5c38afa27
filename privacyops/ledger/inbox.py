"""The request inbox: the register's cases as an analyst works them — who (the subject's reference, never their
data), what, received, due (the extended date when extended), days left, overdue — filtered and sorted.

`request_inbox` is what `privacyops case list`, the inbox panel and notebook 00 show. A case names its subject by
a reference into the data map (`DATASET:KEY`, e.g. `crm.customers:17`), recorded with `set_subject_ref` once the
analyst knows who the request is about; the identifier the request came with is kept only as a keyed hash.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..errors import CaseError
from ..workspace import Workspace
from . import audit
from .cases import CASE_TYPES, CLOSED, OPEN, get_case
from .store import LedgerConnection, ledger_exists, open_ledger

ALL = "all"
STATUSES = (OPEN, CLOSED, ALL)
# Sort orders: the key and whether the latest comes first. "due" puts the most urgent (overdue) first, and the
# open cases before the closed ones when both are listed.
SORTS = {"due": (("closed_last", "deadline", "case_id"), False), "received": (("received", "case_id"), False),
         "newest": (("received", "case_id"), True), "case": (("case_id",), False),
         "type": (("type", "closed_last", "deadline", "case_id"), False)}


@dataclass(frozen=True)
class InboxRow:
    """One request in the inbox. `due` is the deadline in force (the extended one when extended); `days_left` is
    negative when overdue and None for a closed case."""

    case_id: str
    type: str
    status: str
    subject_ref: str | None
    received: dt.date
    due: dt.date
    first_due: dt.date
    extended: bool
    days_left: int | None
    overdue: bool

    @property
    def deadline(self) -> dt.date:
        return self.due

    @property
    def closed_last(self) -> bool:
        return self.status != OPEN

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "type": self.type, "status": self.status, "subject_ref": self.subject_ref,
                "received": self.received.isoformat(), "due": self.first_due.isoformat(),
                "deadline": self.due.isoformat(), "extended": self.extended, "days_left": self.days_left,
                "overdue": self.overdue}  # "due"/"deadline" as in Case.to_dict: the first and the one in force


def request_inbox(ws: Workspace, *, today: dt.date | str | None = None, case_type: str | None = None,
                  status: str = OPEN, overdue_only: bool = False, sort: str = "due") -> list[InboxRow]:
    """The cases of the register as inbox rows: `status` open (default), closed or all; only `case_type`; only
    those overdue on `today` (default today); sorted by `sort` (due, received, newest, case, type)."""
    today = _day(today)
    if case_type and case_type not in CASE_TYPES:
        raise CaseError(f"unknown case type '{case_type}'; allowed: {', '.join(CASE_TYPES)}")
    if status not in STATUSES:
        raise CaseError(f"unknown case status '{status}'; allowed: {', '.join(STATUSES)}")
    if sort not in SORTS:
        raise CaseError(f"unknown sort order '{sort}'; allowed: {', '.join(SORTS)}")
    if not ledger_exists(ws):
        return []
    where, params = [], []
    if status != ALL:
        where.append("status = ?")
        params.append(status)
    if case_type:
        where.append("type = ?")
        params.append(case_type)
    if overdue_only:  # overdue: still open after the deadline in force
        where.append("status = ? AND COALESCE(extended_due, due) < ?")
        params += [OPEN, today]
    sql = ("SELECT case_id, type, status, subject_ref, received, due, extended_due FROM cases"
           + (" WHERE " + " AND ".join(where) if where else ""))
    with open_ledger(ws, read_only=ws.datamap.ledger.kind == "duckdb") as con:
        got = con.execute(sql, params).fetchall()
    rows = [_row(r, today) for r in got]
    fields, reverse = SORTS[sort]
    return sorted(rows, key=lambda r: tuple(getattr(r, f) for f in fields), reverse=reverse)


def _row(r: tuple, today: dt.date) -> InboxRow:
    case_id, ctype, status, ref, received, due, extended_due = r
    deadline = extended_due or due
    is_open = status == OPEN
    return InboxRow(case_id=case_id, type=ctype, status=status, subject_ref=ref, received=received, due=deadline,
                    first_due=due, extended=extended_due is not None,
                    days_left=(deadline - today).days if is_open else None,
                    overdue=is_open and today > deadline)


def _day(value: dt.date | str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CaseError(f"the date '{value}' is not a valid date written YYYY-MM-DD") from None


def set_subject_ref(ws: Workspace, case_id: str, ref: str) -> InboxRow:
    """Record who the case is about as a reference into the data map (`DATASET:KEY`, e.g. `crm.customers:17`):
    the inbox shows it, and the panels open the case's subject from it. Audited (the reference as a keyed hash)."""
    case = get_case(ws, case_id)
    dataset, sep, key = (ref or "").strip().partition(":")
    if not sep or not key.strip() or dataset not in ws.datamap.datasets:
        raise CaseError(f"'{ref}' is not a subject reference: write DATASET:KEY with a dataset of the map, e.g. "
                        f"{next(iter(ws.datamap.datasets), 'DATASET')}:17 (a lookup shows the person's "
                        f"reference in brackets)")
    ref = f"{dataset}:{key.strip()}"
    with open_ledger(ws) as con, con.transaction(lock=True):  # the change and its audit entry commit together
        con.execute("UPDATE cases SET subject_ref = ? WHERE case_id = ?", [ref, case.case_id])
        audit.record(ws, "case.subject", {"dataset": dataset}, case_id=case.case_id, subject=ref, con=con)
    return next(r for r in request_inbox(ws, status=ALL) if r.case_id == case.case_id)


def remember_subject(con: LedgerConnection, case_id: str, ref: str) -> bool:
    """A lookup under a case found one person: record them as the case's subject when none is recorded yet, in the
    caller's transaction (the lookup's audit entry says so). A recorded subject is never replaced this way
    (`set_subject_ref` changes it). True when recorded now."""
    if con.execute("SELECT count(*) FROM cases WHERE case_id = ? AND subject_ref IS NULL",
                   [case_id]).fetchone()[0] == 0:
        return False
    con.execute("UPDATE cases SET subject_ref = ? WHERE case_id = ?", [ref, case_id])
    return True
