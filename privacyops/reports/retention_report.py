"""The retention report: what is stored longer than the map's retention rules allow (storage limitation,
Art. 5(1)(e)), what comes due, and where data sits or goes outside the EU/EEA.

`retention_report(ws, as_of)` computes, per dataset with a retention rule, set-based in the dataset's own store
(`sqldates`): records in total; **overdue** (the rule's period ended before `as_of` and the record is still stored);
due within 30 and 90 days; the oldest overdue record's end date; records whose rule has not started (the anchor is
empty: `from: closed_at` of an open account), counted apart. Each store answers one grouped query (how many records
end on each day), never the rows. It adds, from the ledger: records a legal hold keeps (`holds`), the Art. 18
restriction register and the erasure schedule (`schedule`); from the map: personal datasets without a retention
rule, systems and recipients outside the EU/EEA.

`retention_sweep(ws, as_of)` lists what a sweep would erase (a dry run). Erasing it goes through the erasure engine
(plan -> approve -> execute, verified and certified); see `retention_sweep` for what the engine must offer.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from ..erasure import due as erasure_due
from ..erasure import execute as erasure
from ..erasure import plan as erasure_plan
from ..erasure.retention import as_date, erasable_from, is_binding
from ..erasure.retention_sql import add_period_sql, anchor_sql, dialect_of, retained_until_query
from ..errors import PrivacyOpsError
from ..ledger import add_months, audit, holds, schedule
from ..map import EU_EEA, Dataset
from ..values import json_safe
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
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ReportError(f"as_of '{value}' is not a date written YYYY-MM-DD") from None


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
    personal: bool = True
    total: int = 0
    not_started: int = 0  # anchor empty: the period has not started
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
                "anchor": self.anchor, "ground": self.ground, "binding": self.binding, "personal": self.personal,
                "total": self.total, "not_started": self.not_started, "overdue": self.overdue,
                "overdue_not_held": self.breach, "due_30_days": self.due_30, "due_90_days": self.due_90,
                "oldest_overdue_until": self.oldest_overdue.isoformat() if self.oldest_overdue else None,
                "held": self.held, "hold_ids": self.hold_ids, "restricted": self.restricted,
                "scheduled_due": self.scheduled_due, "due_by_month": self.by_month, "error": self.error}


@dataclass
class RetentionReport(H.ReportPage):

    page_name = "retention"
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
                "not_started": self.total("not_started"), "restricted": sum(d.restricted for d in self.datasets),
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

    def lines(self) -> list[str]:
        """The key figures as text (stable for a given as_of: what the notebook checks)."""
        f = self.figures()
        rules = {d.rule for d in self.datasets if d.rule}
        out = [f"Retention as of {self.as_of}: {f['records']:,} records under {len(rules)} retention rules in "
               f"{sum(1 for d in self.datasets if d.rule)} datasets",
               f"overdue (kept past their rule): {f['overdue']:,} in {f['datasets_with_overdue']} datasets "
               f"({f['held']:,} under a legal hold)",
               f"due within 30 days: {f['due_30_days']:,}; within 90 days: {f['due_90_days']:,}",
               f"retention not started (anchor empty): {f['not_started']:,}"]
        width = max([len(d.dataset) for d in self.datasets] + [10])
        out.append(f"  {'dataset':<{width}} {'rule':<18}{'records':>10}{'overdue':>10}{'due 30d':>9}{'due 90d':>9}"
                   f"{'not started':>13}  oldest overdue")
        for d in self.datasets:
            if not d.rule:
                continue
            out.append(f"  {d.dataset:<{width}} {d.rule:<18}{d.total:>10,}{d.overdue:>10,}{d.due_30:>9,}"
                       f"{d.due_90:>9,}{d.not_started:>13,}  {d.oldest_overdue or '-'}"
                       + (f"  ERROR {d.error}" if d.error else ""))
        out.append("personal data without a retention rule: " +
                   (", ".join(w["dataset"] for w in self.without_rule) or "none"))
        out.append("systems outside the EU/EEA: " + (", ".join(f"{s['source']} ({s['location']})"
                                                              for s in self.sources_outside_eu) or "none"))
        out.append("recipients outside the EU/EEA: " + (", ".join(f"{r['recipient']} ({r['location']})"
                                                                 for r in self.recipients_outside_eu) or "none"))
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    # -- HTML -------------------------------------------------------------------------------------------------------
    def chart_svg(self) -> str:
        names = [d.dataset for d in self.datasets if any(d.by_month.values())]
        series = {n: [next(d for d in self.datasets if d.dataset == n).by_month.get(m, 0) for m in self.months]
                  for n in names}
        return bar_chart(self.months, series or {"records": [0] * len(self.months)},
                         title=f"Records coming due for erasure per month (next {self.horizon_months} months)",
                         y_label="records", chart_id="erasures-due")

    def body_html(self) -> str:
        f = self.figures()
        oldest = f["oldest_overdue"]
        figs = H.figures([
            H.figure("overdue", "records kept past their retention rule", f["overdue"],
                     f"{f['overdue_not_held']:,} not under a legal hold", "bad" if f["overdue_not_held"] else "good"),
            H.figure("due_30_days", "due for erasure within 30 days", f["due_30_days"]),
            H.figure("due_90_days", "due within 90 days", f["due_90_days"]),
            H.figure("not_started", "retention not started (anchor empty)", f["not_started"]),
            H.figure("oldest_overdue", "oldest overdue record",
                     f"{oldest['days_overdue']:,} days" if oldest else "none",
                     f"{oldest['dataset']}, kept until {oldest['until']}" if oldest else "", "bad" if oldest else ""),
            H.figure("restricted", "restricted records (Art. 18 register)", f["restricted"]),
            H.figure("datasets_without_rule", "personal datasets without a retention rule",
                     f["datasets_without_rule"], level="warn" if f["datasets_without_rule"] else "good"),
            H.figure("outside_eu", "systems / recipients outside the EU/EEA",
                     f"{f['sources_outside_eu']} / {f['recipients_outside_eu']}",
                     level="warn" if f["sources_outside_eu"] or f["recipients_outside_eu"] else "good"),
        ])
        errors = bool(self.errors)
        rows = [(d.dataset, d.rule, f"{d.keep} from {d.anchor}", d.total, d.overdue, d.held, d.due_30, d.due_90,
                 d.not_started, d.oldest_overdue.isoformat() if d.oldest_overdue else "", d.restricted,
                 d.scheduled_due, *([d.error or ""] if errors else [])) for d in self.datasets if d.rule]
        per_rule = H.table(["dataset", "rule", "keep", "records", "overdue", "held", "due ≤30 d", "due ≤90 d",
                            "not started", "oldest overdue", "restricted", "scheduled, due",
                            *(["error"] if errors else [])],
                           rows, numeric=["records", "overdue", "held", "due ≤30 d", "due ≤90 d", "not started",
                                          "oldest overdue", "restricted", "scheduled, due"], table_id="per-dataset")
        rules = H.table(["dataset", "rule", "keep", "from", "ground", "binding against erasure"],
                        [(d.dataset, d.rule, d.keep, d.anchor, d.ground, "yes (legal obligation)" if d.binding
                          else "no (a maximum)") for d in self.datasets if d.rule])
        parts = [H.finding("INCOMPLETE — these datasets could not be read, their figures are missing: "
                           + "; ".join(self.errors), "bad") if errors else "", figs,
                 H.section("Overdue and coming due, per retention rule and dataset", per_rule,
                           intro="Overdue: the rule's period ended before the report date and the record is still "
                                 "stored — a storage-limitation breach (Art. 5(1)(e)) unless a legal hold keeps it. "
                                 "Not started: the date the rule counts from is empty (e.g. an account still open).",
                           section_id="per-dataset"),
                 H.section("Erasures coming due", H.chart(self.chart_svg(), "Records whose retention ends, by the "
                                                          "month they become erasable.")
                           + self._month_table(), section_id="chart"),
                 H.section("The retention rules", rules, section_id="rules")]
        findings = []
        if self.without_rule:
            findings.append(H.table(["dataset", "source", "personal fields"],
                                    [(w["dataset"], w["source"], ", ".join(w["fields"])) for w in self.without_rule]))
        else:
            findings.append(H.finding("Every dataset holding personal data has a retention rule.", "ok"))
        parts.append(H.section("Personal data without a retention rule", "".join(findings), section_id="no-rule"))
        loc = []
        loc.append("<h3>Systems outside the EU/EEA</h3>" + (H.table(
            ["source", "kind", "location", "datasets"],
            [(s["source"], s["kind"], s["location"], ", ".join(s["datasets"])) for s in self.sources_outside_eu])
            if self.sources_outside_eu else H.finding("Every system is located in the EU/EEA.", "ok")))
        loc.append("<h3>Recipients outside the EU/EEA</h3>" + (H.table(
            ["recipient", "location", "role", "safeguards", "datasets"],
            [(r["recipient"], r["location"], r["role"], r["safeguards"] or "NONE DOCUMENTED", ", ".join(r["datasets"]))
             for r in self.recipients_outside_eu]) if self.recipients_outside_eu
            else H.finding("No recipient is located outside the EU/EEA.", "ok")))
        parts.append(H.section("Data outside the EU/EEA", "".join(loc),
                               intro="The policy keeps data in the EU/EEA and sends none outside it; anything listed "
                                     "here needs a transfer mechanism (Chapter V GDPR) or a fix.",
                               section_id="outside-eu"))
        holds_html = H.table(["hold", "scope", "dataset", "reason", "owner", "since"],
                             [(h["hold_id"], h["scope"], h["dataset"] or "", h["reason"], h["owner"], h["since"])
                              for h in self.subject_holds],
                             empty="no legal hold on a subject")
        parts.append(H.section("Legal holds on subjects", holds_html,
                               intro="Holds on a subject keep that person's records whatever their retention; an "
                                     "erasure plan skips them (they are not counted per dataset here).",
                               section_id="holds"))
        return "".join(parts)

    def _month_table(self) -> str:
        names = [d for d in self.datasets if any(d.by_month.values())]
        rows = [(m, *[d.by_month.get(m, 0) for d in names], sum(d.by_month.get(m, 0) for d in names))
                for m in self.months]
        return ("<details><summary>The figures behind the chart</summary>" +
                H.table(["month", *[d.dataset for d in names], "total"], rows,
                        numeric=[*[d.dataset for d in names], "total"]) + "</details>")

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
    """{last day kept: records} for one dataset (None: the anchor is empty), computed in the dataset's store."""
    dm = ws.datamap
    rule = dm.retention[ds.retention]
    con = ws.connector(ds.source)
    dialect = dialect_of(dm.sources[ds.source].kind)
    sql = retained_until_query(dialect, con.relation(ds), con.quote(rule.anchor.field), rule, dm.settings)
    return {as_date(e): int(n) for e, n in con.execute(sql).rows}


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
                                 is_binding(dm, ds), personal, restricted=restricted.get(ds.name, 0),
                                 scheduled_due=scheduled.get(ds.name, 0))
            try:
                ends = dataset_end_dates(ws, ds)
            except PrivacyOpsError as exc:
                d.error = str(exc)
                out.append(d)
                continue
            d.by_month = {m: 0 for m in months}
            for end, n in ends.items():
                d.total += n
                if end is None:
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


# ---------------------------------------------------------------------------------------------------------------
# The sweep.


@dataclass
class SweepListing:
    """What a retention sweep would erase on `as_of` (a dry run: nothing changes)."""

    as_of: dt.date
    datasets: list[dict[str, Any]]
    plan_id: str | None = None
    dry_run: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(d["records"] for d in self.datasets)

    def lines(self) -> list[str]:
        head = (f"Retention sweep as of {self.as_of} — {'DRY RUN, nothing changes' if self.dry_run else 'planned'}: "
                f"{self.total:,} overdue record(s) to erase in {len(self.datasets)} dataset(s)")
        out = [head]
        for d in self.datasets:
            sample = ", ".join(d["sample_keys"][:5])
            out.append(f"  {d['dataset']:<32}{d['records']:>10,}  {d['action']:<28} oldest kept until "
                       f"{d['oldest_until']}" + (f"  e.g. {sample}" if sample else ""))
        for s in self.skipped_lines():
            out.append(f"  skipped: {s}")
        out += [f"note: {n}" for n in self.notes]
        return out

    def skipped_lines(self) -> list[str]:
        return [f"{d['dataset']}: {d['skipped']}" for d in self.datasets if d.get("skipped")]

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"as_of": self.as_of, "dry_run": self.dry_run, "plan_id": self.plan_id,
                          "total": self.total, "datasets": self.datasets, "notes": self.notes})


SAMPLE_KEYS = 10


def retention_sweep(ws: Workspace, as_of: dt.date | str | None = None, *, dry_run: bool = True,
                    report: RetentionReport | None = None, case_id: str | None = None) -> SweepListing:
    """What is overdue, per dataset, with the action the map's erasure policy gives it and the oldest keys.

    `dry_run=False` hands the overdue records to the erasure engine as one plan (plan -> approval -> execute,
    which verifies and certifies). That needs `plan_retention(ws, as_of, *, datasets=None,
    case_id=None)` in the erasure engine (`erasure_due.plan_retention`: overdue rows by retention, not by subject);
    a plan it returns approved (by the map's retention rules) is executed here, otherwise it waits for approval.
    """
    as_of = parse_as_of(as_of)
    report = report or retention_report(ws, as_of, audit_log=False)
    dm = ws.datamap
    datasets = []
    with ws.session():
        for d in report.datasets:
            if not d.rule or not d.overdue:
                continue
            ds = dm.datasets[d.dataset]
            if d.binding or ds.erasure.action != "mask":  # an ended legal obligation: the record goes (Decider)
                action = "delete"
            else:
                action = "mask " + (", ".join(sorted(ds.erasure.mask)) or "(nothing; the row stays)")
            entry = {"dataset": d.dataset, "records": d.breach, "overdue": d.overdue, "held": d.held,
                     "action": action, "rule": d.rule, "oldest_until": d.oldest_overdue,
                     "sample_keys": [], "skipped": ""}
            if d.held:
                entry["skipped"] = f"{d.held:,} record(s) under legal hold {', '.join(d.hold_ids)}"
            if d.breach:
                entry["sample_keys"] = _oldest_keys(ws, ds, as_of)
            datasets.append(entry)
    listing = SweepListing(as_of, datasets, dry_run=dry_run)
    listing.notes.append("records that belong to an erased record go with it and a record a retained one still "
                         "needs is kept, as the erasure engine decides when it plans; holds on subjects are applied "
                         "there too")
    audit.record(ws, "report.retention_sweep", {"as_of": as_of.isoformat(), "dry_run": dry_run,
                                                "records": listing.total, "datasets": len(datasets)},
                 case_id=case_id)
    if dry_run:
        return listing
    if not listing.total:
        listing.notes.append("nothing overdue to erase: no plan made")
        return listing

    plan_retention = next((getattr(m, "plan_retention") for m in (erasure_plan, erasure_due, erasure)
                           if hasattr(m, "plan_retention")), None)
    if plan_retention is None:
        raise ReportError("a real retention sweep needs the erasure engine's plan_retention(ws, as_of, datasets=..., "
                          "case_id=...) (overdue records by retention, not by subject), which this privacyops does "
                          "not have yet; run the sweep with dry_run=True for the listing")
    plan = plan_retention(ws, as_of, datasets=[d["dataset"] for d in datasets if d["records"]], case_id=case_id)
    listing.plan_id = plan.plan_id
    if plan.status == erasure_plan.APPROVED:  # the engine treats the map's rules as the approved decision
        result = erasure.execute_plan(ws, plan)
        listing.notes.append(f"executed as erasure plan {plan.plan_id}: " + ("verified" if result.ok else
                             "VERIFICATION FAILED") + (f"; certificate {result.certificate_path}"
                                                       if result.certificate_path else ""))
        if not result.ok:
            raise ReportError(f"the retention sweep {plan.plan_id} did not verify; see its certificate")
    else:
        listing.notes.append(f"stored as erasure plan {plan.plan_id}: another person approves it (privacyops erase "
                             f"approve {plan.plan_id}), then privacyops erase execute {plan.plan_id} erases, "
                             f"verifies and certifies")
    return listing


def _oldest_keys(ws: Workspace, ds: Dataset, as_of: dt.date) -> list[str]:
    """The keys of the (up to SAMPLE_KEYS) oldest overdue records, oldest first."""

    dm = ws.datamap
    rule = dm.retention[ds.retention]
    con = ws.connector(ds.source)
    dialect = dialect_of(dm.sources[ds.source].kind)
    a = anchor_sql(dialect, con.quote(rule.anchor.field), rule.anchor, dm.settings)
    keys = ", ".join(con.quote(c) for c in ds.primary_key)
    sql = (f"SELECT {keys} FROM (SELECT {keys}, {add_period_sql(dialect, 'a', rule.keep)} AS e FROM "
           f"(SELECT {keys}, {a} AS a FROM {con.relation(ds)}) t1) t2 WHERE e < {con.param} "
           f"ORDER BY e, {keys} LIMIT {SAMPLE_KEYS}")
    got = con.execute(sql, [as_of.isoformat() if dialect == "sqlite" else as_of])
    return [",".join(str(v) for v in r) for r in got.rows]


__all__ = ["retention_report", "retention_sweep", "RetentionReport", "DatasetRetention", "SweepListing",
           "dataset_end_dates", "parse_as_of", "ReportError"]
