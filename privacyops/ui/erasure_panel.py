"""The erasure panel: choose the case, Plan (what goes, what stays until when and why), Approve, Execute.

No business logic lives here: the panel calls `privacyops.erasure` (`plan_erasure`, `approve_plan`, `execute_plan`)
and `privacyops.cases` — the same functions the CLI calls — and shows what comes back. Approval is the engine's:
it approves as the current actor (`PRIVACYOPS_ACTOR`) and refuses the plan's preparer while four-eyes is on.
Errors privacyops raises on purpose appear as a red line, never as a traceback. The buttons and the HTML shown
live in `erasure_view.py`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ipywidgets as widgets

from ..erasure import ErasurePlan, ErasureResult, approve_plan, execute_plan, plan_erasure, verify_certificate
from ..errors import PrivacyOpsError
from ..ledger.people import confirm_person
from ..lookup import AMBIGUOUS, lookup
from ..workspace import Workspace, current_actor
from .case_panel import CasePanel
from .common import esc as _e
from .common import panel_box
from .erasure_view import EXTRA_CSS, ErasureControls, execution_html, execution_problem, plan_html, plan_line

FOUR_EYES = "the approver must differ from the preparer"


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
        self.plan: ErasurePlan | None = None  # the last plan made (or approved)
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
        self.candidates, self.pick_button, self.picker = c.candidates, c.pick_button, c.picker
        self.status = widgets.HTML(value="")
        self.output = widgets.HTML(value="")

        self.new_case_button.on_click(lambda _b: self.open_new_case())
        self.plan_button.on_click(lambda _b: self.make_plan())
        self.pick_button.on_click(lambda _b: self.make_plan(pick=self.candidates.value))
        self.approve_button.on_click(lambda _b: self.approve())
        self.execute_button.on_click(lambda _b: self.execute())
        self.subject.observe(lambda _change: self._subject_changed(), names="value")
        self.case.observe(lambda _change: self._forget_plan(), names="value")

        self.widget = panel_box([self.title, self.cases.row, c.row, self.picker, self.status, self.output],
                                EXTRA_CSS)
        c.enable_for(self.plan)

        if not self._open():
            return
        if case_id:
            self.cases.select(case_id, case_id)  # plan_erasure says what is wrong with it
        if run and case_id and self.subject.value.strip():
            self.make_plan(pick=pick)
        elif not self.error:
            self._set_status("Choose or open an erasure case, type the subject and press Plan. Nothing changes "
                             "until another person approves the plan and it is executed.", "po-muted")

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
            self.controls.enable_for(self.plan)
            return None
        self.picker.layout.display = "none" if not self._pick else self.picker.layout.display
        self.plan = plan
        self.output.value = plan_html(plan)
        self._set_status(plan_line(plan))
        self.controls.enable_for(self.plan)
        return plan

    def approve(self) -> ErasurePlan | None:
        """Approve the last plan as the current actor (PRIVACYOPS_ACTOR); the engine refuses its preparer."""
        if self.plan is None:
            self._set_error("make a plan first (Plan)")
            return None
        plan_id, preparer = self.plan.plan_id, self.plan.prepared_by
        plan = self._run(lambda ws: approve_plan(ws, plan_id), f"Approving plan {plan_id}…")
        if plan is None:
            if self.error and current_actor() == preparer:
                self._set_error(f"{FOUR_EYES}: {self.error}")
            self.controls.enable_for(self.plan)
            return None
        self.plan = plan
        self.output.value = plan_html(plan)
        self._set_status(f"Plan {plan.plan_id} approved by {plan.approved_by} (prepared by {plan.prepared_by}). "
                         f"Execute erases as planned.")
        self.controls.enable_for(self.plan)
        return plan

    def execute(self) -> ErasureResult | None:
        """Execute the approved plan: erase, schedule, verify, certify; show the verification and the certificate."""
        if self.plan is None:
            self._set_error("make and approve a plan first (Plan, then Approve by another person)")
            return None
        plan_id = self.plan.plan_id
        result = self._run(lambda ws: execute_plan(ws, plan_id), f"Executing plan {plan_id}…")
        if result is None:
            self.controls.enable_for(self.plan)
            return None
        self.result = result
        self.plan = result.plan
        check = verify_certificate(result.certificate_path, self.ws) if result.certificate_path else None
        good = result.ok and check is not None and check.ok
        self.output.value = execution_html(result, check, good)
        if good:
            self._set_status(f"Plan {plan_id} executed and verified; certificate {result.certificate_path}.")
        else:
            self._set_error(execution_problem(plan_id, result, check))
        self.controls.enable_for(self.plan)
        return result

    def _subtitle(self) -> str:
        return f"workspace {_e(self.ws.root)} · acting as {_e(confirm_person(self.ws) or current_actor())}"

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
        self.controls.enable_for(self.plan)

    def _busy(self, busy: bool) -> None:
        self.controls.busy(busy, self.plan, self.new_case_button)
