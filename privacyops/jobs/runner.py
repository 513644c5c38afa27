"""Run the notebook suite headless (papermill): the scheduler's face of the same functions.

Several notebooks in one run (`run_all`, `privacyops report all`) share ONE kernel (`shared_kernel()`): it starts once,
pays the imports once, and its namespace is reset between notebooks (`%reset -f`), so each notebook starts from its
own parameters as in a fresh kernel. Each notebook stays runnable with papermill alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sys
import tempfile
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


def skip_slow_iri_check() -> None:
    """Import nbformat (papermill, nbconvert) without rfc3987_syntax.

    jsonschema checks the 'iri' string format with rfc3987_syntax when that is installed, and importing it compiles
    some 40 grammars: 1.5-3 s on every import of nbformat, more than a report takes. The notebook schema uses no
    'iri' format, so a headless run does without that check (call before the first import of jsonschema).
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # an import of it: ImportError


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


class SharedKernel:
    """One started kernel that notebooks of a run execute in, one after another (see the module docstring)."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.km: Any = None
        self.sockets = cwd
        self.used = False
        self.warming: Any = None  # the client of a warm-up request, closed when the first notebook runs

    def start(self) -> None:
        """Start the kernel (no wait: it boots while this process goes on); a started one stays."""
        from jupyter_core.utils import run_sync

        if self.km is not None:
            return
        # IPC socket files at an absolute path in a private folder: a relative one resolves against each process's
        # working directory, and the kernel outlives papermill's chdir into the notebooks' folder.
        self.sockets = Path(tempfile.mkdtemp(prefix="privacyops-kernel-"))
        self.km = _local_kernel_manager()(kernel_name="python3", ip=str(self.sockets / "kernel-ipc"))
        run_sync(self.km.start_kernel)(cwd=str(self.cwd))
        self.used = False

    def ready(self) -> Any:
        """The kernel manager to hand to papermill, its namespace reset when a notebook ran in it before (a dead
        kernel is replaced)."""
        from jupyter_core.utils import run_sync

        if self.warming is not None:
            self.warming.stop_channels()
            self.warming = None
        if self.km is None or not run_sync(self.km.is_alive)():
            self.stop()
            self.start()
        elif self.used:
            kc = self.km.client()
            kc.start_channels()
            try:
                run_sync(kc.wait_for_ready)(timeout=60)
                # a fresh namespace, and cells numbered from 1 as in a fresh kernel (the evidence reads the same)
                reset = "get_ipython().run_line_magic('reset', '-f'); get_ipython().execution_count = 1"
                reply = run_sync(kc.execute_interactive)(reset, timeout=60, store_history=False)
                if reply["content"].get("status") != "ok":
                    raise NotebookRunError("the shared kernel could not be reset between notebooks")
            finally:
                kc.stop_channels()
        self.used = True
        return self.km

    def stop(self) -> None:
        from jupyter_core.utils import run_sync

        if self.warming is not None:
            self.warming.stop_channels()
            self.warming = None
        if self.km is not None:
            with contextlib.suppress(Exception):  # a kernel already gone needs no shutdown
                run_sync(self.km.shutdown_kernel)(now=True)
            shutil.rmtree(self.sockets, ignore_errors=True)
        self.km = None


_SHARED: SharedKernel | None = None


def warm_up(kernel: SharedKernel, module: str) -> None:
    """Have the kernel import `module` now, while this process does other work (checks the map, loads papermill):
    the notebook finds it imported. Binds no name in the kernel's namespace; does not wait."""
    if kernel.km is None:
        kernel.start()
    kc = kernel.km.client()
    kc.start_channels()
    kc.execute(f"__import__('importlib').import_module({module!r})", silent=True, store_history=False)
    kernel.warming = kc


@contextlib.contextmanager
def shared_kernel(cwd: Path = NOTEBOOKS_DIR) -> Any:
    """Notebooks run inside this block (`run_notebook`) share one kernel; it is shut down at the end."""
    global _SHARED
    if _SHARED is not None:  # nested: the outer block's kernel serves
        yield _SHARED
        return
    _SHARED = SharedKernel(cwd)
    try:
        yield _SHARED
    finally:
        _SHARED.stop()
        _SHARED = None


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
    skip_slow_iri_check()
    import papermill as pm

    target = out_dir / path.stem
    target.mkdir(parents=True, exist_ok=True)
    output = target / path.name
    params = {"interactive": False, "output_dir": str(target), **parameters}
    t0 = time.perf_counter()
    kernel: dict[str, Any] = {"kernel_manager_class": _local_kernel_manager()}
    if _SHARED is not None and _SHARED.cwd == path.parent:  # the run's kernel, reset (the kernel's cwd is fixed)
        kernel = {"km": _SHARED.ready()}
    try:
        pm.execute_notebook(str(path), str(output), parameters=params, cwd=str(path.parent),
                            progress_bar=False, log_output=False, **kernel)
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
    with shared_kernel(paths[0].parent):
        for path in tqdm(paths, desc="notebooks", unit="nb", disable=not progress):
            params = {"workspace": str(Path(workspace).resolve())}
            if path.name in REPORT_NOTEBOOKS:  # their stored default is the demo's date; a scheduled run: today
                params["as_of"] = dt.date.today().isoformat()
            if path.name == "02_access_export.ipynb":  # the suite asks for the generated password in a 0600 file
                params["password_out"] = str(Path(out_dir).resolve() / path.stem / "password.txt")
            runs.append(run_notebook(path, out_dir, params))
    return runs
