"""The notebooks' face and the headless runs: each notebook's work as one function (the notebook is a parameters
cell, one call and a display), the notebook suite run by papermill, and the report runs a scheduler starts. Report notebooks
import their job from `privacyops.jobs.report_jobs` directly, so they do not load the panels of the other
notebooks."""

from .erasure_job import erasure
from .export_job import access_export
from .inbox_job import inbox
from .lookup_job import subject_lookup
from .report_jobs import consent, requests, retention
from .report_runs import REPORTS, ReportRun, notebook_html, run_report
from .runner import NOTEBOOKS_DIR, REPORT_NOTEBOOKS, NotebookRunError, run_all, run_notebook

__all__ = ["NOTEBOOKS_DIR", "REPORTS", "REPORT_NOTEBOOKS", "NotebookRunError", "ReportRun", "access_export", "consent",
           "erasure", "inbox", "notebook_html", "requests", "retention", "run_all", "run_notebook", "run_report",
           "subject_lookup"]

