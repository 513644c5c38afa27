"""The retention sweep: what is overdue, per dataset, with the action the map's erasure policy gives it.

`retention_sweep(ws, as_of)` lists what a sweep would erase (a dry run: nothing changes); with `dry_run=False` the
overdue records go to the erasure engine as one plan (plan -> approve -> execute, verified and certified). Records a
`keep_while_empty` rule keeps while their anchor is empty are open-ended, never overdue: a sweep never lists them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..erasure import APPROVED, execute_plan, plan_retention
from ..erasure.retention_sql import overdue_keys
from ..ledger import audit
from ..map import Dataset
from ..values import json_safe
from ..workspace import Workspace
from .retention_report import ReportError, RetentionReport, parse_as_of, retention_report


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

    `dry_run=False` hands the overdue records to the erasure engine as one plan (`plan_retention`: overdue rows by
    retention, not by subject; then approval -> execute, which verifies and certifies); a plan it returns approved
    (by the map's retention rules) is executed here, otherwise it waits for approval.
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

    plan = plan_retention(ws, as_of, datasets=[d["dataset"] for d in datasets if d["records"]], case_id=case_id)
    listing.plan_id = plan.plan_id
    if plan.status == APPROVED:  # the engine treats the map's rules as the approved decision
        result = execute_plan(ws, plan)
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
    """The keys of the (up to SAMPLE_KEYS) oldest overdue records, oldest first: the same selection as the erasure
    engine's (`retention_sql.overdue_keys`: an anchor through a reference joined or fetched; records kept while
    their anchor is empty are never overdue)."""
    return [",".join(str(v) for v in k) for k in overdue_keys(ws, ds, as_of, limit=SAMPLE_KEYS)]


__all__ = ["retention_sweep", "SweepListing"]
