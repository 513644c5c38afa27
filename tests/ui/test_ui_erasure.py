"""The erasure panel, driven in-process (no browser) on a copy of the small demo: Plan, a refused self-approval,
approval by another person, Execute with a valid certificate. Expectations come from SQL against the copy."""

from __future__ import annotations

from privacyops.demo import STORIES
from privacyops.erasure import load_plan, verify_certificate
from privacyops.ui import ErasurePanel
from tests.support.demo import dq

JANIS = STORIES["two_emails"]


def test_plan_refused_self_approval_then_approve_and_execute(demo, monkeypatch):
    ws = demo
    cid = JANIS["customer_id"]
    invoices = dq(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1", [cid])
    kept = dq(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? AND issued_at >= DATE '2021-01-01' "
                  "ORDER BY 1", [cid])
    assert dq(ws, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [1]

    panel = ErasurePanel(ws, subject=JANIS["email"])
    assert panel.plan is None and "po-error" not in panel.status.value
    panel.plan_button.click()  # no case yet: refused, clearly
    assert "po-error" in panel.status.value and "erasure case" in panel.status.value

    panel.new_case_button.click()
    case_id = panel.case.value
    assert case_id.startswith("DSR-") and "Opened case" in panel.status.value

    panel.plan_button.click()
    plan = panel.plan
    assert plan is not None and plan.case_id == case_id and plan.prepared_by == "alice", panel.status.value
    out = panel.output.value
    for name, per in plan.counts().items():  # counts per dataset and action, from the plan's own frame
        assert name in out
    frame = plan.to_frame()
    inv = frame[(frame.dataset == "billing.invoices") & (frame.action == "retain")]
    assert int(inv.records.iloc[0]) == len(kept) and f"<td>{len(kept)}</td>" in out
    assert "Retained, until when and why" in out and "Accounting Law" in out
    assert "Not erased, and why" in out and "support.ticket_messages" in out
    # The preparer may not approve: the button is off, with the reason in plain words (tooltip and the line below)
    assert panel.approve_button.disabled and not panel.cancel_button.disabled and panel.retry_button.disabled
    assert "you prepared this plan; another person approves it" in panel.controls.why.value
    assert "the approver must differ from the preparer" in panel.approve_button.tooltip

    panel.approve_button.click()  # clicked anyway (a stale page): refused before the engine, said in red
    assert "po-error" in panel.status.value
    assert "the approver must differ from the preparer" in panel.status.value
    assert "PRIVACYOPS_" not in panel.status.value and "privacyops " not in panel.status.value
    assert load_plan(ws, plan.plan_id).status == "planned"
    assert dq(ws, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [1]

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    panel.approve_button.click()
    assert "po-error" not in panel.status.value, panel.status.value
    assert panel.plan.approved_by == "bob" and "approved by bob" in panel.status.value
    assert load_plan(ws, plan.plan_id).status == "approved"

    panel.execute_button.click()
    assert "po-error" not in panel.status.value, panel.status.value
    result = panel.result
    assert result is not None and result.ok and result.certificate_path.is_file()
    assert str(result.certificate_path) in panel.output.value and "Verified" in panel.output.value
    assert "certificate valid" in panel.output.value
    check = verify_certificate(result.certificate_path, ws)
    assert check.ok and check.workspace_key and check.plan_id == plan.plan_id
    assert dq(ws, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [0]
    assert dq(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1", [cid]) == kept
    assert len(kept) < len(invoices)

    panel.execute_button.click()  # twice: the engine refuses, the panel shows it
    assert "po-error" in panel.status.value and "already executed" in panel.status.value


def test_ambiguous_name_offers_candidates_and_bad_case_is_a_red_line(demo):
    panel = ErasurePanel(demo, subject="Janis Berzins", case_id="DSR-1999-0001")
    assert "po-error" in panel.status.value and panel.plan is None
    panel.new_case_button.click()
    panel.plan_button.click()
    assert panel.plan is None and panel.picker.layout.display == "flex", panel.status.value
    refs = [v for _l, v in panel.candidates.options]
    assert {"crm.customers:1", "crm.customers:2"} <= set(refs)
    panel.candidates.value = "crm.customers:2"
    panel.pick_button.click()
    assert panel.plan is not None and panel.plan.subjects[0]["ref"] == "crm.customers:2", panel.status.value


def test_no_workspace_is_a_red_line(tmp_path):
    panel = ErasurePanel(tmp_path / "nowhere")
    assert "po-error" in panel.status.value and panel.ws is None
    panel.plan_button.click()
    assert "po-error" in panel.status.value
