"""Headless runs talk to their kernel over local IPC: no TCP ports, no "without encryption" warning in cron logs."""

from __future__ import annotations

from pathlib import Path

import nbformat

from privacyops.jobs.runner import run_notebook


def test_headless_run_uses_ipc_and_prints_no_kernel_warning(tmp_path: Path, capfd) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("interactive = True\noutput_dir = ''", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("import json, os\n"
                                          "print(json.load(open(__import__('ipykernel').get_connection_file()))"
                                          "['transport'])")]
    src = tmp_path / "probe.ipynb"
    nbformat.write(nb, src)
    run = run_notebook(src, tmp_path / "out", {})
    executed = nbformat.read(run.output, as_version=4)
    printed = "".join(o.get("text", "") for o in executed.cells[-1].outputs)
    assert printed.strip() == "ipc"
    captured = capfd.readouterr()  # the kernel process writes to this process's stderr
    said = captured.err + captured.out
    assert "running over TCP" not in said and "without encryption" not in said  # ipykernel's warning for TCP
