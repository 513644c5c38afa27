"""The rectification panel (Art. 16): find a person, pick a field, type the correct value, see the plan, apply.

No business logic lives here: the panel calls `privacyops.rectify` (the same functions the CLI calls) and only shows
what comes back. When the map asks for four-eyes on rectification, Apply submits the plan and the changes awaiting
approval are listed (`rectify_inbox.py`). Errors privacyops raises on purpose appear as a red line, never as a traceback. The form, the HTML
and how the widgets change after each step live in `rectify_view.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..errors import PrivacyOpsError
from ..lookup import FOUND, SubjectRecords
from ..rectify import (
    RectificationPlan,
    RectificationResult,
    apply_rectification,
    choices,
    find_subject,
    plan_rectification,
)
from ..workspace import Workspace
from .common import esc as _e
from .common import panel_box, title_html
from .rectify_inbox import PendingActions, PendingView
from .rectify_view import RectificationDisplay, RectifyForm, result_bundle


class RectificationPanel(PendingActions, RectificationDisplay):
    """Correct a data subject's personal data across every place it is stored, in a notebook.

    `RectificationPanel(ws, case_id="DSR-2025-0001")` (or a workspace path, or None for the default workspace);
    `initial=` pre-fills the subject box and finds that person (`pick=` chooses among several). Then choose a field,
    type the correct value, press Plan (shows current -> proposed everywhere the value is stored) and Apply.
    """

    def __init__(self, workspace: Workspace | str | Path | None = None, *, case_id: str | None = None,
                 initial: str | None = None, pick: str | None = None, run: bool = True):
        self.ws: Workspace | None = None
        self.records: SubjectRecords | None = None
        self.plan: RectificationPlan | None = None
        self.result: RectificationResult | None = None
        self.error: str | None = None
        self._workspace_arg = workspace
        self._query = ""

        self.title = widgets.HTML()
        self.form = f = RectifyForm(initial, case_id)
        self.subject, self.find_button, self.case = f.subject, f.find_button, f.case
        self.candidates, self.pick_button, self.picker = f.candidates, f.pick_button, f.picker
        self.field, self.current, self.new_value, self.propagate = f.field, f.current, f.new_value, f.propagate
        self.plan_button, self.apply_button = f.plan_button, f.apply_button
        self.status = widgets.HTML(value="")
        self.output = widgets.Output()
        self.pending, self.opened = PendingView(), None  # four-eyes: the changes awaiting approval
        self.inbox = self.pending

        self.find_button.on_click(lambda _b: self.find())
        self.pick_button.on_click(lambda _b: self.pick())
        self.plan_button.on_click(lambda _b: self.make_plan())
        self.apply_button.on_click(lambda _b: self.apply())
        self.pending.refresh_button.on_click(lambda _b: self.refresh_pending())
        self.pending.open_button.on_click(lambda _b: self.open_pending())
        self.pending.approve_button.on_click(lambda _b: self.approve_pending())
        self.pending.reject_button.on_click(lambda _b: self.reject_pending())
        self.field.observe(self._field_changed, names="value")
        for w in (self.new_value, self.propagate, self.case):
            w.observe(lambda _change: self._inputs_changed(), names="value")

        self.widget = panel_box([self.title, *f.rows, self.status, self.pending.widget, self.output])

        if self._open():
            self._setup_pending(self.apply_button)
            if run and pick:
                self._query = self.subject.value.strip()
                self.pick(pick)
            elif run and self.subject.value.strip():
                self.find()
            else:
                self._set_status("Type who the request is about and press Find.", "po-muted")

    # -- actions --------------------------------------------------------------------------------------------------
    def find(self) -> SubjectRecords | None:
        """Find the person in the subject box; fill the field list from their records."""
        text = self.subject.value.strip()
        self._query = text
        self._forget_subject()
        return self._run(lambda ws: find_subject(ws, text, case_id=self._case()), f"Finding {text!r}…",
                         self._show_records)

    def pick(self, ref: str | None = None) -> SubjectRecords | None:
        """Choose one candidate (`DATASET:KEY`, default: the one selected in the list)."""
        ref = ref or self.candidates.value
        if not ref:
            self._set_error("choose a candidate first")
            return None
        text = self._query
        self._forget_subject()
        return self._run(lambda ws: find_subject(ws, text or None, pick=ref, case_id=self._case()),
                         f"Loading {ref}…", lambda r: self._show_records(r, picked=True))

    def make_plan(self) -> RectificationPlan | None:
        """Plan the change in the form: current -> proposed in every place the value is stored."""
        if self.records is None or self.records.status != FOUND:
            self._set_error("find the person first")
            return None
        if not self.field.value:
            self._set_error("choose the field to correct")
            return None
        self._drop_plan()
        self.output.outputs = ()
        subject = self.records.subject
        query, pick = (self._query or None, subject.ref) if subject else (self._query, None)
        target, value, propagate = self.field.value, self.new_value.value, self.propagate.value
        return self._run(lambda ws: plan_rectification(ws, self.case.value.strip(), query, pick=pick,
                                                       changes={target: value}, propagate=propagate),
                         "Planning…", self._show_plan)

    def apply(self) -> Any:
        """Apply the plan shown; show what was written and verified (with four-eyes on: submit it for approval)."""
        if self.plan is None:
            self._set_error("make a plan first (press Plan)")
            return None
        if self._four_eyes():  # the map asks for a second person: submit, never write
            return self.submit()
        plan = self.plan
        return self._run(lambda ws: apply_rectification(ws, plan), "Applying…", self._show_result)

    def _run(self, call: Callable[[Workspace], Any], working: str, show_it: Callable[[Any], None]) -> Any:
        ok, got = self._call(call, working)
        if not ok:
            return None
        self.error = None
        show_it(got)
        return got

    def _open(self) -> bool:
        if self.ws is not None:
            return True
        if not self._open_workspace("Rectification"):
            return False
        self.title.value = title_html(f"Rectification (Art. 16) — {_e(self.ws.datamap.organisation.name)}",
                                      "correct a person's data everywhere it is stored · "
                                      f"workspace {_e(self.ws.root)}")
        return True

    def _case(self) -> str | None:
        return self.case.value.strip() or None

    # -- after applying -------------------------------------------------------------------------------------------
    def _show_result(self, result: RectificationResult) -> None:
        self._drop_plan()
        self.output.outputs = (result_bundle(result),)
        self.result = result
        self._refresh_fields()
        self._set_status(result.render())

    def _refresh_fields(self) -> None:
        """Refresh the field list so it shows the values as they are now (a lookup, audited as such)."""
        records = self.records
        if records is None or records.subject is None or self.ws is None:
            return
        try:
            fresh = find_subject(self.ws, self._query or None, pick=records.subject.ref, case_id=self._case())
        except PrivacyOpsError:
            return
        if fresh.status != FOUND:
            return
        target = self.field.value
        self.records = fresh
        self.form.offer(choices(self.ws, fresh))
        if target in [c.target for c in self.field_choices]:
            self.field.value = target
        self._field_changed()
