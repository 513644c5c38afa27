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
    Allowed,
    ErasurePlan,
    ErasureResult,
    plan_erasure,
)
from ..errors import PrivacyOpsError
from ..ledger.people import confirm_person
from ..lookup import AMBIGUOUS, lookup
from ..workspace import Workspace, current_actor
from .case_panel import CasePanel
from .common import esc as _e
from .common import panel_box
from .erasure_actions import PlanActions
from .erasure_view import (
    EXTRA_CSS,
    ErasureControls,
    InboxView,
    plain_words,
    plan_line,
)


class ErasurePanel(PlanActions, CasePanel):
    """Answer an erasure request (Art. 17) in a notebook: case, subject, Plan, Approve, Execute.

    `ErasurePanel(ws)` (or a workspace path, or None for the default workspace); `subject=` pre-fills the subject
    box, `pick=` chooses among several people, `case_id=` selects the case (with a subject too, the panel plans at
    once), `as_of=` is the date the retention rules are judged on (default today). Nothing changes in the data until
    a plan is approved by another person than its preparer and executed. The inbox below the buttons lists the
    plans awaiting the person acting (read from the ledger; Refresh reads it again): Open shows a plan as after
    Plan, and Approve / Execute / Cancel / Retry act on the plan shown.
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

    def _set_error(self, message: str) -> None:
        super()._set_error(plain_words(message))

    def _subtitle(self) -> str:
        return f"workspace {_e(self.ws.root)} · acting as <b>{_e(confirm_person(self.ws) or current_actor())}</b>"

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
