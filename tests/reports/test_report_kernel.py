"""Notebooks of one run (`report all`, `run-notebooks`) share one kernel: the same process serves them, its namespace
is reset between them (a notebook never sees the previous one's variables), and a failed notebook leaves the next
one a working kernel. Outside such a run each notebook gets its own kernel, as with papermill alone."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from privacyops.jobs.runner import NotebookRunError, run_notebook, shared_kernel

pytestmark = pytest.mark.slow  # each test starts notebook kernels


def probe(folder: Path, name: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("interactive = True\noutput_dir = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def printed(run) -> str:
    nb = nbformat.read(run.output, as_version=4)
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2, 3]  # as in a fresh kernel
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()


REPORT = "import os\nprint(os.getpid(), 'leak' in globals(), os.getcwd())\nleak = 1"


def test_one_kernel_serves_the_run_and_is_reset_between_notebooks(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    first, second = probe(src, "01_a", REPORT), probe(src, "02_b", REPORT)
    with shared_kernel(src) as kernel:
        a = printed(run_notebook(first, tmp_path / "out", {})).split()
        b = printed(run_notebook(second, tmp_path / "out", {})).split()
        sockets = kernel.sockets
        assert sockets.is_dir()
    assert a[0] == b[0]  # the same kernel process
    assert a[1] == b[1] == "False"  # the second notebook does not see the first one's `leak`
    assert a[2] == b[2] == str(src)  # it runs where papermill would run it
    assert not sockets.exists()  # its IPC sockets go with it
    alone = [printed(run_notebook(first, tmp_path / "alone", {})).split()[0] for _ in range(2)]
    assert alone[0] != alone[1] != a[0]  # outside a run: a kernel per notebook


def test_a_failed_notebook_leaves_the_next_a_working_kernel(tmp_path):
    src = tmp_path / "nbs"
    src.mkdir()
    bad = probe(src, "01_bad", "leak = 1\nraise RuntimeError('boom')")
    good = probe(src, "02_good", REPORT)
    with shared_kernel(src):
        with pytest.raises(NotebookRunError, match="boom"):
            run_notebook(bad, tmp_path / "out", {})
        assert printed(run_notebook(good, tmp_path / "out", {})).split()[1] == "False"
