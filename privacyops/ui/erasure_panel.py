"""The erasure panel: choose the case, Plan (what goes, what stays until when and why), Approve, Execute — and the
approval inbox, so that four-eyes works between two people's JupyterLabs.

No business logic lives here: the panel calls `privacyops.erasure` (`plan_erasure`, `erasure_inbox`,
`allowed_actions`, `load_plan`, `approve_plan`, `execute_plan`, `cancel_plan`, `retry_plan`) and `privacyops.cases`
— the same functions the CLI calls — and shows what comes back. The inbox (plans awaiting approval by someone
else, plans I prepared, approved plans awaiting execution, failed plans) is read from the ledger, so after a
reload, or in another person's JupyterLab, Open shows the same plan and its buttons act on it. Approval is the
engine's: it approves as the current actor and refuses the plan's preparer while four-eyes is on; a button the
person acting may not use is off, with the reason in plain words. Errors privacyops raises on purpose appear as a
red line, never as a traceback. The buttons and the HTML shown live in `erasure_view.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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
    plan_erasure,
    retry_plan,
    verify_certificate,
)
from ..errors import PrivacyOpsError
from ..lookup import AMBIGUOUS, lookup
from ..workspace import Workspace, current_actor
from .case_panel import CasePanel
from .common import esc as _e
from .common import panel_box
from .erasure_view import (
    EXTRA_CSS,
    ErasureControls,
    InboxView,
    execution_html,
    execution_problem,
    opened_line,
    plain_words,
    plan_html,
    plan_line,
)


class ErasurePanel(CasePanel):
    """Answer an erasure request (Art. 17) in a notebook: case, subject, Plan, Approve, Execute.

    `ErasurePanel(ws)` (or a workspace path, or None for the default workspace); `subject=` pre-fills the subject
    box, `pick=` chooses among several people, `case_id=` selects the case (with a subject too, the panel plans at
    once), `as_of=` is the date the retention rules are judged on (default today). Nothing changes in the data until
    a plan is approved by another person than its preparer and executed.
    """

    name = "Erasure"
    case_types = ("erasure",)
    channel = "erasure panel"

    def __init__(self, workspace: Workspace | str | Path | None = None, *, subject: str | None = None,
                 pick: str | None = None, case_id: str | None = None, as_of: dt.date | str | None = None,
                 run: bool = True):
        self.ws: Workspace | None = None
        self.plan: ErasurePlan | None = None  # the plan made or opened (shown, and what the buttons act on)
        self.allowed: Allowed | None = None  # what the person acting may do with it
        self.result: ErasureResult | None = None  # the last execution
        self.error: str | None = None
        self.as_of = as_of
        self._workspace_arg = workspace
        self._pick = pick

        self.title = widgets.HTML()
        self._case_row("— choose an open erasure case —", "Register a new erasure request received on that date")
        self.controls = c = ErasureControls(subject)
        self.subject, self.plan_button, self.approve_button, self.execute_button = (
            c.subject, c.plan_button, c.approve_button, c.execute_button)
        self.cancel_button, self.retry_button, self.cancel_reason = c.cancel_button, c.retry_button, c.reason
        self.candidates, self.pick_button, self.picker = c.candidates, c.pick_button, c.picker
        self.inbox = InboxView(self.open_plan)
        self.refresh_button = self.inbox.refresh_button
        self.status = widgets.HTML(value="")
        self.output = widgets.HTML(value="")

        self.new_case_button.on_click(lambda _b: self.open_new_case())
        self.plan_button.on_click(lambda _b: self.make_plan())
        self.pick_button.on_click(lambda _b: self.make_plan(pick=self.candidates.value))
        self.approve_button.on_click(lambda _b: self.approve())
        self.execute_button.on_click(lambda _b: self.execute())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.retry_button.on_click(lambda _b: self.retry())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.subject.observe(lambda _change: self._subject_changed(), names="value")
        self.case.observe(lambda _change: self._forget_plan(), names="value")

        self.widget = panel_box([self.title, self.cases.row, c.row, c.actions_row, c.why, self.picker, self.status,
                                 self.inbox.widget, self.output], EXTRA_CSS)
        self._sync()

        if not self._open():
            return
        self.refresh()
        if case_id:
            self.cases.select(case_id, case_id)  # plan_erasure says what is wrong with it
        if run and case_id and self.subject.value.strip():
            self.make_plan(pick=pick)
        elif not self.error:
            self._set_status("Choose or open an erasure case, type the subject and press Plan — or open a plan "
                             "from the inbox. Nothing changes until another person approves the plan and it is "
                             "executed.", "po-muted")

    # -- actions --------------------------------------------------------------------------------------------------
    def make_plan(self, pick: str | None = None) -> ErasurePlan | None:
        """Plan the erasure of the subject in the box for the chosen case (stored in the ledger; nothing changes)."""
        if pick is not None:
            self._pick = pick
        text, case_id, chosen = self.subject.value.strip(), self.case_id, self._pick
        if not case_id:
            self._set_error("choose an open erasure case (or open one with “Open case”) before planning")
            return None
        plan = self._run(lambda ws: plan_erasure(ws, case_id, text or None, pick=chosen, as_of=self.as_of),
                         f"Planning the erasure of {text or chosen!r}…")
        self.result = None
        if plan is None:
            self.plan = None
            self.output.value = ""
            if not chosen and text and self.error and "pick one" in self.error:  # several people match
                self._offer_candidates(text)
            self._sync()
            return None
        self.picker.layout.display = "none" if not self._pick else self.picker.layout.display
        self._show(plan)
        self._set_status(plan_line(plan))
        self.refresh()
        return plan

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

    def _set_error(self, message: str) -> None:
        super()._set_error(plain_words(message))

    def _subtitle(self) -> str:
        return f"workspace {_e(self.ws.root)} · acting as <b>{_e(current_actor())}</b>"

    # -- candidates and buttons -----------------------------------------------------------------------------------
    def _offer_candidates(self, text: str) -> None:
        """After a refused plan: when several people match, list them to pick one (people are never merged)."""
        try:
            found = lookup(self.ws, text, mentions=False, audit_log=False)
        except PrivacyOpsError:
            return
        if found.status != AMBIGUOUS:
            return
        self._offer_people(found.candidates, text, "Plan for this person")

    def _subject_changed(self) -> None:
        self._pick = None
        self.picker.layout.display = "none"

    def _forget_plan(self) -> None:
        self.plan, self.result = None, None
        self.output.value = ""
        self._sync()

    def _busy(self, busy: bool) -> None:
        open_buttons = tuple(b for bs in self.inbox.open_buttons.values() for b in bs)
        self.controls.busy(busy, self.plan, self.allowed,
                           (self.new_case_button, self.refresh_button, *open_buttons))
