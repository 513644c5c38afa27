"""The erasure panel: choose the case, Plan (what goes, what stays until when and why), Approve, Execute.

No business logic lives here: the panel calls `privacyops.erasure` (`plan_erasure`, `approve_plan`, `execute_plan`)
and `privacyops.cases` — the same functions the CLI calls — and shows what comes back. Approval is the engine's:
it approves as the current actor (`PRIVACYOPS_ACTOR`) and refuses the plan's preparer while four-eyes is on.
Errors privacyops raises on purpose appear as a red line, never as a traceback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from ..erasure import (
    APPROVED,
    BLOCKED,
    DELETE,
    MASK,
    PLANNED,
    RETAIN,
    ErasurePlan,
    ErasureResult,
    approve_plan,
    execute_plan,
    plan_erasure,
    verify_certificate,
)
from ..errors import PrivacyOpsError
from ..ledger import OPEN, list_cases, open_case
from ..lookup import AMBIGUOUS, lookup
from ..workspace import Workspace, current_actor
from .common import (
    PanelView,
    candidate_picker,
    case_row,
    offer_candidates,
    panel_box,
    select_case,
    set_case_options,
    subject_text,
    title_html,
)
from .common import esc as _e
from .common import table as _table

EXTRA_CSS = """
<style>
.po-panel .po-cert { font-size: 13px; padding: 6px 8px; background: #ecfdf5; border-left: 3px solid #16a34a; }
.po-panel .po-cert.po-bad { background: #fef2f2; border-left-color: #b91c1c; }
.po-panel h4 { font-size: 13px; font-weight: 600; margin: 12px 0 4px 0; }
</style>
"""
FOUR_EYES = "the approver must differ from the preparer"


class ErasurePanel(PanelView):
    """Answer an erasure request (Art. 17) in a notebook: case, subject, Plan, Approve, Execute.

    `ErasurePanel(ws)` (or a workspace path, or None for the default workspace); `subject=` pre-fills the subject
    box, `pick=` chooses among several people, `case_id=` selects the case (with a subject too, the panel plans at
    once), `as_of=` is the date the retention rules are judged on (default today). Nothing changes in the data until
    a plan is approved by another person than its preparer and executed.
    """

    clears_error = True

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
        self.case, self.new_received, self.new_case_button = case_row(
            "— choose an open erasure case —", "Register a new erasure request received on that date")
        self.subject = subject_text(subject)
        self.plan_button = widgets.Button(description="Plan", button_style="primary", icon="list",
                                          tooltip="Decide every record (nothing changes)",
                                          layout=widgets.Layout(width="100px"))
        self.approve_button = widgets.Button(description="Approve", button_style="warning", icon="check",
                                             tooltip="Approve the plan as yourself (not its preparer)",
                                             layout=widgets.Layout(width="110px"))
        self.execute_button = widgets.Button(description="Execute", button_style="danger", icon="trash",
                                             tooltip="Erase as the approved plan says, verify, certify",
                                             layout=widgets.Layout(width="110px"))
        self.candidates, self.pick_button, self.picker = candidate_picker("Plan for this person")
        self.status = widgets.HTML(value="")
        self.output = widgets.HTML(value="")

        self.new_case_button.on_click(lambda _b: self.open_new_case())
        self.plan_button.on_click(lambda _b: self.make_plan())
        self.pick_button.on_click(lambda _b: self.make_plan(pick=self.candidates.value))
        self.approve_button.on_click(lambda _b: self.approve())
        self.execute_button.on_click(lambda _b: self.execute())
        self.subject.observe(lambda _change: self._subject_changed(), names="value")
        self.case.observe(lambda _change: self._forget_plan(), names="value")

        self.widget = panel_box([
            self.title,
            widgets.HBox([self.case, self.new_received, self.new_case_button]),
            widgets.HBox([self.subject, self.plan_button, self.approve_button, self.execute_button]),
            self.picker, self.status, self.output,
        ], EXTRA_CSS)
        self._buttons()

        if not self._open():
            return
        if case_id and not self._select_case(case_id):
            return
        if run and case_id and self.subject.value.strip():
            self.make_plan(pick=pick)
        elif not self.error:
            self._set_status("Choose or open an erasure case, type the subject and press Plan. Nothing changes "
                             "until another person approves the plan and it is executed.", "po-muted")

    @property
    def case_id(self) -> str | None:
        return self.case.value or None

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
            self._buttons()
            return None
        self.picker.layout.display = "none" if not self._pick else self.picker.layout.display
        self.plan = plan
        self._show_plan(plan)
        t = plan.totals()
        self._set_status(f"Plan {plan.plan_id} for case {plan.case_id} (as of {plan.as_of}), prepared by "
                         f"{plan.prepared_by}: {t[DELETE]} to delete, {t[MASK]} to mask, {t[RETAIN]} to retain "
                         f"(restricted), {t[BLOCKED]} blocked. Nothing has changed: another person approves it "
                         f"next.")
        self._buttons()
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
            self._buttons()
            return None
        self.plan = plan
        self._show_plan(plan)
        self._set_status(f"Plan {plan.plan_id} approved by {plan.approved_by} (prepared by {plan.prepared_by}). "
                         f"Execute erases as planned.")
        self._buttons()
        return plan

    def execute(self) -> ErasureResult | None:
        """Execute the approved plan: erase, schedule, verify, certify; show the verification and the certificate."""
        if self.plan is None:
            self._set_error("make and approve a plan first (Plan, then Approve by another person)")
            return None
        plan_id = self.plan.plan_id
        result = self._run(lambda ws: execute_plan(ws, plan_id), f"Executing plan {plan_id}…")
        if result is None:
            self._buttons()
            return None
        self.result = result
        self.plan = result.plan
        check = verify_certificate(result.certificate_path, self.ws) if result.certificate_path else None
        v = result.verification
        good = result.ok and check is not None and check.ok
        note = (f'<div class="po-cert{"" if good else " po-bad"}"><b>'
                f'{"Verified" if v.ok else "VERIFICATION FAILED"}</b>: {v.checked_rows} row(s) read back, '
                f"{v.lookups} lookup(s); remaining: "
                f'{_e(", ".join(f"{d} ({n})" for d, n in v.remaining.items()) or "nothing")}<br>'
                f"<b>Certificate</b> <code>{_e(result.certificate_path)}</code><br>"
                f"{_e(check) if check else 'no certificate'}</div>")
        problems = "".join(f'<div class="po-status po-warn">problem: {_e(p)}</div>' for p in v.problems[:20])
        self.output.value = note + problems + self._plan_html(result.plan)
        if good:
            self._set_status(f"Plan {plan_id} executed and verified; certificate {result.certificate_path}.")
        else:
            self._set_error(f"plan {plan_id} executed but " + ("verification failed: " + "; ".join(v.problems[:5])
                                                                if not v.ok else f"the certificate: {check}"))
        self._buttons()
        return result

    def open_new_case(self) -> str | None:
        """Register a new erasure request received on the chosen date, and select it."""
        received = self.new_received.value or dt.date.today()
        case = self._run(lambda ws: open_case(ws, "erasure", received, channel="erasure panel"), "Opening a case…")
        if case is None:
            return None
        self._load_cases()
        self.case.value = case.case_id
        self._set_status(f"Opened case {case.case_id} (erasure, received {case.received}, due {case.due}).")
        return case.case_id

    def _run(self, call: Callable[[Workspace], Any], working: str) -> Any:
        if not self._open():
            return None
        self._set_status(working, "po-muted")
        return self._guarded(call)[1]

    def _open(self) -> bool:
        """Open the workspace once; on failure show why (the next click tries again)."""
        if self.ws is not None:
            return True
        if not self._open_workspace("Erasure"):
            return False
        org = self.ws.datamap.organisation.name
        self.title.value = title_html(f"Erasure — {_e(org)}",
                                      f"workspace {_e(self.ws.root)} · acting as {_e(current_actor())}")
        try:
            self._load_cases()
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
        return True

    # -- cases and candidates -------------------------------------------------------------------------------------
    def _load_cases(self) -> None:
        cases = [c for c in list_cases(self.ws, OPEN) if c.type == "erasure"]
        cases.sort(key=lambda c: (c.received, c.case_id), reverse=True)
        set_case_options(self.case, [(f"{c.case_id} · erasure · received {c.received} · due {c.deadline}", c.case_id)
                                     for c in cases])

    def _select_case(self, case_id: str) -> bool:
        select_case(self.case, case_id, case_id)  # plan_erasure says what is wrong
        return True

    def _offer_candidates(self, text: str) -> None:
        """After a refused plan: when several people match, list them to pick one (people are never merged)."""
        try:
            found = lookup(self.ws, text, mentions=False, audit_log=False)
        except PrivacyOpsError:
            return
        if found.status != AMBIGUOUS:
            return
        offer_candidates(self.candidates, self.picker, found.candidates)
        self._set_status(f"{len(found.candidates)} people match {text!r}: choose one below and press “Plan for "
                         f"this person”. People are never merged.", "po-warn")

    def _subject_changed(self) -> None:
        self._pick = None
        self.picker.layout.display = "none"

    def _forget_plan(self) -> None:
        self.plan, self.result = None, None
        self.output.value = ""
        self._buttons()

    # -- display --------------------------------------------------------------------------------------------------
    def _plan_html(self, plan: ErasurePlan) -> str:
        t = plan.totals()
        head = (f"<h4>Plan {_e(plan.plan_id)} — status {_e(plan.status)}; prepared by {_e(plan.prepared_by)}"
                + (f", approved by {_e(plan.approved_by)}" if plan.approved_by else "") + "</h4>"
                f'<div class="po-summary">{len(plan.rows)} record(s): {t[DELETE]} delete, {t[MASK]} mask, '
                f"{t[RETAIN]} retain (restricted), {t[BLOCKED]} blocked · as of {_e(plan.as_of)} · "
                f"subject {_e(', '.join(s.get('ref') or '(no person row)' for s in plan.subjects))}</div>")
        parts = [head, "<h4>Per dataset and action</h4>",
                 _table(plan.to_frame()) if plan.rows else '<div class="po-muted">no records</div>']
        kept = plan.to_frame()
        kept = kept[kept["action"].isin([RETAIN, BLOCKED])] if len(kept) else kept
        parts.append("<h4>Retained, until when and why</h4>")
        parts.append(_table(kept[["dataset", "action", "records", "until", "masked fields", "why"]])
                     if len(kept) else '<div class="po-muted">nothing: every record goes</div>')
        ne = plan.not_erased_frame()
        parts.append("<h4>Not erased, and why</h4>")
        parts.append(_table(ne) if len(ne) else '<div class="po-muted">nothing</div>')
        for n in plan.notes:
            parts.append(f'<div class="po-status po-warn">Note: {_e(n)}</div>')
        return '<div class="po-result">' + "".join(parts) + "</div>"

    def _show_plan(self, plan: ErasurePlan) -> None:
        self.output.value = self._plan_html(plan)

    def _buttons(self) -> None:
        status = self.plan.status if self.plan is not None else None
        self.approve_button.disabled = status != PLANNED
        self.execute_button.disabled = status not in (APPROVED, PLANNED)  # the engine says why a plan cannot run

    def _busy(self, busy: bool) -> None:
        for b in (self.plan_button, self.approve_button, self.execute_button, self.new_case_button,
                  self.pick_button):
            b.disabled = busy
        if not busy:
            self._buttons()
