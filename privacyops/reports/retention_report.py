"""The retention report: what is stored longer than the map's retention rules allow (storage limitation,
Art. 5(1)(e)), what comes due, and where data sits or goes outside the EU/EEA.

`retention_report(ws, as_of)` computes, per dataset with a retention rule, set-based in the dataset's own store
(`sqldates`): records in total; **overdue** (the rule's period ended before `as_of` and the record is still stored);
due within 30 and 90 days; the oldest overdue record's end date; records whose rule has not started (the anchor is
empty: `from: closed_at` of an open account), counted apart; records a `keep_while_empty` rule keeps while the anchor
is empty (an item not yet returned) counted apart again, as **open-ended**: needed, never overdue. Each store answers
one grouped query (how many records end on each day), never the rows; an anchor through a reference
(`member_id.left_on`) joins the referenced dataset in the same store, or fetches its dates in chunks from another
(`erasure.retention_sql.end_dates`). It adds, from the ledger: records a legal hold keeps (`holds`), the Art. 18
restriction register and the erasure schedule (`schedule`); from the map: personal datasets without a retention
rule, systems and recipients outside the EU/EEA.

The page is `templates/retention.html.j2`. What a sweep would erase is `retention_sweep` (retention_sweep.py).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from ..erasure.retention import as_date, erasable_from, is_binding
from ..erasure.retention_sql import add_period_sql, anchor_sql, date_of, dialect_of, end_dates, via_reference
from ..errors import PrivacyOpsError
from ..ledger import add_months, audit, holds, schedule
from ..map import EU_EEA, Dataset
from ..values import iso_date, json_safe
from ..workspace import Workspace
from . import html as H
from .charts import bar_chart, month_range

DUE_SOON = (30, 90)


class ReportError(PrivacyOpsError):
    exit_code = 2


def parse_as_of(value: dt.date | str | None) -> dt.date:
    """The report date: a date, 'YYYY-MM-DD', or None for today."""
    if value is None or value == "":
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return iso_date(value)  # strict: YYYY-MM-DD in ASCII digits, a plausible year
    except ValueError as exc:
        raise ReportError(f"as_of '{value}' is not a date written YYYY-MM-DD ({exc})") from None


@dataclass
class DatasetRetention:
    """One dataset's retention figures on the report date."""

    dataset: str
    source: str
    rule: str | None
    keep: str = ""
    anchor: str = ""
    ground: str = ""
    binding: bool = False  # the rule also holds against an erasure request (a legal obligation)
    while_empty: bool = False  # the rule keeps records while their anchor is empty (keep_while_empty)
    anchor_column: str = ""  # the anchor's column as written (`returned_at`, `member_id.left_on`)
    personal: bool = True
    total: int = 0
    not_started: int = 0  # anchor empty: the period has not started
    open_ended: int = 0  # anchor empty under a keep_while_empty rule: kept, needed, never overdue
    overdue: int = 0
    due_30: int = 0
    due_90: int = 0
    oldest_overdue: dt.date | None = None  # the earliest last day among overdue records
    held: int = 0  # overdue records a legal hold on the dataset keeps
    hold_ids: list[str] = field(default_factory=list)
    restricted: int = 0  # active entries of the restriction register (Art. 18)
    scheduled_due: int = 0  # erasure-schedule entries due by the report date (run: privacyops erase --due)
    by_month: dict[str, int] = field(default_factory=dict)  # records becoming erasable per month
    ends: dict[dt.date, int] = field(default_factory=dict, repr=False)  # last day -> records (the query's answer)
    error: str | None = None

    @property
    def breach(self) -> int:
        """Overdue records no hold explains."""
        return max(self.overdue - self.held, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "source": self.source, "rule": self.rule, "keep": self.keep,
                "anchor": self.anchor, "ground": self.ground, "binding": self.binding,
                "kept_while_empty": self.while_empty, "personal": self.personal,
                "total": self.total, "not_started": self.not_started, "open_ended": self.open_ended,
                "overdue": self.overdue,
                "overdue_not_held": self.breach, "due_30_days": self.due_30, "due_90_days": self.due_90,
                "oldest_overdue_until": self.oldest_overdue.isoformat() if self.oldest_overdue else None,
                "held": self.held, "hold_ids": self.hold_ids, "restricted": self.restricted,
                "scheduled_due": self.scheduled_due, "due_by_month": self.by_month, "error": self.error}


@dataclass
class RetentionReport(H.ReportPage):
    """The retention figures on `as_of`, per dataset and in all; `retention_report()` computes them."""

    page_name = "retention"
    template = "retention.html.j2"
    as_of: dt.date
    organisation: str
    map_fingerprint: str
    horizon_months: int
    datasets: list[DatasetRetention]
    without_rule: list[dict[str, Any]]
    sources_outside_eu: list[dict[str, Any]]
    recipients_outside_eu: list[dict[str, Any]]
    subject_holds: list[dict[str, Any]]
    months: list[str]
    seconds: float = 0.0

    # -- figures ----------------------------------------------------------------------------------------------------
    def total(self, attr: str) -> int:
        return sum(getattr(d, attr) for d in self.datasets if d.rule)

    @property
    def errors(self) -> list[str]:
        return [f"{d.dataset}: {d.error}" for d in self.datasets if d.error]

    @property
    def oldest_overdue(self) -> DatasetRetention | None:
        over = [d for d in self.datasets if d.oldest_overdue]
        return min(over, key=lambda d: d.oldest_overdue) if over else None

    def figures(self) -> dict[str, Any]:
        oldest = self.oldest_overdue
        return {"records": self.total("total"), "overdue": self.total("overdue"),
                "overdue_not_held": self.total("breach"), "held": self.total("held"),
                "due_30_days": self.total("due_30"), "due_90_days": self.total("due_90"),
                "not_started": self.total("not_started"), "open_ended": self.total("open_ended"),
                "restricted": sum(d.restricted for d in self.datasets),
                "scheduled_due": sum(d.scheduled_due for d in self.datasets),
                "datasets_with_overdue": sum(1 for d in self.datasets if d.overdue),
                "datasets_without_rule": len(self.without_rule),
                "sources_outside_eu": len(self.sources_outside_eu),
                "recipients_outside_eu": len(self.recipients_outside_eu),
                "oldest_overdue": ({"dataset": oldest.dataset, "until": oldest.oldest_overdue.isoformat(),
                                    "days_overdue": (self.as_of - erasable_from(oldest.oldest_overdue)).days}
                                   if oldest else None)}

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"report": "retention", "as_of": self.as_of, "organisation": self.organisation,
                          "map_fingerprint": self.map_fingerprint, "figures": self.figures(),
                          "datasets": [d.to_dict() for d in self.datasets], "without_rule": self.without_rule,
                          "sources_outside_eu": self.sources_outside_eu,
                          "recipients_outside_eu": self.recipients_outside_eu, "subject_holds": self.subject_holds,
                          "due_by_month": {m: sum(d.by_month.get(m, 0) for d in self.datasets) for m in self.months},
                          "errors": self.errors, "seconds": round(self.seconds, 3)})

    @property
    def any_while_empty(self) -> bool:
        """Whether a rule keeps records while their anchor is empty (then the open-ended count is shown)."""
        return any(d.while_empty for d in self.datasets if d.rule)

    def lines(self) -> list[str]:
        """The key figures as text (stable for a given as_of: what the notebook checks; the open-ended line and
        column appear only when a rule keeps records while their anchor is empty, so other maps read as before)."""
        f = self.figures()
        rules = {d.rule for d in self.datasets if d.rule}
        wide = self.any_while_empty
        out = [f"Retention as of {self.as_of}: {f['records']:,} records under {len(rules)} retention rules in "
               f"{sum(1 for d in self.datasets if d.rule)} datasets",
               f"overdue (kept past their rule): {f['overdue']:,} in {f['datasets_with_overdue']} datasets "
               f"({f['held']:,} under a legal hold)",
               f"due within 30 days: {f['due_30_days']:,}; within 90 days: {f['due_90_days']:,}",
               f"retention not started (anchor empty): {f['not_started']:,}"]
        if wide:
            out.append(f"kept while the anchor is empty (open-ended, still needed): {f['open_ended']:,}")
        width = max([len(d.dataset) for d in self.datasets] + [10])
        out.append(f"  {'dataset':<{width}} {'rule':<18}{'records':>10}{'overdue':>10}{'due 30d':>9}{'due 90d':>9}"
                   f"{'not started':>13}" + (f"{'open-ended':>12}" if wide else "") + "  oldest overdue")
        for d in self.datasets:
            if not d.rule:
                continue
            out.append(f"  {d.dataset:<{width}} {d.rule:<18}{d.total:>10,}{d.overdue:>10,}{d.due_30:>9,}"
                       f"{d.due_90:>9,}{d.not_started:>13,}" + (f"{d.open_ended:>12,}" if wide else "")
                       + f"  {d.oldest_overdue or '-'}" + (f"  ERROR {d.error}" if d.error else ""))
        out.append("personal data without a retention rule: " +
                   (", ".join(w["dataset"] for w in self.without_rule) or "none"))
        out.append("systems outside the EU/EEA: " + (", ".join(f"{s['source']} ({s['location']})"
                                                              for s in self.sources_outside_eu) or "none"))
        out.append("recipients outside the EU/EEA: " + (", ".join(f"{r['recipient']} ({r['location']})"
                                                                 for r in self.recipients_outside_eu) or "none"))
        return out

    # -- the page (templates/retention.html.j2) ----------------------------------------------------------------
    def chart_svg(self) -> str:
        """Records coming due per month, one colour per dataset (SVG)."""
        names = [d.dataset for d in self.datasets if any(d.by_month.values())]
        series = {n: [next(d for d in self.datasets if d.dataset == n).by_month.get(m, 0) for m in self.months]
                  for n in names}
        return bar_chart(self.months, series or {"records": [0] * len(self.months)},
                         title=f"Records coming due for erasure per month (next {self.horizon_months} months)",
                         y_label="records", chart_id="erasures-due")

    def page_context(self) -> dict[str, Any]:
        """What the page shows: the figures, the chart and the tables' rows."""
        errors = self.errors
        ruled = [d for d in self.datasets if d.rule]
        charted = [d for d in self.datasets if any(d.by_month.values())]
        counts = ["records", "overdue", "held", "due ≤30 d", "due ≤90 d", "not started", "open-ended",
                  "oldest overdue", "restricted", "scheduled, due"]
        per_dataset = H.Table(
            ["dataset", "rule", "keep", *counts, *(["error"] if errors else [])],
            [(d.dataset, d.rule, f"{d.keep} from {d.anchor}" + (f"; kept while {d.anchor_column} is empty"
                                                                 if d.while_empty else ""),
              d.total, d.overdue, d.held, d.due_30, d.due_90, d.not_started, d.open_ended,
              d.oldest_overdue.isoformat() if d.oldest_overdue else "", d.restricted, d.scheduled_due,
              *([d.error or ""] if errors else [])) for d in ruled], numeric=counts, table_id="per-dataset")
        rules = H.Table(["dataset", "rule", "keep", "from", "ground", "binding against erasure"],
                        [(d.dataset, d.rule, d.keep, d.anchor, d.ground,
                          ("yes (legal obligation)" if d.binding else "no (a maximum)")
                          + (f"; yes while {d.anchor_column} is empty (kept, open-ended)" if d.while_empty else ""))
                         for d in ruled])
        months = H.Table(["month", *[d.dataset for d in charted], "total"],
                         [(m, *[d.by_month.get(m, 0) for d in charted], sum(d.by_month.get(m, 0) for d in charted))
                          for m in self.months], numeric=[*[d.dataset for d in charted], "total"])
        without_rule = H.Table(["dataset", "source", "personal fields"],
                               [(w["dataset"], w["source"], ", ".join(w["fields"])) for w in self.without_rule])
        sources = H.Table(["source", "kind", "location", "datasets"],
                          [(s["source"], s["kind"], s["location"], ", ".join(s["datasets"]))
                           for s in self.sources_outside_eu])
        recipients = H.Table(["recipient", "location", "role", "safeguards", "datasets"],
                             [(r["recipient"], r["location"], r["role"], r["safeguards"] or "NONE DOCUMENTED",
                               ", ".join(r["datasets"])) for r in self.recipients_outside_eu])
        holds_table = H.Table(["hold", "scope", "dataset", "reason", "owner", "since"],
                              [(h["hold_id"], h["scope"], h["dataset"] or "", h["reason"], h["owner"], h["since"])
                               for h in self.subject_holds], empty="no legal hold on a subject")
        return {"f": self.figures(), "errors": errors, "chart": self.chart_svg(), "per_dataset": per_dataset,
                "rules": rules, "months": months, "without_rule": without_rule, "sources": sources,
                "recipients": recipients, "holds": holds_table}

    def title(self) -> str:
        return f"Retention report — {self.organisation}"

    def subtitle(self) -> str:
        return (f"As of {self.as_of} · storage limitation (Art. 5(1)(e) GDPR) · map {self.map_fingerprint[:12]} · "
                f"computed in {self.seconds:.1f} s")

    def footer(self) -> str:
        return ("Generated by privacyops. Counts only: no personal data. Overdue records are erased through an "
                "approved erasure plan (privacyops erase), never by this report.")


# ---------------------------------------------------------------------------------------------------------------
# Computing.


def _personal_fields(ds: Dataset) -> list[str]:
    return [f.name for f in ds.fields.values() if f.personal]


def _month(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def dataset_end_dates(ws: Workspace, ds: Dataset) -> dict[dt.date | None, int]:
    """{last day kept: records} for one dataset (None: the anchor is empty), computed in the dataset's store.

    An anchor on the dataset's own column: the records are first counted per anchor day, then the rule's end date is
    computed once per day (the end depends on the day only: `anchor_sql` reads the column's date), so the date
    arithmetic runs over a few thousand days, not millions of rows (5-15x faster at 1M). An anchor through a
    reference: joined in the store, or fetched in chunks from the referenced store (`retention_sql.end_dates`)."""
    if via_reference(ws, ds) is not None:
        return end_dates(ws, ds)
    dm = ws.datamap
    rule = dm.retention[ds.retention]
    con = ws.connector(ds.source)
    dialect = dialect_of(dm.sources[ds.source].kind)
    end = add_period_sql(dialect, anchor_sql(dialect, "d", rule.anchor, dm.settings), rule.keep)
    sql = (f"SELECT {end} AS e, sum(n) AS n FROM (SELECT {date_of(dialect, con.quote(rule.anchor.field))} AS d, "
           f"count(*) AS n FROM {con.relation(ds)} GROUP BY {date_of(dialect, con.quote(rule.anchor.field))}) g "
           f"GROUP BY {end}")
    out: dict[dt.date | None, int] = {}
    for e, n in con.execute(sql).rows:
        day = as_date(e)
        out[day] = out.get(day, 0) + int(n)
    return out


def retention_report(ws: Workspace, as_of: dt.date | str | None = None, *, horizon_months: int = 12,
                     audit_log: bool = True) -> RetentionReport:
    """The retention figures on `as_of` (default today). See the module docstring."""
    as_of = parse_as_of(as_of)
    t0 = time.perf_counter()
    dm = ws.datamap
    active = holds.list_holds(ws)
    dataset_holds: dict[str, list[str]] = {}
    for h in active:
        if h.scope == holds.DATASET and h.dataset:
            dataset_holds.setdefault(h.dataset, []).append(h.hold_id)
    restricted: dict[str, int] = {}
    for r in schedule.restrictions(ws):
        restricted[r.dataset] = restricted.get(r.dataset, 0) + 1
    scheduled: dict[str, int] = {}
    for s in schedule.entries(ws):
        if s.due_on is not None and s.due_on <= as_of:
            scheduled[s.dataset] = scheduled.get(s.dataset, 0) + 1
    first_month = dt.date(as_of.year, as_of.month, 1)
    months = month_range(_month(first_month), _month(add_months(first_month, max(horizon_months, 1) - 1)))
    horizon_end = add_months(first_month, max(horizon_months, 1))  # first day after the chart's last month

    out: list[DatasetRetention] = []
    with ws.session():
        for ds in dm.datasets.values():
            personal = bool(_personal_fields(ds))
            if not ds.retention or ds.retention not in dm.retention:
                out.append(DatasetRetention(ds.name, ds.source, None, personal=personal,
                                            restricted=restricted.get(ds.name, 0),
                                            scheduled_due=scheduled.get(ds.name, 0)))
                continue
            rule = dm.retention[ds.retention]
            d = DatasetRetention(ds.name, ds.source, rule.name, str(rule.keep), str(rule.anchor), rule.ground,
                                 is_binding(dm, ds), rule.keep_while_empty, rule.anchor.column, personal,
                                 restricted=restricted.get(ds.name, 0), scheduled_due=scheduled.get(ds.name, 0))
            try:
                ends = dataset_end_dates(ws, ds)
            except PrivacyOpsError as exc:
                d.error = str(exc)
                out.append(d)
                continue
            d.by_month = {m: 0 for m in months}
            for end, n in ends.items():
                d.total += n
                if end is None:  # kept while empty: needed, open-ended; else the period has not started
                    if rule.keep_while_empty:
                        d.open_ended += n
                    else:
                        d.not_started += n
                    continue
                d.ends[end] = n
                free = erasable_from(end)
                if free <= as_of:
                    d.overdue += n
                    d.oldest_overdue = end if d.oldest_overdue is None else min(d.oldest_overdue, end)
                    continue
                if (free - as_of).days <= DUE_SOON[0]:
                    d.due_30 += n
                if (free - as_of).days <= DUE_SOON[1]:
                    d.due_90 += n
                if free < horizon_end:
                    d.by_month[_month(free)] = d.by_month.get(_month(free), 0) + n
            if ds.name in dataset_holds:
                d.hold_ids = dataset_holds[ds.name]
                d.held = d.overdue
            out.append(d)

    without_rule = [{"dataset": ds.name, "source": ds.source, "fields": _personal_fields(ds)}
                    for ds in dm.datasets.values() if _personal_fields(ds) and not ds.retention]
    src_out = [{"source": s.name, "kind": s.kind, "location": s.location,
                "datasets": [d.name for d in dm.datasets.values() if d.source == s.name]}
               for s in dm.sources.values() if s.location not in EU_EEA]
    rec_out = [{"recipient": r.name, "location": r.location, "role": r.role, "safeguards": r.safeguards,
                "description": r.description,
                "datasets": [d.name for d in dm.datasets.values() if r.name in d.recipients]}
               for r in dm.recipients.values() if r.location and r.location not in EU_EEA]
    subject_holds = [h.to_dict() for h in active if h.scope == holds.SUBJECT]
    report = RetentionReport(as_of, dm.organisation.name, dm.fingerprint, horizon_months, out, without_rule, src_out,
                             rec_out, subject_holds, months, time.perf_counter() - t0)
    if audit_log:
        f = report.figures()
        audit.record(ws, "report.retention", {"as_of": as_of.isoformat(), "overdue": f["overdue"],
                                              "due_30_days": f["due_30_days"], "datasets": len(out),
                                              "errors": len(report.errors)})
    return report


__all__ = ["retention_report", "RetentionReport", "DatasetRetention", "dataset_end_dates", "parse_as_of",
           "ReportError"]
