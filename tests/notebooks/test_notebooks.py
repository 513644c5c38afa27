"""Notebook 01 run headless with papermill (as a scheduler runs it) and every notebook checked by nbval."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import nbformat
import papermill as pm
import pytest

from privacyops.demo import STORIES

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NB01 = NOTEBOOKS / "01_subject_lookup.ipynb"
JANIS = STORIES["two_emails"]


def run_headless(workspace: Path, out: Path, **params) -> dict:
    """Execute notebook 01 like a scheduler does; return its lookup.json."""
    out.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(NB01), str(out / "01_subject_lookup.ipynb"), cwd=str(NOTEBOOKS),
                        parameters={"workspace": str(workspace), "interactive": False, "output_dir": str(out),
                                    **params},
                        progress_bar=False, log_output=False)
    return json.loads((out / "lookup.json").read_text(encoding="utf-8"))


def sql_counts(workspace: Path, customer_id: int) -> dict[str, int]:
    """What belongs to one customer, counted straight from the company database."""
    con = duckdb.connect(str(workspace / "company.duckdb"), read_only=True)
    q = {
        "crm.customers": "SELECT count(*) FROM crm.customers WHERE customer_id = ?",
        "app.user_accounts": "SELECT count(*) FROM app.user_accounts WHERE customer_id = ?",
        "app.login_events": "SELECT count(*) FROM app.login_events JOIN app.user_accounts USING (account_id) "
                            "WHERE customer_id = ?",
        "support.tickets": "SELECT count(*) FROM support.tickets WHERE customer_id = ?",
        "support.ticket_messages": "SELECT count(*) FROM support.ticket_messages m JOIN support.tickets t "
                                   "ON m.ticket_id = t.ticket_id WHERE t.customer_id = ?",
        "billing.invoices": "SELECT count(*) FROM billing.invoices WHERE customer_id = ?",
        "billing.invoice_lines": "SELECT count(*) FROM billing.invoice_lines l JOIN billing.invoices i "
                                 "ON l.invoice_id = i.invoice_id WHERE i.customer_id = ?",
    }
    try:
        return {name: con.execute(sql, [customer_id]).fetchone()[0] for name, sql in q.items()}
    finally:
        con.close()


@pytest.mark.slow
@pytest.mark.parametrize("email", JANIS["account_emails"])
def test_headless_lookup_of_the_two_email_customer_finds_both_accounts(small_demo, tmp_path, email):
    data = run_headless(small_demo, tmp_path / "out", subject=email)

    assert data["status"] == "found"
    assert data["subject"]["ref"] == f"crm.customers:{JANIS['customer_id']}"
    accounts = data["records"]["app.user_accounts"]
    assert sorted(r["account_id"] for r in accounts["rows"]) == JANIS["account_ids"]
    assert sorted(r["email"] for r in accounts["rows"]) == sorted(JANIS["account_emails"])
    expected = sql_counts(small_demo, JANIS["customer_id"])
    assert expected["app.user_accounts"] == 2
    assert {name: data["records"][name]["count"] for name in expected} == expected
    assert data["summary"]["datasets"]["app.user_accounts"] == 2


@pytest.mark.slow
def test_headless_run_keeps_the_executed_notebook_as_evidence(small_demo, tmp_path):
    out = tmp_path / "out"
    run_headless(small_demo, out, subject=JANIS["email"])
    nb = nbformat.read(out / "01_subject_lookup.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "app.user_accounts                    2" in text
    assert "lookup.json" in text


@pytest.mark.slow
def test_headless_run_fails_loudly_when_nobody_is_found(small_demo, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(pm.PapermillExecutionError) as info:
        run_headless(small_demo, out, subject="nobody.at.all@example.invalid")
    assert info.value.ename == "PrivacyOpsError"
    assert "no records found" in info.value.evalue
    data = json.loads((out / "lookup.json").read_text(encoding="utf-8"))
    assert data["status"] == "not_found" and data["records"] == {}


@pytest.mark.slow
def test_headless_name_lookup_gives_candidates_and_pick_chooses_one(small_demo, tmp_path):
    data = run_headless(small_demo, tmp_path / "names", subject="Janis Berzins")
    assert data["status"] == "ambiguous" and data["records"] == {}
    refs = [c["ref"] for c in data["candidates"]]
    assert {"crm.customers:1", "crm.customers:2"} <= set(refs)

    picked = run_headless(small_demo, tmp_path / "picked", subject="Janis Berzins", pick="crm.customers:2")
    assert picked["status"] == "found" and picked["subject"]["ref"] == "crm.customers:2"
    assert [r["account_id"] for r in picked["records"]["app.user_accounts"]["rows"]] == \
        STORIES["name_variant"]["account_ids"]


@pytest.mark.slow
def test_headless_bad_workspace_fails(tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as info:
        run_headless(tmp_path / "no-such-workspace", tmp_path / "out", subject=JANIS["email"])
    assert info.value.ename == "WorkspaceError"


def test_parameters_are_what_schedulers_can_pass():
    params = pm.inspect_notebook(str(NB01))
    assert list(params) == ["workspace", "subject", "kind", "pick", "case_id", "interactive", "output_dir"]
    assert params["subject"]["default"] == repr(JANIS["email"]).replace("'", '"')
    assert params["interactive"]["default"] == "True"


def test_stored_notebook_is_clean():
    """No outputs (nbval checks the notebook runs; the runs here check what it shows); no widget state; the
    kernel every runner uses."""
    nb = nbformat.read(NB01, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.kernelspec.display_name == "Python 3 (ipykernel)"
    assert "widgets" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for c in code:  # stored without outputs (test_stored_notebooks.py); the figures are checked on runs
        assert not c.outputs and c.execution_count is None


@pytest.mark.slow
def test_nbval_every_notebook_on_the_default_demo(default_demo):
    env = {**os.environ, "PRIVACYOPS_WORKSPACE": str(default_demo)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "notebooks/", "-p", "no:cacheprovider",
                           "-q"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_cli_runs_every_notebook_headless_and_says_where(small_demo, tmp_path):
    out = tmp_path / "outputs"
    res = subprocess.run([sys.executable, "-m", "privacyops.cli", "run-notebooks", "--workspace", str(small_demo),
                          "--out", str(out)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PRIVACYOPS_ACTOR": "scheduler"})
    assert res.returncode == 0, res.stderr
    assert f"Outputs are in {out}" in res.stdout
    data = json.loads((out / "01_subject_lookup" / "lookup.json").read_text())
    assert data["status"] == "found" and data["subject"]["ref"] == f"crm.customers:{JANIS['customer_id']}"
    assert (out / "01_subject_lookup" / "01_subject_lookup.ipynb").is_file()
    # what the notebooks' key-figure cells print (no longer stored in the notebooks, so checked on this run)
    printed = {p.parent.name[:2]: "".join(o.get("text", "") for c in nbformat.read(p, as_version=4).cells
                                          if c.cell_type == "code" and "job.text()" in c.source for o in c.outputs)
               for p in out.glob("0[1-3]_*/0[1-3]_*.ipynb")}
    counts = sql_counts(small_demo, JANIS["customer_id"])
    for name, n in counts.items():
        line = re.compile(rf"^  {re.escape(name)} +{n}\b", re.MULTILINE)  # the dataset's line, its count from SQL
        assert line.search(printed["01"]) and line.search(printed["02"]), (name, printed)
    assert JANIS["full_name"] in printed["01"] and JANIS["full_name"] in printed["02"]
    assert "support.ticket_messages" in printed["02"] and "masked" in printed["02"]
    assert "four-eyes approval: on" in printed["03"] and "tax_records" in printed["03"]
    assert all(f"  {name} " in printed["03"] for name, n in counts.items() if n)
