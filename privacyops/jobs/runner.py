"""Run the notebook suite headless (papermill): the scheduler's face of the same functions."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import PrivacyOpsError

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
REPORT_NOTEBOOKS = ("04_retention_report.ipynb", "05_consent_report.ipynb", "06_requests_report.ipynb")


class NotebookRunError(PrivacyOpsError):
    exit_code = 6


def _local_kernel_manager() -> type:
    """A kernel manager whose kernel talks over local IPC sockets (files only this user can open), not TCP.

    With TCP every headless run prints ipykernel's "running over TCP without encryption" warning into the
    scheduler's log, and any local process could connect to the kernel's ports.
    """
    from jupyter_client.manager import AsyncKernelManager

    class LocalKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return LocalKernelManager


@dataclass
class NotebookRun:
    notebook: str
    output: Path
    seconds: float


def notebooks(folder: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The suite's notebooks, in their numbered order."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def run_notebook(path: Path, out_dir: Path, parameters: dict[str, Any]) -> NotebookRun:
    """Execute one notebook headless into `out_dir/<name>/`; the executed notebook is kept as evidence."""
    import papermill as pm

    target = out_dir / path.stem
    target.mkdir(parents=True, exist_ok=True)
    output = target / path.name
    params = {"interactive": False, "output_dir": str(target), **parameters}
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(path), str(output), parameters=params, cwd=str(path.parent),
                            progress_bar=False, log_output=False,
                            kernel_manager_class=_local_kernel_manager())
    except pm.PapermillExecutionError as exc:
        raise NotebookRunError(f"{path.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                               f"(executed notebook kept at {output})") from None
    return NotebookRun(path.name, output, time.perf_counter() - t0)


def run_all(workspace: Path, out_dir: Path, progress: bool = True) -> list[NotebookRun]:
    """Run every notebook of the suite against `workspace`, writing into `out_dir`."""
    runs = []
    paths = notebooks()
    if not paths:
        raise NotebookRunError(f"no notebooks found in {NOTEBOOKS_DIR}")
    for path in tqdm(paths, desc="notebooks", unit="nb", disable=not progress):
        params = {"workspace": str(Path(workspace).resolve())}
        if path.name in REPORT_NOTEBOOKS:  # their stored default is the demo's date; a scheduled run reports today
            params["as_of"] = dt.date.today().isoformat()
        runs.append(run_notebook(path, out_dir, params))
    return runs
