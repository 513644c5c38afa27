"""What the erasure panel does with a stored plan: the inbox, and Open, Approve, Execute, Retry, Cancel on the
plan opened (or just made).

No business logic lives here: each action calls `privacyops.erasure` (`erasure_inbox`, `allowed_actions`,
`load_plan`, `approve_plan`, `execute_plan`, `retry_plan`, `cancel_plan`). Everything is read from the ledger when
asked — the inbox, the plan, what the person acting may do — so a reload or another person's JupyterLab sees the
same. `ErasurePanel` (erasure_panel.py) builds the widgets and mixes this in.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..erasure import (
    FAILED,
    Allowed,
    ErasurePlan,
    ErasureResult,
    allowed_actions,
    approve_plan,
    cancel_plan,
    erasure_inbox,
    execute_plan,
    load_plan,
    retry_plan,
    verify_certificate,
)
from ..workspace import Workspace
from .erasure_view import ErasureControls, InboxView, execution_html, execution_problem, opened_line, plan_html


class PlanActions:
    """The inbox and the actions on the open plan (`plan`), for a panel that has the attributes below and the
    guarded calls of `CasePanel` (`_run`, `_guarded`, `_open`, `_set_status`, `_set_error`)."""

    ws: Workspace | None
    plan: ErasurePlan | None
    allowed: Allowed | None
    result: ErasureResult | None
    error: str | None
    controls: ErasureControls
    inbox: InboxView
    cancel_reason: widgets.Text
    output: widgets.HTML
    cases: Any
    case_id: str | None
    _run: Any
    _guarded: Any
    _open: Any
    _set_status: Any
    _set_error: Any

    def open_plan(self, plan_id: str) -> ErasurePlan | None:
        """Open a stored plan (from the inbox): show it as after Plan; the buttons then act on it."""
        plan = self._run(lambda ws: load_plan(ws, plan_id), f"Opening plan {plan_id}…")
        if plan is None:
            return None
        if plan.case_id and plan.case_id != self.case_id:
            self.cases.select(plan.case_id, plan.case_id)  # (forgets the plan shown before)
        self.result = None
        self._show(plan)
        self._set_status(opened_line(plan, self.allowed), "po-warn" if plan.status == FAILED else "po-ok")
        return plan

    def approve(self) -> ErasurePlan | None:
        """Approve the open plan as the current actor; its preparer cannot (four-eyes)."""
        if not self._may("approve", "make a plan or open one from the inbox first"):
            return None
        plan_id = self.plan.plan_id
        plan = self._run(lambda ws: approve_plan(ws, plan_id), f"Approving plan {plan_id}…")
        if plan is None:
            self._sync()
            return None
        self._show(plan)
        self._set_status(f"Plan {plan.plan_id} approved by {plan.approved_by} (prepared by {plan.prepared_by}). "
                         f"Execute erases as planned.")
        self.refresh()
        return plan

    def execute(self) -> ErasureResult | None:
        """Execute the open, approved plan: erase, schedule, verify, certify; show the verification and the
        certificate."""
        if not self._may("execute", "make and approve a plan first (Plan, then Approve by another person)"):
            return None
        plan_id = self.plan.plan_id
        return self._finish(plan_id, self._run(lambda ws: execute_plan(ws, plan_id), f"Executing plan {plan_id}…"))

    def retry(self) -> ErasureResult | None:
        """Run the open, failed plan again (after fixing what its failure said)."""
        if not self._may("retry", "open a failed plan from the inbox first"):
            return None
        plan_id = self.plan.plan_id
        return self._finish(plan_id, self._run(lambda ws: retry_plan(ws, plan_id), f"Retrying plan {plan_id}…"))

    def cancel(self) -> ErasurePlan | None:
        """Cancel the open plan with the reason typed next to the button (audited); it is never executed."""
        if not self._may("cancel", "open a plan from the inbox first"):
            return None
        reason, plan_id = self.cancel_reason.value.strip(), self.plan.plan_id
        if not reason:
            self._set_error(f"write why plan {plan_id} is cancelled in the Reason box, then press Cancel")
            return None
        got = self._run(lambda ws: cancel_plan(ws, plan_id, reason), f"Cancelling plan {plan_id}…")
        if got is None:
            self._sync()
            return None
        plan, committed = got
        self.cancel_reason.value = ""
        self._show(plan)
        self._set_status(f"Plan {plan_id} cancelled: it will not be executed; the case can be planned again."
                         + (f" Already erased before: {', '.join(committed)} (stays as it is)." if committed else ""),
                         "po-warn")
        self.refresh()
        return plan

    def refresh(self) -> None:
        """Read the inbox again from the ledger (what waits for the person acting)."""
        if not self._open():
            return
        ok, inbox = self._guarded(lambda ws: erasure_inbox(ws))
        if ok:
            self.inbox.show(inbox)

    def _finish(self, plan_id: str, result: ErasureResult | None) -> ErasureResult | None:
        """After Execute or Retry: the verification and the certificate check; after a refusal the plan as it is
        now (a store's refusal makes it failed) under the red line."""
        if result is None:
            ok, plan = self._guarded(lambda ws: load_plan(ws, plan_id)) if self.ws is not None else (False, None)
            if ok:
                self._show(plan)
            self.refresh()  # (a successful read leaves the red line as it is)
            return None
        self.result = result
        check = verify_certificate(result.certificate_path, self.ws) if result.certificate_path else None
        good = result.ok and check is not None and check.ok
        self._show(result.plan, execution_html(result, check, good))
        if good:
            self._set_status(f"Plan {plan_id} executed and verified; certificate {result.certificate_path}.")
        else:
            self._set_error(execution_problem(plan_id, result, check))
        self.refresh()
        return result

    def _may(self, action: str, no_plan: str) -> bool:
        """Whether the person acting may use `action` on the open plan now; if not, say why (the red line)."""
        if self.plan is None:
            self._set_error(no_plan)
            return False
        if not self._open():
            return False
        self._sync()
        why = getattr(self.allowed, action)
        if why:
            self._set_error(why)
        return why is None

    def _show(self, plan: ErasurePlan, html: str | None = None) -> None:
        self.plan = plan
        self.output.value = html if html is not None else plan_html(plan)
        self._sync()

    def _sync(self) -> None:
        """The buttons as the person acting may use them on the open plan (the engine's rules, asked now)."""
        self.allowed = (allowed_actions(self.ws, self.plan.status, self.plan.prepared_by)
                        if self.plan is not None and self.ws is not None else None)
        self.controls.enable_for(self.plan, self.allowed)

