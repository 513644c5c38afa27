"""The erasure panel, driven in-process (no browser) on a copy of the small demo: Plan, a refused self-approval,
approval by another person, Execute with a valid certificate. Expectations come from SQL against the copy."""

from __future__ import annotations

from privacyops.demo import STORIES
from privacyops.erasure import approve_plan, load_plan, verify_certificate
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


def _ledger(ws, sql, params=()):
    import duckdb

    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_inbox_open_approve_execute_across_fresh_panels(demo, monkeypatch):
    """Four-eyes between two people's notebooks: alice plans; a NEW panel as bob finds the plan in his inbox, opens
    it and approves it; a NEW panel as alice (a reload) finds it approved, opens it and executes it. Nothing is
    carried in memory from one panel to the next: each reads the ledger."""
    ws_root = demo.root
    cid = JANIS["customer_id"]
    kept = dq(demo, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? AND issued_at >= DATE '2021-01-01' "
                    "ORDER BY 1", [cid])

    alice = ErasurePanel(ws_root, subject=JANIS["email"])
    assert "acting as <b>alice</b>" in alice.title.value and "you are acting as alice" in alice.inbox.heading.value
    alice.new_case_button.click()
    alice.plan_button.click()
    plan_id = alice.plan.plan_id
    assert alice.inbox.open_buttons.keys() == {plan_id}  # listed under "Plans I prepared" only
    assert "Awaiting approval (prepared by someone else) · 0" in _texts(alice)
    assert alice.approve_button.disabled and alice.execute_button.disabled

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    bob = ErasurePanel(ws_root)
    assert bob.plan is None and all(b.disabled for b in bob.controls.plan_buttons)
    assert "Awaiting approval (prepared by someone else) · 1" in _texts(bob) and plan_id in _texts(bob)
    assert len(bob.inbox.open_buttons[plan_id]) == 1
    bob.inbox.open_buttons[plan_id][0].click()
    assert bob.plan.plan_id == plan_id and bob.case.value == alice.plan.case_id, bob.status.value
    assert f"Opened plan {plan_id}" in bob.status.value and "prepared by alice" in bob.status.value
    assert "Retained, until when and why" in bob.output.value  # the same plan view as after Plan
    assert not bob.approve_button.disabled and bob.execute_button.disabled
    assert "not approved yet" in bob.execute_button.tooltip
    bob.approve_button.click()
    assert "po-error" not in bob.status.value, bob.status.value
    assert _ledger(demo, "SELECT status, prepared_by, approved_by FROM erasure_plans WHERE plan_id = ?",
                   [plan_id]) == [("approved", "alice", "bob")]
    assert "Approved, awaiting execution · 1" in _texts(bob)
    assert dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [1]

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    again = ErasurePanel(ws_root)  # the page reloaded: a new kernel, a new panel
    assert "Approved, awaiting execution · 1" in _texts(again) and len(again.inbox.open_buttons[plan_id]) == 2
    again.inbox.open_buttons[plan_id][0].click()
    assert again.plan.status == "approved" and "approved by bob" in again.status.value
    assert again.approve_button.disabled and not again.execute_button.disabled
    again.execute_button.click()
    assert "po-error" not in again.status.value, again.status.value
    assert again.result.ok and "certificate valid" in again.output.value
    assert _ledger(demo, "SELECT status, prepared_by, approved_by, executed_by FROM erasure_plans "
                         "WHERE plan_id = ?", [plan_id]) == [("done", "alice", "bob", "alice")]
    assert dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [0]
    assert dq(demo, "SELECT invoice_id FROM billing.invoices WHERE customer_id = ? ORDER BY 1", [cid]) == kept
    assert "Approved, awaiting execution · 0" in _texts(again)
    assert all(b.disabled for b in again.controls.plan_buttons)
    assert "already executed" in again.controls.why.value


def test_cancel_needs_a_reason_and_retry_runs_a_failed_plan(demo, monkeypatch):
    """Cancel with no reason is refused in plain words; with one, the plan is cancelled (ledger). A failed plan (the
    status set in the ledger: how plans fail is tested elsewhere) is listed as failed, Retry runs it to the end."""
    import duckdb

    first = ErasurePanel(demo.root, subject=JANIS["email"])
    first.new_case_button.click()
    first.plan_button.click()
    pid = first.plan.plan_id
    first.cancel_button.click()
    assert "po-error" in first.status.value and "Reason box" in first.status.value
    assert _ledger(demo, "SELECT status FROM erasure_plans WHERE plan_id = ?", [pid]) == [("planned",)]
    first.cancel_reason.value = "the subject withdrew the request"
    first.cancel_button.click()
    assert "po-error" not in first.status.value, first.status.value
    assert _ledger(demo, "SELECT status FROM erasure_plans WHERE plan_id = ?", [pid]) == [("cancelled",)]
    assert all(b.disabled for b in first.controls.plan_buttons)

    first.new_case_button.click()
    first.plan_button.click()
    pid2 = first.plan.plan_id
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(demo, pid2)
    con = duckdb.connect(str(demo.ledger_path))
    con.execute("UPDATE erasure_plans SET status = 'failed' WHERE plan_id = ?", [pid2])
    con.close()
    panel = ErasurePanel(demo.root)
    assert "Failed (retry after the fix, or cancel) · 1" in _texts(panel)
    panel.inbox.open_buttons[pid2][0].click()
    assert not panel.retry_button.disabled and panel.execute_button.disabled and panel.approve_button.disabled
    assert "Retry" in panel.execute_button.tooltip
    panel.retry_button.click()
    assert "po-error" not in panel.status.value, panel.status.value
    assert _ledger(demo, "SELECT status FROM erasure_plans WHERE plan_id = ?", [pid2]) == [("done",)]
    assert dq(demo, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [JANIS["customer_id"]]) == [0]


def _texts(panel) -> str:
    """The inbox as shown (its HTML pieces joined)."""
    import ipywidgets as widgets

    out = []

    def walk(w):
        if isinstance(w, widgets.HTML):
            out.append(w.value)
        for child in getattr(w, "children", ()):
            walk(child)

    walk(panel.inbox.widget)
    return "\n".join(out)
