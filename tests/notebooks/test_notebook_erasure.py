"""Notebook 03 run headless with papermill (as a scheduler runs it) on a copy of the small demo: plan only by default
(nothing changes; the plan awaits approval), execution only of a plan a person approved beforehand (plan_id; an
unapproved plan is refused, and with registered people the approval must be signed); the stored notebook is clean."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import nbformat
import papermill as pm
import pytest

from privacyops.demo import STORIES
from privacyops.erasure import approve_plan, list_plans, load_plan, plan_erasure, verify_certificate
from privacyops.errors import IdentityError
from privacyops.ledger import list_cases, open_case
from tests.support.demo import dq
from tests.support.people import act_as, register_team

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
NB03 = NOTEBOOKS / "03_erasure.ipynb"
JANIS = STORIES["two_emails"]


def run_headless(workspace: Path, out: Path, **params) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    executed = out / NB03.name
    pm.execute_notebook(str(NB03), str(executed), cwd=str(NOTEBOOKS),
                        parameters={"workspace": str(workspace), "interactive": False, "output_dir": str(out),
                                    **params},
                        progress_bar=False, log_output=False)
    return executed


def row_counts(root: Path) -> dict[str, int]:
    """Rows of every table of the company database and of the Parquet lake, counted with SQL."""
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2").fetchall()
        counts = {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables}
    finally:
        con.close()
    lake = root / "lake" / "web" / "analytics_events"
    counts["lake"] = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{lake}/*.parquet')").fetchone()[0]
    return counts


@pytest.mark.slow
def test_headless_default_plans_only_and_changes_nothing(demo, tmp_path):
    before = row_counts(demo.root)
    out = tmp_path / "out"
    executed = run_headless(demo.root, out)

    data = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    plan = load_plan(demo, data["plan_id"])
    assert data["status"] == "planned" and plan.status == "planned" and data["prepared_by"] == "alice"
    assert data["summary"]["datasets"] == plan.counts() and data["plan_hash"] == plan.plan_hash
    assert data["summary"]["datasets"]["crm.customers"] == {"delete": 1}
    assert data["summary"]["datasets"]["billing.invoices"]["retain"] >= 1
    case = next(c for c in list_cases(demo) if c.case_id == data["case_id"])
    assert case.type == "erasure" and case.received == dt.date.today() and case.status == "open"
    assert JANIS["email"] not in json.dumps(data)  # identifiers only as keyed hashes
    assert row_counts(demo.root) == before  # nothing erased
    assert not (out / "result.json").exists()
    text = "\n".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells
                     if c.cell_type == "code" for o in c.outputs)
    assert "nothing was erased" in text and "billing.invoices" in text


def approved_plan(ws, monkeypatch, preparer="alice", approver="dpo") -> str:
    """A plan prepared and approved beforehand by two people (PRIVACYOPS_ACTOR: no people registered)."""
    monkeypatch.setenv("PRIVACYOPS_ACTOR", preparer)
    plan = plan_erasure(ws, open_case(ws, "erasure", dt.date.today()).case_id, JANIS["email"])
    monkeypatch.setenv("PRIVACYOPS_ACTOR", approver)
    approve_plan(ws, plan.plan_id)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", preparer)
    return plan.plan_id


@pytest.mark.slow
def test_headless_executes_a_plan_approved_beforehand_and_certifies(demo, tmp_path, monkeypatch):
    cid = JANIS["customer_id"]
    kept = dq(demo, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? AND issued_at >= "
                    "DATE '2021-01-01' ORDER BY 1", [cid])
    assert kept and dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [1]
    others = dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id <> ?", [cid])
    out = tmp_path / "out"
    plan_id = approved_plan(demo, monkeypatch)
    run_headless(demo.root, out, plan_id=plan_id)

    assert dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [0]
    assert dq(demo, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1", [cid]) == kept
    assert dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id <> ?", [cid]) == others

    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert result["status"] == "done" and result["verification"]["ok"] is True
    plan = load_plan(demo, result["plan_id"])
    assert plan.prepared_by == "alice" and plan.approved_by == "dpo" and plan.executed_by == "alice"
    cert = Path(result["certificate"])
    copied = out / cert.name
    assert copied.read_bytes() == cert.read_bytes()
    check = verify_certificate(copied, demo)
    assert check.ok and check.workspace_key and check.plan_id == plan.plan_id == plan_id


@pytest.mark.slow
def test_headless_refuses_an_unapproved_plan_before_anything(demo, tmp_path, monkeypatch):
    before = row_counts(demo.root)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_erasure(demo, open_case(demo, "erasure", dt.date.today()).case_id, JANIS["email"])
    with pytest.raises(pm.PapermillExecutionError) as info:
        run_headless(demo.root, tmp_path / "out", plan_id=plan.plan_id)
    assert info.value.ename == "ErasureError" and f"plan {plan.plan_id} is not approved" in info.value.evalue
    assert [p["status"] for p in list_plans(demo)] == ["planned"]
    assert row_counts(demo.root) == before


@pytest.mark.slow
def test_headless_with_registered_people_runs_as_the_key_in_place(demo, tmp_path, monkeypatch):
    """Proven mode: the kernel acts as $PRIVACYOPS_PERSON_KEY; an approval made by setting PRIVACYOPS_ACTOR (the old
    headless path) is no approval at all."""
    keys = register_team(demo, tmp_path / "people", monkeypatch)
    act_as(monkeypatch, keys["alice"])
    plan = plan_erasure(demo, open_case(demo, "erasure", dt.date.today()).case_id, JANIS["email"])
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")  # alice's key, claiming to be bob
    with pytest.raises(IdentityError, match="PRIVACYOPS_ACTOR is set to 'bob'"):
        approve_plan(demo, plan.plan_id)
    act_as(monkeypatch, keys["bob"])
    approve_plan(demo, plan.plan_id)
    act_as(monkeypatch, keys["alice"])  # the scheduler's kernel runs with the executor's key
    out = tmp_path / "out"
    run_headless(demo.root, out, plan_id=plan.plan_id)
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert result["status"] == "done"
    check = verify_certificate(out / Path(result["certificate"]).name, demo)
    assert check.ok and "approved by bob" in check.signers and "prepared by alice" in check.signers


def test_parameters_are_what_schedulers_can_pass():
    params = pm.inspect_notebook(str(NB03))
    assert list(params) == ["workspace", "subject", "case_id", "as_of", "plan_id", "interactive", "output_dir"]
    assert params["subject"]["default"] == f'"{JANIS["email"]}"'
    assert params["plan_id"]["default"] == "None"
    assert params["interactive"]["default"] == "True"
    assert params["output_dir"]["default"] == '"outputs/03_erasure"'


def test_stored_notebook_is_clean():
    nb = nbformat.read(NB03, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.metadata.kernelspec.display_name == "Python 3 (ipykernel)"
    assert "widgets" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for c in code:  # stored without outputs: what it prints is checked on a run (test_notebooks.py)
        assert not c.outputs and c.execution_count is None
