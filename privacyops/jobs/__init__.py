"""The notebooks' face and the headless runs: each notebook's work as one function (the notebook is a parameters
cell, one call and a display), the notebook suite run by papermill, and the report runs a scheduler starts.

Names are imported on first use (PEP 562): `from privacyops.jobs import retention` loads the report jobs only, not
the erasure and export panels, so a notebook and `privacyops report` start faster.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"erasure": "erasure_job", "access_export": "export_job", "subject_lookup": "lookup_job",
          "consent": "report_jobs", "requests": "report_jobs", "retention": "report_jobs",
          "REPORTS": "report_runs", "ReportRun": "report_runs", "notebook_html": "report_runs",
          "run_report": "report_runs", "NOTEBOOKS_DIR": "runner", "REPORT_NOTEBOOKS": "runner",
          "NotebookRunError": "runner", "run_all": "runner", "run_notebook": "runner"}

__all__ = ["NOTEBOOKS_DIR", "REPORTS", "REPORT_NOTEBOOKS", "NotebookRunError", "ReportRun", "access_export", "consent",
           "erasure", "notebook_html", "requests", "retention", "run_all", "run_notebook", "run_report",
           "subject_lookup"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
