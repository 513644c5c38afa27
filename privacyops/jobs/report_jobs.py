"""Notebooks 04-06: the retention, consent and requests reports — computed, shown, and written headless (the page and
its figures) for a scheduler. `as_of=None` (the notebooks' stored default) is today, as for `privacyops report`, so
a notebook opened today and the page the CLI writes today agree; a scheduler or a test passes a date."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PrivacyOpsError
from ..reports import (
    ConsentReport,
    RequestsReport,
    RetentionReport,
    SweepListing,
    consent_report,
    requests_report,
    retention_report,
    retention_sweep,
)
from ..workspace import Workspace, open_workspace
from .notebook import NotebookJob

if TYPE_CHECKING:  # the panel (and ipywidgets) is imported when an interactive run asks for it
    from ..ui import ConsentPanel

Report = RetentionReport | ConsentReport | RequestsReport


@dataclass
class ReportJob(NotebookJob):
    report: Report
    sweep: SweepListing | None = None
    withdrawal: ConsentPanel | None = None  # notebook 05, interactive: the panel that records a withdrawal

    def text(self) -> str:
        """The report's key figures (and the sweep's listing, when one was asked for)."""
        text = self.report.text()
        return text + ("\n" + "\n".join(self.sweep.lines()) if self.sweep else "")

    def headless_views(self) -> list[Any]:
        return [self.report]


def _write(report: Report, output_dir: str | Path) -> None:
    page, data = report.write(output_dir)
    print(f"wrote {page}\nwrote {data}")


def retention(workspace: str | Path | None, as_of: dt.date | str | None, *, horizon_months: int = 12,
              sweep: bool = False, dry_run: bool = True, interactive: bool = True,
              output_dir: str | Path = "outputs/04_retention_report") -> ReportJob:
    """Notebook 04's job: the retention report; with `sweep`, what is overdue and what erasure would do with it
    (`dry_run=False` hands it to the erasure engine). Headless: writes the page, its figures and the sweep."""
    ws = open_workspace(workspace)
    report = retention_report(ws, as_of, horizon_months=horizon_months)
    listing = retention_sweep(ws, report.as_of, dry_run=dry_run, report=report) if sweep else None
    if not interactive:
        _write(report, output_dir)
        if listing is not None:
            (Path(output_dir) / "sweep.json").write_text(json.dumps(listing.to_dict(), indent=2), encoding="utf-8")
        if report.errors:
            raise PrivacyOpsError("the retention report is incomplete: " + "; ".join(report.errors))
    return ReportJob(report, listing)


def consent(workspace: str | Path | None, as_of: dt.date | str | None, *, stale_after: str | None = None,
            interactive: bool = True, output_dir: str | Path = "outputs/05_consent_report") -> ReportJob:
    """Notebook 05's job: the consent report, and the panel to record a withdrawal when interactive."""
    ws: Workspace = open_workspace(workspace)
    report = consent_report(ws, as_of, stale_after=stale_after)
    if interactive:
        from ..ui import ConsentPanel

        return ReportJob(report, withdrawal=ConsentPanel(ws))
    if not report.configured:
        raise PrivacyOpsError("the data map has no consent: section (where consent events and the processing that "
                              "needs consent live); see docs/datamap.md")
    _write(report, output_dir)
    return ReportJob(report)


def requests(workspace: str | Path | None, as_of: dt.date | str | None, *, due_soon_days: int = 7,
             months: int = 12, interactive: bool = True,
             output_dir: str | Path = "outputs/06_requests_report") -> ReportJob:
    """Notebook 06's job: the request register and its deadlines."""
    report = requests_report(open_workspace(workspace), as_of, due_soon_days=due_soon_days, months=months)
    if not interactive:
        _write(report, output_dir)
    return ReportJob(report)
