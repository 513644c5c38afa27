"""The erasure panel's pieces: its subject row and buttons, and the plan and execution it shows.

Widgets and HTML only; the panel (`erasure_panel.py`) makes every call into privacyops.
"""

from __future__ import annotations

import ipywidgets as widgets

from ..erasure import APPROVED, BLOCKED, DELETE, MASK, PLANNED, RETAIN, ErasurePlan, ErasureResult
from ..erasure.certificate import CertificateCheck
from .common import candidate_picker, subject_text
from .common import esc as _e
from .common import table as _table

EXTRA_CSS = """
<style>
.po-panel .po-cert { font-size: 13px; padding: 6px 8px; background: #ecfdf5; border-left: 3px solid #16a34a; }
.po-panel .po-cert.po-bad { background: #fef2f2; border-left-color: #b91c1c; }
.po-panel h4 { font-size: 13px; font-weight: 600; margin: 12px 0 4px 0; }
</style>
"""


class ErasureControls:
    """The subject box with Plan, Approve and Execute, and the candidate picker shown when several people match."""

    def __init__(self, subject: str | None):
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
        self.row = widgets.HBox([self.subject, self.plan_button, self.approve_button, self.execute_button])

    def enable_for(self, plan: ErasurePlan | None) -> None:
        """Approve needs a plan still planned; Execute also takes a planned one (the engine says why it cannot run)."""
        status = plan.status if plan is not None else None
        self.approve_button.disabled = status != PLANNED
        self.execute_button.disabled = status not in (APPROVED, PLANNED)

    def busy(self, busy: bool, plan: ErasurePlan | None, new_case_button: widgets.Button) -> None:
        """Every button disabled while a call runs; afterwards as `plan` allows (the "Open case" button too)."""
        for b in (self.plan_button, self.approve_button, self.execute_button, new_case_button, self.pick_button):
            b.disabled = busy
        if not busy:
            self.enable_for(plan)


def plan_line(plan: ErasurePlan) -> str:
    """The status line after planning: the totals, and that nothing has changed yet."""
    t = plan.totals()
    return (f"Plan {plan.plan_id} for case {plan.case_id} (as of {plan.as_of}), prepared by "
            f"{plan.prepared_by}: {t[DELETE]} to delete, {t[MASK]} to mask, {t[RETAIN]} to retain "
            f"(restricted), {t[BLOCKED]} blocked. Nothing has changed: another person approves it "
            f"next.")


def plan_html(plan: ErasurePlan) -> str:
    """The plan: a summary, the records per dataset and action, what is retained (until when, why), what is not
    erased and why, and the plan's notes."""
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


def execution_html(result: ErasureResult, check: CertificateCheck | None, good: bool) -> str:
    """After executing: the verification and the certificate check (`check`, None without a certificate), the
    problems found, then the plan as executed."""
    v = result.verification
    note = (f'<div class="po-cert{"" if good else " po-bad"}"><b>'
            f'{"Verified" if v.ok else "VERIFICATION FAILED"}</b>: {v.checked_rows} row(s) read back, '
            f"{v.lookups} lookup(s); remaining: "
            f'{_e(", ".join(f"{d} ({n})" for d, n in v.remaining.items()) or "nothing")}<br>'
            f"<b>Certificate</b> <code>{_e(result.certificate_path)}</code><br>"
            f"{_e(check) if check else 'no certificate'}</div>")
    problems = "".join(f'<div class="po-status po-warn">problem: {_e(p)}</div>' for p in v.problems[:20])
    return note + problems + plan_html(result.plan)


def execution_problem(plan_id: str, result: ErasureResult, check: CertificateCheck | None) -> str:
    """The red line when executing plan `plan_id` could not be verified or certified."""
    v = result.verification
    return f"plan {plan_id} executed but " + ("verification failed: " + "; ".join(v.problems[:5])
                                              if not v.ok else f"the certificate: {check}")
