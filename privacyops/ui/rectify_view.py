"""The rectification panel's pieces: its form (who, which field, the correct value, Plan and Apply), the plan and
result it shows, and `RectificationDisplay` — how the panel's widgets change after each step.

Nothing here reads or changes data: the panel (`rectify_panel.py`) makes the lookups, plans and writes; this only
lists the fields of records already read (`choices`) and shows what came back.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..lookup import AMBIGUOUS, FOUND, SubjectRecords
from ..rectify import FieldChoice, RectificationPlan, RectificationResult, choices, show
from ..workspace import Workspace
from .common import PanelView, candidate_picker, offer_candidates, subject_text
from .common import esc as _e
from .common import html_bundle as _html_bundle
from .common import table as _table


class RectifyForm:
    """The inputs: the subject box with Find and the case, the candidate picker, the field to correct (one entry per
    value the person's records hold, `choices`) with its current value, the new value with Plan and Apply, and
    whether to change the same value elsewhere."""

    def __init__(self, initial: str | None, case_id: str | None):
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
        self.rows = [widgets.HBox([self.subject, self.find_button, self.case]), self.picker, self.field,
                     self.current, widgets.HBox([self.new_value, self.plan_button, self.apply_button]),
                     self.propagate]
        self.choices: list[FieldChoice] = []

    def offer(self, choices: list[FieldChoice]) -> None:
        """Offer these fields (the list is set before the dropdown, whose observers read it)."""
        self.choices = choices
        self.field.options = [(c.label, c.target) for c in choices]

    def show_current(self) -> None:
        """The chosen field's current value under the dropdown."""
        choice = next((c for c in self.choices if c.target == self.field.value), None)
        self.current.value = ("" if choice is None else
                              f'<div class="po-muted">current value: {_e(show(choice.current))}'
                              f'{f" ({choice.rows} rows)" if choice.rows > 1 else ""}</div>')

    def busy(self, busy: bool, planned: bool) -> None:
        """Every button disabled while a call runs; Apply only with a plan to apply."""
        for b in (self.find_button, self.pick_button, self.plan_button):
            b.disabled = busy
        self.apply_button.disabled = busy or not planned


class RectificationDisplay(PanelView):
    """How the rectification panel's widgets change after each step: the person found (their fields offered), a plan
    shown (Apply enabled), inputs changed (the plan dropped). `RectificationPanel` adds the actions."""

    ws: Workspace | None
    form: RectifyForm
    records: SubjectRecords | None
    plan: RectificationPlan | None
    output: widgets.Output

    @property
    def field_choices(self) -> list[FieldChoice]:
        """The fields offered for the person found (one per distinct value)."""
        return self.form.choices

    def _busy(self, busy: bool) -> None:
        self.form.busy(busy, self.plan is not None)

    def _drop_plan(self) -> None:
        self.plan = None
        self.form.apply_button.disabled = True

    def _forget_subject(self) -> None:
        """Before another search: never leave one person's fields or plan under another search's result."""
        self._drop_plan()
        self.records = None
        self.form.offer([])
        self.output.outputs = ()

    def _inputs_changed(self) -> None:
        if self.plan is not None and not self.plan.applied:
            self._drop_plan()
            self.output.outputs = ()
            self._set_status("The inputs changed: press Plan again.", "po-warn")

    def _field_changed(self, _change: Any = None) -> None:
        self.form.show_current()
        self._inputs_changed()

    def _show_records(self, r: SubjectRecords, picked: bool = False) -> None:
        form = self.form
        self._drop_plan()
        self.output.outputs = ()
        self.records = r
        form.offer([])
        if r.status == AMBIGUOUS:
            offer_candidates(form.candidates, form.picker, r.candidates, score=True)
            self._set_status(f"{len(r.candidates)} people match {r.query!r}: choose one and press “Choose this "
                             f"person”. People are never merged.", "po-warn")
            return
        if not picked:
            form.picker.layout.display = "none"
            form.candidates.options = []
        if r.status != FOUND:
            self._set_status(f"No records found for {r.query!r} (searched as: {r.kind.replace('/', ', ')}). "
                             f"Check the spelling or search by another identifier.", "po-warn")
            return
        form.offer(choices(self.ws, r))
        form.field.value = form.choices[0].target if form.choices else None
        self._field_changed()
        self._set_status(records_line(r, len(form.choices)))

    def _show_plan(self, plan: RectificationPlan) -> None:
        self.plan = plan
        self.form.apply_button.disabled = False
        self.output.outputs = (plan_bundle(plan),)
        self._set_status(f"Plan ready: {len(plan.changes)} change(s). Check it, then press Apply.", "po-warn")


def records_line(r: SubjectRecords, n_choices: int) -> str:
    """The status line after finding the person: their records, and how many values can be corrected."""
    who = r.subject.label if r.subject else r.query
    shared = sum(x.count for x in r.shared.values())
    return (f"{who}: {r.total_rows} records in {len(r.records)} datasets; {n_choices} "
            f"values can be corrected" + (f" ({shared} rows under a shared identifier are never changed)"
                                          if shared else "") + ".")


def plan_bundle(plan: RectificationPlan) -> dict[str, Any]:
    """The plan: current -> proposed in every place, the same value left alone and why, the old value inside free
    text, and the warnings."""
    frame = plan.to_frame()
    parts = [(f'<div class="po-summary">{_e(plan.subject_label)} [{_e(plan.subject_ref)}] · case '
              f'{_e(plan.case_id)} · {len(plan.changes)} change(s) in {plan.rows()} row(s) of '
              f'{len(plan.datasets)} dataset(s)</div>'),
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
    return _html_bundle("".join(parts), plan.render())


def result_bundle(result: RectificationResult) -> dict[str, Any]:
    """What was written and read back."""
    frame = result.to_frame()
    return _html_bundle(
        f'<div class="po-summary">{_e(result.render())}</div><h4>Written and read back</h4>{_table(frame)}',
        result.render())
