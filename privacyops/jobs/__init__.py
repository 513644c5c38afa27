"""The notebooks' face and the headless runs: each notebook's work as one function (the notebook is a parameters
cell, one call and a display), the notebook suite run by papermill, and the report runs a scheduler starts.

The names below load on first use (PEP 562): importing one job module — a report notebook's
`privacyops.jobs.report_jobs`, `privacyops report`'s runner — runs this file first, and eager imports here would
load every panel and the erasure engine into a kernel or command that needs none of them (1.3 s of imports)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "erasure": "erasure_job", "access_export": "export_job", "inbox": "inbox_job", "subject_lookup": "lookup_job",
    "consent": "report_jobs", "requests": "report_jobs", "retention": "report_jobs",
    "REPORTS": "report_runs", "ReportRun": "report_runs", "notebook_html": "report_runs", "run_report": "report_runs",
    "NOTEBOOKS_DIR": "runner", "REPORT_NOTEBOOKS": "runner", "NotebookRunError": "runner", "run_all": "runner",
    "run_notebook": "runner",
}

if TYPE_CHECKING:  # what type checkers and editors see
    from .erasure_job import erasure
    from .export_job import access_export
    from .inbox_job import inbox
    from .lookup_job import subject_lookup
    from .report_jobs import consent, requests, retention
    from .report_runs import REPORTS, ReportRun, notebook_html, run_report
    from .runner import NOTEBOOKS_DIR, REPORT_NOTEBOOKS, NotebookRunError, run_all, run_notebook


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = sorted(_WHERE)
