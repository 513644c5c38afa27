"""The rectification panel (Art. 16): find a person, pick a field, type the correct value, see the plan, apply.

No business logic lives here: the panel calls `privacyops.rectify` (the same functions the CLI calls) and only shows
what comes back. Errors privacyops raises on purpose appear as a red line, never as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets

from ..errors import PrivacyOpsError
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords
from ..rectify import (
    FieldChoice,
    RectificationPlan,
    RectificationResult,
    apply_rectification,
    choices,
    find_subject,
    plan_rectification,
)
from ..rectify.plan import show
from ..workspace import Workspace
from .common import PanelView, candidate_picker, offer_candidates, panel_box, subject_text, title_html
from .common import esc as _e
from .common import html_bundle as _html_bundle
from .common import table as _table


class RectificationPanel(PanelView):
    """Correct a data subject's personal data across every place it is stored, in a notebook.

    `RectificationPanel(ws, case_id="DSR-2025-0001")` (or a workspace path, or None for the default workspace);
    `initial=` pre-fills the subject box and finds that person (`pick=` chooses among several). Then choose a field,
    type the correct value, press Plan (shows current -> proposed everywhere the value is stored) and Apply.
    """

    def __init__(self, workspace: Workspace | str | Path | None = None, *, case_id: str | None = None,
                 initial: str | None = None, pick: str | None = None, run: bool = True):
        self.ws: Workspace | None = None
        self.records: SubjectRecords | None = None
        self.field_choices: list[FieldChoice] = []
        self.plan: RectificationPlan | None = None
        self.result: RectificationResult | None = None
        self.error: str | None = None
        self._workspace_arg = workspace
        self._query = ""

        self.title = widgets.HTML()
        self.subject = subject_text(initial, labelled=False, width="360px")
        self.find_button = widgets.Button(description="Find", button_style="primary", icon="search",
                                          tooltip="Find the person and their records",
                                          layout=widgets.Layout(width="110px"))
        self.case = widgets.Text(value=case_id or "", placeholder="DSR-YYYY-NNNN", description="Case",
                                 layout=widgets.Layout(width="240px"), style={"description_width": "40px"})
        self.candidates, self.pick_button, self.picker = candidate_picker("Choose this person")
        self.field = widgets.Dropdown(options=[], description="Field", layout=widgets.Layout(width="720px"),
                                      style={"description_width": "40px"})
        self.current = widgets.HTML(value="")
        self.new_value = widgets.Text(value="", placeholder="the correct value", description="New value",
                                      layout=widgets.Layout(width="480px"), style={"description_width": "72px"})
        self.propagate = widgets.Checkbox(value=True, indent=False,
                                          description="also change the same value wherever else it is stored")
        self.plan_button = widgets.Button(description="Plan", icon="list", tooltip="Show what would change",
                                          layout=widgets.Layout(width="110px"))
        self.apply_button = widgets.Button(description="Apply", button_style="danger", icon="check",
                                           tooltip="Write the plan, then read it back", disabled=True,
                                           layout=widgets.Layout(width="110px"))
        self.status = widgets.HTML(value="")
        self.output = widgets.Output()

        self.find_button.on_click(lambda _b: self.find())
        self.pick_button.on_click(lambda _b: self.pick())
        self.plan_button.on_click(lambda _b: self.make_plan())
        self.apply_button.on_click(lambda _b: self.apply())
        self.field.observe(self._field_changed, names="value")
        for w in (self.new_value, self.propagate, self.case):
            w.observe(lambda _change: self._inputs_changed(), names="value")

        self.widget = panel_box([
            self.title,
            widgets.HBox([self.subject, self.find_button, self.case]),
            self.picker, self.field, self.current,
            widgets.HBox([self.new_value, self.plan_button, self.apply_button]), self.propagate,
            self.status, self.output,
        ])

        if self._open():
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

    def apply(self) -> RectificationResult | None:
        """Apply the plan shown; show what was written and verified."""
        if self.plan is None:
            self._set_error("make a plan first (press Plan)")
            return None
        plan = self.plan
        return self._run(lambda ws: apply_rectification(ws, plan), "Applying…", self._show_result)

    def _run(self, call: Callable[[Workspace], Any], working: str, show_it: Callable[[Any], None]) -> Any:
        if not self._open():
            return None
        self._set_status(working, "po-muted")
        ok, got = self._guarded(call)
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

    # -- display --------------------------------------------------------------------------------------------------
    def _busy(self, busy: bool) -> None:
        for b in (self.find_button, self.pick_button, self.plan_button):
            b.disabled = busy
        self.apply_button.disabled = busy or self.plan is None

    def _drop_plan(self) -> None:
        self.plan = None
        self.apply_button.disabled = True

    def _forget_subject(self) -> None:
        """Before another search: never leave one person's fields or plan under another search's result."""
        self._drop_plan()
        self.records, self.field_choices = None, []
        self.field.options = []
        self.output.outputs = ()

    def _inputs_changed(self) -> None:
        if self.plan is not None and not self.plan.applied:
            self._drop_plan()
            self.output.outputs = ()
            self._set_status("The inputs changed: press Plan again.", "po-warn")

    def _field_changed(self, _change: Any = None) -> None:
        choice = next((c for c in self.field_choices if c.target == self.field.value), None)
        self.current.value = ("" if choice is None else
                              f'<div class="po-muted">current value: {_e(show(choice.current))}'
                              f'{f" ({choice.rows} rows)" if choice.rows > 1 else ""}</div>')
        self._inputs_changed()

    def _show_records(self, r: SubjectRecords, picked: bool = False) -> None:
        self._drop_plan()
        self.output.outputs = ()
        self.records = r
        self.field_choices = []
        self.field.options = []
        if r.status == AMBIGUOUS:
            offer_candidates(self.candidates, self.picker, r.candidates, score=True)
            self._set_status(f"{len(r.candidates)} people match {r.query!r}: choose one and press “Choose this "
                             f"person”. People are never merged.", "po-warn")
            return
        if not picked:
            self.picker.layout.display = "none"
            self.candidates.options = []
        if r.status != FOUND:
            self._set_status(f"No records found for {r.query!r} (searched as {r.kind}).", "po-warn")
            return
        self.field_choices = choices(self.ws, r)
        self.field.options = [(c.label, c.target) for c in self.field_choices]
        self.field.value = self.field_choices[0].target if self.field_choices else None
        self._field_changed()
        who = r.subject.label if r.subject else r.query
        shared = sum(x.count for x in r.shared.values())
        self._set_status(f"{who}: {r.total_rows} records in {len(r.records)} datasets; {len(self.field_choices)} "
                         f"values can be corrected" + (f" ({shared} rows under a shared identifier are never changed)"
                                                       if shared else "") + ".")

    def _show_plan(self, plan: RectificationPlan) -> None:
        self.plan = plan
        self.apply_button.disabled = False
        frame = plan.to_frame()
        parts = [f'<div class="po-summary">{_e(plan.subject_label)} [{_e(plan.subject_ref)}] · case '
                 f'{_e(plan.case_id)} · {len(plan.changes)} change(s) in {plan.rows()} row(s) of '
                 f'{len(plan.datasets)} dataset(s)</div>',
                 f"<h4>Current → proposed, in every place the value is stored</h4>{_table(frame)}"]
        if plan.untouched:
            parts.append("<h4>The same value, not changed</h4><ul>" + "".join(
                f"<li>{_e(u.dataset)}.{_e(u.field)}[{_e(','.join(map(str, u.key)))}]: {_e(u.reason)}</li>"
                for u in plan.untouched) + "</ul>")
        if plan.free_text:
            parts.append("<h4>The old value also appears inside free text (not changed)</h4><ul>" + "".join(
                f"<li>{_e(u.dataset)}.{_e(u.field)}[{_e(','.join(map(str, u.key)))}]</li>" for u in plan.free_text)
                + "</ul>")
        for w in plan.warnings:
            parts.append(f'<div class="po-warn">warning: {_e(w)}</div>')
        self.output.outputs = (_html_bundle("".join(parts), plan.render()),)
        self._set_status(f"Plan ready: {len(plan.changes)} change(s). Check it, then press Apply.", "po-warn")

    def _show_result(self, result: RectificationResult) -> None:
        self._drop_plan()
        frame = result.to_frame()
        self.output.outputs = (_html_bundle(
            f'<div class="po-summary">{_e(result.render())}</div><h4>Written and read back</h4>{_table(frame)}',
            result.render()),)
        self.result = result
        # Refresh the field list so it shows the values as they are now (a lookup, audited as such).
        records = self.records
        if records is not None and records.subject is not None and self.ws is not None:
            try:
                fresh = find_subject(self.ws, self._query or None, pick=records.subject.ref, case_id=self._case())
            except PrivacyOpsError:
                fresh = None
            if fresh is not None and fresh.status == FOUND:
                target = self.field.value
                self.records = fresh
                self.field_choices = choices(self.ws, fresh)
                self.field.options = [(c.label, c.target) for c in self.field_choices]
                if target in [c.target for c in self.field_choices]:
                    self.field.value = target
                self._field_changed()
        self._set_status(result.render())
