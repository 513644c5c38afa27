"""The requests report: the register of data-subject requests (privacyops cases) against their deadlines.

`requests_report(ws, as_of)` reads the cases (`privacyops.cases`) as they stood on `as_of`: a case counts once it
was received, is open until the day it was closed, and is extended once the subject was told of the extension.
Figures: open cases by type and state (on time, due soon, overdue, extended); overdue and due-soon lists;
extensions with their reasons; the median time to close and the share closed within the deadline (Art. 12(3));
complaints received; requests received and closed per month (chart). The page is `templates/requests.html.j2`.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from ..ledger import CASE_TYPES, Case, add_months, audit, list_cases
from ..values import json_safe
from ..workspace import Workspace
from . import html as H
from .charts import bar_chart, month_range
from .retention_report import parse_as_of

OVERDUE, DUE_SOON, EXTENDED, ON_TIME = "overdue", "due soon", "extended", "on time"
CLOSED_ON_TIME, CLOSED_LATE = "closed on time", "closed late"


@dataclass
class CaseView:
    """One case as it stood on the report date."""

    case_id: str
    type: str
    received: dt.date
    due: dt.date
    deadline: dt.date  # the due date, or the extended one once the subject was told
    extended_due: dt.date | None
    extension_reason: str | None
    subject_informed: dt.date | None
    closed_on: dt.date | None  # None: open on the report date
    outcome: str | None
    state: str

    @property
    def open(self) -> bool:
        return self.closed_on is None

    @property
    def days_to_close(self) -> int | None:
        return (self.closed_on - self.received).days if self.closed_on else None

    def to_dict(self) -> dict[str, Any]:
        return json_safe({**self.__dict__, "open": self.open, "days_to_close": self.days_to_close})


@dataclass
class RequestsReport(H.ReportPage):
    """The request register on `as_of`: every case received by then, as it stood; `requests_report()` reads it."""

    page_name = "requests"
    template = "requests.html.j2"
    as_of: dt.date
    organisation: str
    map_fingerprint: str
    due_soon_days: int
    months: list[str]
    cases: list[CaseView] = field(default_factory=list)
    seconds: float = 0.0

    def open_cases(self) -> list[CaseView]:
        return [c for c in self.cases if c.open]

    def by_state(self, state: str) -> list[CaseView]:
        return [c for c in self.cases if c.state == state]

    def figures(self) -> dict[str, Any]:
        closed = [c for c in self.cases if not c.open]
        on_time = [c for c in closed if c.closed_on <= c.deadline]
        days = [c.days_to_close for c in closed]
        return {"received": len(self.cases), "open": len(self.open_cases()), "overdue": len(self.by_state(OVERDUE)),
                "due_soon": len(self.by_state(DUE_SOON)),
                "extended": sum(1 for c in self.cases if c.extended_due and c.deadline == c.extended_due),
                "closed": len(closed), "closed_on_time": len(on_time), "closed_late": len(closed) - len(on_time),
                "share_closed_on_time": round(len(on_time) / len(closed), 4) if closed else None,
                "median_days_to_close": statistics.median(days) if days else None,
                "complaints": sum(1 for c in self.cases if c.type == "complaint")}

    def table_by_type(self) -> list[dict[str, Any]]:
        types = [t for t in CASE_TYPES if any(c.type == t for c in self.cases)]
        types += sorted({c.type for c in self.cases} - set(types))
        out = []
        for t in types:
            cs = [c for c in self.cases if c.type == t]
            out.append({"type": t, "open": sum(c.open for c in cs),
                        **{s: sum(c.state == s for c in cs) for s in (ON_TIME, DUE_SOON, EXTENDED, OVERDUE,
                                                                    CLOSED_ON_TIME, CLOSED_LATE)},
                        "received": len(cs)})
        return out

    def monthly(self) -> dict[str, dict[str, int]]:
        out = {m: {"received": 0, "closed": 0} for m in self.months}
        for c in self.cases:
            for key, day in (("received", c.received), ("closed", c.closed_on)):
                if day and f"{day:%Y-%m}" in out:
                    out[f"{day:%Y-%m}"][key] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"report": "requests", "as_of": self.as_of, "organisation": self.organisation,
                          "map_fingerprint": self.map_fingerprint, "due_soon_days": self.due_soon_days,
                          "figures": self.figures(), "by_type": self.table_by_type(), "monthly": self.monthly(),
                          "cases": [c.to_dict() for c in self.cases], "seconds": round(self.seconds, 3)})

    def lines(self) -> list[str]:
        f = self.figures()
        share = f"{f['share_closed_on_time']:.0%}" if f["share_closed_on_time"] is not None else "-"
        median = f"{f['median_days_to_close']:g} days" if f["median_days_to_close"] is not None else "-"
        out = [f"Requests as of {self.as_of}: {f['received']} received, {f['open']} open, {f['closed']} closed",
               f"open: {f['overdue']} overdue, {f['due_soon']} due within {self.due_soon_days} days; "
               f"{f['extended']} extended in all",
               f"closed within the deadline: {f['closed_on_time']} of {f['closed']} ({share}); median time to close "
               f"{median}",
               f"complaints received: {f['complaints']}"]
        for row in self.table_by_type():
            out.append(f"  {row['type']:<20} received {row['received']:>4}  open {row['open']:>4}  overdue "
                       f"{row[OVERDUE]:>3}  closed late {row[CLOSED_LATE]:>3}")
        for c in self.by_state(OVERDUE):
            out.append(f"  OVERDUE {c.case_id} {c.type}, received {c.received}, due {c.deadline} "
                       f"({(self.as_of - c.deadline).days} days late)")
        return out

    # -- the page (templates/requests.html.j2) -----------------------------------------------------------------
    def chart_svg(self) -> str:
        """Requests received and closed per month (SVG)."""
        m = self.monthly()
        return bar_chart(self.months, {"received": [m[x]["received"] for x in self.months],
                                       "closed": [m[x]["closed"] for x in self.months]},
                         title=f"Requests received and closed per month (last {len(self.months)} months)",
                         stacked=False, y_label="requests", chart_id="requests-monthly",
                         colors=("#0072B2", "#009E73"))

    def page_context(self) -> dict[str, Any]:
        """What the page shows: the figures, the chart and the tables' rows."""
        f = self.figures()
        cols = ["type", "received", "open", ON_TIME, DUE_SOON, EXTENDED, OVERDUE, CLOSED_ON_TIME, CLOSED_LATE]
        overdue = sorted(self.by_state(OVERDUE), key=lambda c: c.deadline)
        soon = sorted(self.by_state(DUE_SOON), key=lambda c: c.deadline)
        monthly = self.monthly()
        return {
            "f": f, "due_soon_days": self.due_soon_days, "chart": self.chart_svg(),
            "share": f"{f['share_closed_on_time']:.0%}" if f["share_closed_on_time"] is not None else "–",
            "median": f"{f['median_days_to_close']:g} days" if f["median_days_to_close"] is not None else "–",
            "by_type": H.Table(cols, [tuple(r[c] for c in cols) for r in self.table_by_type()], numeric=cols[1:],
                               empty="No requests received.", table_id="by-type"),
            "overdue": H.Table(["case", "type", "received", "deadline", "days late"],
                               [(c.case_id, c.type, c.received, c.deadline, (self.as_of - c.deadline).days)
                                for c in overdue], numeric=["days late"],
                               empty="No open request is past its deadline.", table_id="overdue"),
            "soon": H.Table(["case", "type", "received", "deadline", "days left"],
                            [(c.case_id, c.type, c.received, c.deadline, (c.deadline - self.as_of).days)
                             for c in soon], numeric=["days left"],
                            empty=f"Nothing due within {self.due_soon_days} days."),
            "extended": H.Table(["case", "type", "received", "first due", "extended to", "subject told", "reason",
                                 "state"],
                                [(c.case_id, c.type, c.received, c.due, c.extended_due, c.subject_informed,
                                  c.extension_reason, c.state)
                                 for c in self.cases if c.extended_due and c.deadline == c.extended_due],
                                empty="No extensions.", table_id="extended"),
            "complaints": H.Table(["case", "received", "state", "outcome"],
                                  [(c.case_id, c.received, c.state, c.outcome or "") for c in self.cases
                                   if c.type == "complaint"], empty="No complaints."),
            "months": H.Table(["month", "received", "closed"],
                              [(x, monthly[x]["received"], monthly[x]["closed"]) for x in reversed(self.months)],
                              numeric=["received", "closed"]),
        }

    def title(self) -> str:
        return f"Requests report — {self.organisation}"

    def subtitle(self) -> str:
        return f"As of {self.as_of} · data-subject requests (Art. 12-22 GDPR) · the privacyops request register"

    def footer(self) -> str:
        return "Generated by privacyops from the case register. No personal data: cases are named by their id."


def view(case: Case, as_of: dt.date, due_soon_days: int) -> CaseView:
    """A case as it stood on `as_of` (closed later: still open then; extended later: not yet extended)."""
    closed_on = case.closed_at.date() if case.closed_at and case.closed_at.date() <= as_of else None
    told = case.subject_informed
    extended = case.extended_due if case.extended_due and (told is None or told <= as_of) else None
    deadline = extended or case.due
    if closed_on is not None:
        state = CLOSED_ON_TIME if closed_on <= deadline else CLOSED_LATE
    elif as_of > deadline:
        state = OVERDUE
    elif (deadline - as_of).days <= due_soon_days:
        state = DUE_SOON
    elif extended:
        state = EXTENDED
    else:
        state = ON_TIME
    return CaseView(case.case_id, case.type, case.received, case.due, deadline, extended,
                    case.extension_reason if extended else None, told if extended else None, closed_on,
                    case.outcome if closed_on else None, state)


def requests_report(ws: Workspace, as_of: dt.date | str | None = None, *, due_soon_days: int = 7,
                    months: int = 12, audit_log: bool = True) -> RequestsReport:
    """The request register on `as_of` (default today). See the module docstring."""
    as_of = parse_as_of(as_of)
    t0 = time.perf_counter()
    first = add_months(dt.date(as_of.year, as_of.month, 1), -(max(months, 1) - 1))
    labels = month_range(f"{first:%Y-%m}", f"{as_of:%Y-%m}")
    dm = ws.datamap
    cases = [view(c, as_of, due_soon_days) for c in list_cases(ws) if c.received <= as_of]
    report = RequestsReport(as_of, dm.organisation.name, dm.fingerprint, due_soon_days, labels, cases,
                            time.perf_counter() - t0)
    if audit_log:
        f = report.figures()
        audit.record(ws, "report.requests", {"as_of": as_of.isoformat(), "open": f["open"], "overdue": f["overdue"],
                                             "received": f["received"]})
    return report


__all__ = ["requests_report", "RequestsReport", "CaseView", "view"]
