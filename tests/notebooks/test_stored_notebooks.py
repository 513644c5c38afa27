"""Notebooks are committed without outputs or execution counts (tests/notebooks/strip.py strips them), so what a run
shows is checked here on a run: the report notebooks 04-06, run headless with their stored parameters (as_of None:
today, as `privacyops report`), print key figures that equal independent SQL on the workspace of that day."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import duckdb
import nbformat
import papermill as pm
import pytest

from privacyops.jobs import REPORTS
from privacyops.jobs.runner import run_notebook, shared_kernel
from privacyops.reports import consent_report, requests_report, retention_report
from privacyops.workspace import open_workspace
from tests.notebooks.strip import leftovers, strip

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_every_notebook_is_found():
    assert [p.name[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_holds_no_outputs_or_execution_counts(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert leftovers(nb) == [], f"{path.name}: run `python -m tests.notebooks.strip` before committing"
    assert nb.metadata.kernelspec.name == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert not any("NBVAL_CHECK_OUTPUT" in c.source for c in code)  # nothing stored to compare with


def test_the_check_sees_a_run_and_strip_removes_it(tmp_path):
    """The check can fail: a notebook as a run leaves it is dirty, and clean again once stripped."""
    nb = nbformat.read(NOTEBOOKS[1], as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="54 records\n")]
    code[-1].execution_count = 3
    code[0].metadata["execution"] = {"iopub.status.busy": "2026-11-15T10:00:00Z"}
    nb.metadata["widgets"] = {"state": {}}
    found = leftovers(nb)
    assert len(found) == 4 and any("output" in f for f in found) and any("execution_count 3" in f for f in found)
    nbformat.write(strip(nb), tmp_path / "x.ipynb")
    again = nbformat.read(tmp_path / "x.ipynb", as_version=4)
    assert leftovers(again) == []
    assert [c.source for c in again.cells] == [c.source for c in nbformat.read(NOTEBOOKS[1], as_version=4).cells]


@pytest.mark.parametrize("notebook", sorted(REPORTS.values()))
def test_report_notebooks_default_to_today(notebook):
    assert pm.inspect_notebook(str(REPO / "notebooks" / notebook))["as_of"]["default"] == "None"


def company(root: Path, query: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def ledger(root: Path, query: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(root / "ledger.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def report_runs(small_demo, tmp_path_factory):
    """Notebooks 04-06 run headless in one kernel, as `report all` does, with no as_of: their own default.
    Returns (workspace copy, {name: (printed key figures, written json)}, the day before and after the run)."""
    base = tmp_path_factory.mktemp("report-runs")
    root = shutil.copytree(small_demo, base / "demo", ignore=shutil.ignore_patterns("outputs", "exports"))
    before = dt.date.today()
    runs = {}
    with shared_kernel(REPO / "notebooks"):
        for name, notebook in REPORTS.items():
            run = run_notebook(REPO / "notebooks" / notebook, base / "out", {"workspace": str(root)})
            executed = nbformat.read(run.output, as_version=4)
            printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                              and "job.text()" in c.source for o in c.outputs)
            data = json.loads((run.output.parent / f"{name}.json").read_text(encoding="utf-8"))
            runs[name] = (printed, data)
    return root, runs, (before, dt.date.today())


def the_day(report_runs) -> dt.date:
    _, runs, days = report_runs
    day = dt.date.fromisoformat(runs["retention"][1]["as_of"])
    assert day in days  # today, not the demo's date nor any stored one
    return day


@pytest.mark.slow
def test_report_notebooks_run_as_of_today_like_the_cli(report_runs):
    """The notebook and `privacyops report` (whose date defaults to today, the same functions) agree on the day."""
    root, runs, _ = report_runs
    day = the_day(report_runs)
    ws = open_workspace(root)
    expected = {"retention": retention_report(ws, day, audit_log=False).figures(),
                "consent": consent_report(ws, day, audit_log=False).figures(),
                "requests": requests_report(ws, day, audit_log=False).figures()}
    for name, (printed, data) in runs.items():
        assert data["as_of"] == day.isoformat(), name
        assert data["figures"] == json.loads(json.dumps(expected[name])), name
        assert f"as of {day.isoformat()}" in printed, name


@pytest.mark.slow
def test_retention_notebook_prints_what_sql_counts(report_runs):
    root, runs, _ = report_runs
    day = the_day(report_runs)
    ws = open_workspace(root)
    rule = ws.datamap.retention[ws.datamap.datasets["marketing.email_sends"].retention]
    assert rule.anchor.column == "sent_at" and rule.keep.unit in ("months", "years")
    months = rule.keep.amount * (12 if rule.keep.unit == "years" else 1)
    [(total, overdue)] = company(root, f"""
        SELECT count(*), count(*) FILTER (WHERE CAST(CAST(sent_at AS DATE) + INTERVAL {months} MONTH AS DATE) < ?)
        FROM marketing.email_sends""", [day])
    line = re.search(rf"^\s+marketing\.email_sends\s+{re.escape(rule.name)}\s+([\d,]+)\s+([\d,]+)",
                     runs["retention"][0], re.MULTILINE)
    assert line, runs["retention"][0]
    assert (number(line[1]), number(line[2])) == (total, overdue) and overdue > 0


@pytest.mark.slow
def test_consent_notebook_prints_what_sql_counts(report_runs):
    root, runs, _ = report_runs
    end = dt.datetime.combine(the_day(report_runs) + dt.timedelta(days=1), dt.time())
    [(grants, withdrawals)] = company(root, """
        SELECT count(*) FILTER (WHERE action = 'granted'), count(*) FILTER (WHERE action = 'withdrawn')
        FROM marketing.consent_events WHERE occurred_at < ?""", [end])
    assert grants > 0 and withdrawals > 0
    assert f"events: {grants:,} grants, {withdrawals:,} withdrawals" in runs["consent"][0]


@pytest.mark.slow
def test_requests_notebook_prints_what_the_ledger_holds(report_runs):
    root, runs, _ = report_runs
    day = the_day(report_runs)
    [(received, still_open)] = ledger(root, """
        SELECT count(*) FILTER (WHERE received <= $1),
               count(*) FILTER (WHERE received <= $1 AND (closed_at IS NULL OR CAST(closed_at AS DATE) > $1))
        FROM cases""", [day])
    assert received > 0
    assert (f"Requests as of {day.isoformat()}: {received} received, {still_open} open, "
            f"{received - still_open} closed") in runs["requests"][0]
