"""Headless jobs: the notebook suite run by papermill, as a scheduler runs it."""

from .runner import NOTEBOOKS_DIR, REPORT_NOTEBOOKS, NotebookRunError, run_all, run_notebook

__all__ = ["NOTEBOOKS_DIR", "REPORT_NOTEBOOKS", "NotebookRunError", "run_all", "run_notebook"]
