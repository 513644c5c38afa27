"""`privacyops report ...`: the report notebooks run headless (papermill) as a scheduler runs them — the report
pages and figures, the executed notebooks kept as evidence and converted to HTML without code — and a failed run
exits non-zero; the stored notebooks are clean and take the parameters schedulers pass."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from privacyops.demo import DEMO_TODAY
from privacyops.jobs import REPORTS
from privacyops.reports import consent_report, requests_report, retention_report
from privacyops.workspace import open_workspace

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"


@pytest.fixture()
def demo_copy(small_demo, tmp_path):
    root = tmp_path / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "keys",
                                                                   "outputs"))
    return root


def privacyops(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "privacyops.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env={**os.environ, "PRIVACYOPS_ACTOR": "scheduler"})


@pytest.mark.slow
def test_report_all_writes_pages_figures_and_evidence(demo_copy, tmp_path):
    out = tmp_path / "reports"
    res = privacyops("report", "all", "--workspace", str(demo_copy), "--as-of", DEMO_TODAY.isoformat(),
                     "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    ws = open_workspace(demo_copy)
    expected = {"retention": retention_report(ws, DEMO_TODAY, audit_log=False).figures(),
                "consent": consent_report(ws, DEMO_TODAY, audit_log=False).figures(),
                "requests": requests_report(ws, DEMO_TODAY, audit_log=False).figures()}
    for name, notebook in REPORTS.items():
        folder = out / Path(notebook).stem
        data = json.loads((folder / f"{name}.json").read_text())
        assert data["as_of"] == DEMO_TODAY.isoformat()
        assert data["figures"] == json.loads(json.dumps(expected[name])), name
        page = (folder / f"{name}.html").read_text()
        assert "<svg" in page and "<script" not in page.lower()
        executed = nbformat.read(folder / notebook, as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert "interactive = False" in injected[0].source and f'as_of = "{DEMO_TODAY}"' in injected[0].source
        html = (folder / notebook.replace(".ipynb", ".html")).read_text()
        assert "open_workspace(workspace)" not in html  # no code
        assert "<script" not in html.lower()  # no require.js / MathJax from a CDN
        assert "<svg" in html  # the charts, as the notebook displayed them
        assert f"{name}.json" in res.stdout and str(folder / notebook) in res.stdout
    assert '"overdue": ' in (out / "04_retention_report" / "retention.json").read_text()


@pytest.mark.slow
def test_a_failed_run_exits_non_zero_and_keeps_the_evidence(demo_copy, tmp_path):
    (demo_copy / "lake").rename(demo_copy / "lake-moved")  # the analytics store cannot be read
    out = tmp_path / "reports"
    res = privacyops("report", "retention", "--workspace", str(demo_copy), "--as-of", "2026-11-15", "--out", str(out))
    assert res.returncode == 6, res.stdout + res.stderr
    assert "retention report is incomplete" in res.stderr and "web.analytics_events" in res.stderr
    folder = out / "04_retention_report"
    assert (folder / "04_retention_report.ipynb").is_file() and (folder / "04_retention_report.html").is_file()
    assert "INCOMPLETE" in (folder / "retention.html").read_text()  # written before failing, marked


def test_bad_input_is_refused_before_any_run(demo_copy, tmp_path):
    res = privacyops("report", "retention", "--workspace", str(demo_copy), "--as-of", "yesterday")
    assert res.returncode == 2 and "not a date" in res.stderr
    res = privacyops("report", "weekly", "--workspace", str(demo_copy))
    assert res.returncode == 2


@pytest.mark.parametrize("notebook, params", [
    ("04_retention_report.ipynb", ["workspace", "as_of", "horizon_months", "sweep", "dry_run", "interactive",
                                   "output_dir"]),
    ("05_consent_report.ipynb", ["workspace", "as_of", "stale_after", "interactive", "output_dir"]),
    ("06_requests_report.ipynb", ["workspace", "as_of", "due_soon_days", "months", "interactive", "output_dir"]),
])
def test_stored_report_notebooks_are_clean(notebook, params):
    path = NOTEBOOKS / notebook
    got = pm.inspect_notebook(str(path))
    assert list(got) == params
    assert got["as_of"]["default"] == "None" and got["interactive"]["default"] == "True"  # None: today
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3" and "widgets" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for c in code:  # stored without outputs (tests/notebooks/test_stored_notebooks.py checks a run's figures)
        assert not c.outputs and c.execution_count is None


def test_run_notebooks_passes_today_to_the_reports(monkeypatch, tmp_path):
    from privacyops.jobs import runner

    seen = {}
    monkeypatch.setattr(runner, "run_notebook", lambda path, out, params: seen.setdefault(path.name, params))
    runner.run_all(tmp_path, tmp_path / "out", progress=False)
    import datetime as dt

    for name in REPORTS.values():
        assert seen[name]["as_of"] == dt.date.today().isoformat()
    assert "as_of" not in seen["01_subject_lookup.ipynb"]
