"""The erasure panel's pieces: its subject row and buttons, the approval inbox, and the plan and execution it
shows.

Widgets and HTML only; the panel (`erasure_panel.py`) makes every call into privacyops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..erasure import (
    APPROVED,
    BLOCKED,
    DELETE,
    DONE,
    EXECUTING,
    FAILED,
    MASK,
    PLANNED,
    RETAIN,
    UNVERIFIED,
    Allowed,
    ErasurePlan,
    ErasureResult,
    Inbox,
    InboxPlan,
)
from ..erasure.certificate import CertificateCheck
from .common import candidate_picker, masked_words, nowrap_tokens, plain_words, render, subject_text
from .common import esc as _e
from .common import table as _table

EXTRA_CSS = """
<style>
.po-panel .po-cert { font-size: 13px; padding: 6px 8px; background: #ecfdf5; border-left: 3px solid #16a34a; }
.po-panel .po-cert code { overflow-wrap: anywhere; }
.po-panel .po-cert.po-bad { background: #fef2f2; border-left-color: #b91c1c; }
.po-panel h4 { font-size: 13px; font-weight: 600; margin: 12px 0 4px 0; }
.po-panel .po-why { font-size: 12px; color: #92400e; }
.po-panel .po-inbox-head, .po-panel .po-inbox-cells { display: grid; font-size: 12px; align-items: center;
  grid-template-columns: 150px 120px 70px 170px 170px 80px 200px; gap: 0 8px; }
.po-panel .po-inbox-cells > span { min-width: 0; overflow-wrap: anywhere; }
.po-panel .po-inbox-cells > span.po-nowrap { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.po-panel .po-inbox-head { color: #6b7280; padding-left: 92px; }
.po-panel .po-inbox-row { align-items: center; border-bottom: 1px solid #e5e7eb; }
.po-panel .po-inbox-title { font-size: 13px; font-weight: 600; margin: 8px 0 2px 0; }
</style>
"""


class ErasureControls:
    """The subject box with Plan, Approve and Execute; Retry, the cancel reason and Cancel; the line saying why a
    button is off; and the candidate picker shown when several people match."""

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
        self.retry_button = widgets.Button(description="Retry", icon="redo", layout=widgets.Layout(width="100px"),
                                           tooltip="Run a failed plan again, after fixing what its failure says")
        self.reason = widgets.Text(placeholder="why the plan is cancelled", description="Reason",
                                   layout=widgets.Layout(width="420px"), style={"description_width": "56px"})
        self.cancel_button = widgets.Button(description="Cancel", icon="ban", layout=widgets.Layout(width="100px"),
                                            tooltip="Stop the plan for good (with a reason); plan again later")
        self.why = widgets.HTML(value="")
        self.candidates, self.pick_button, self.picker = candidate_picker("Plan for this person")
        self.row = widgets.HBox([self.subject, self.plan_button, self.approve_button, self.execute_button])
        self.actions_row = widgets.HBox([self.reason, self.cancel_button, self.retry_button])
        self._tips = {b: b.tooltip for b in self.plan_buttons}

    @property
    def plan_buttons(self) -> tuple[widgets.Button, ...]:
        """The buttons acting on the opened plan."""
        return self.approve_button, self.execute_button, self.cancel_button, self.retry_button

    def enable_for(self, plan: ErasurePlan | None, allowed: Allowed | None = None) -> None:
        """Each plan button on when `allowed` (what the person acting may do with `plan`) says so; off with the
        reason as its tooltip and in the line below the buttons."""
        reasons = ([allowed.approve, allowed.execute, allowed.cancel, allowed.retry] if plan is not None and
                   allowed is not None else ["no plan is open"] * 4)
        reasons = [plain_words(why) if why else why for why in reasons]
        for b, why in zip(self.plan_buttons, reasons):
            b.disabled = why is not None
            b.tooltip = self._tips[b] if why is None else f"{b.description}: {why}"
        if plan is None:
            self.why.value = ('<div class="po-why">Press Plan, or open a plan from the inbox below, to approve, '
                              "execute, cancel or retry it.</div>")
            return
        off = list(dict.fromkeys(why for why in reasons if why))  # one line per distinct reason
        names = {why: [b.description for b, w in zip(self.plan_buttons, reasons) if w == why] for why in off}
        self.why.value = "".join(f'<div class="po-why">{_e(" / ".join(names[why]))} not available: {_e(why)}'
                                 f"</div>" for why in off)

    def busy(self, busy: bool, plan: ErasurePlan | None, allowed: Allowed | None,
             others: tuple[widgets.Button, ...]) -> None:
        """Every button disabled while a call runs (`others` too); afterwards as `allowed` says."""
        for b in (self.plan_button, *self.plan_buttons, self.pick_button, *others):
            b.disabled = busy
        if not busy:
            self.enable_for(plan, allowed)


class InboxView:
    """The approval inbox: who is acting, a Refresh button, and four lists of plans, each row with an Open button
    (`on_open(plan_id)`)."""

    SECTIONS = (("awaiting_approval", "Awaiting approval (prepared by someone else)"),
                ("to_execute", "Approved, awaiting execution"),
                ("failed", "Failed (retry after the fix, or cancel)"),
                ("mine", "Plans I prepared (the newest)"))

    def __init__(self, on_open: Callable[[str], None]):
        self.on_open = on_open
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh",
                                             tooltip="Read the inbox again from the ledger",
                                             layout=widgets.Layout(width="100px"))
        self.heading = widgets.HTML(value="")
        self.sections = widgets.VBox([])
        self.open_buttons: dict[str, list[widgets.Button]] = {}
        self.widget = widgets.VBox([widgets.HBox([self.heading, self.refresh_button]), self.sections])
        self.widget.add_class("po-inbox")

    def show(self, inbox: Inbox) -> None:
        """List `inbox`'s plans (replacing what was shown)."""
        self.heading.value = (f'<div class="po-inbox-title">Inbox — you are acting as {_e(inbox.actor)}</div>')
        self.open_buttons = {}
        children: list[widgets.Widget] = []
        for attr, title in self.SECTIONS:
            plans: list[InboxPlan] = getattr(inbox, attr)
            rows: list[widgets.Widget] = [
                widgets.HTML(f'<div class="po-inbox-title">{_e(title)} · {len(plans)}</div>')]
            if plans:
                rows.append(widgets.HTML('<div class="po-inbox-head"><span>plan</span><span>case</span>'
                                         "<span>kind</span><span>prepared by, when</span><span>delete / mask / "
                                         "keep / blocked</span><span>as of</span><span>status</span></div>"))
                rows += [self._row(p) for p in plans]
            else:
                rows.append(widgets.HTML('<div class="po-muted">none</div>'))
            section = widgets.VBox(rows)
            section.add_class("po-inbox-" + attr.replace("_", "-"))  # (the browser test finds a section by it)
            children.append(section)
        self.sections.children = children

    def _row(self, p: InboxPlan) -> widgets.HBox:
        button = widgets.Button(description="Open", icon="folder-open", layout=widgets.Layout(width="84px"),
                                tooltip=f"Open plan {p.plan_id}")
        button.on_click(lambda _b, pid=p.plan_id: self.on_open(pid))
        self.open_buttons.setdefault(p.plan_id, []).append(button)
        status = p.status + (f" · approved by {p.approved_by}" if p.approved_by else "")
        cells = [p.plan_id, p.case_id or "—", p.kind, f"{p.prepared_by}, {p.prepared_at:%Y-%m-%d %H:%M}",
                 f"{p.delete} / {p.mask} / {p.keep} / {p.blocked}", p.as_of, status]
        nowrap = (True, True, False, False, False, True, False)  # ids and dates never break at a hyphen
        row = widgets.HBox([button, widgets.HTML('<div class="po-inbox-cells">' + "".join(
            f'<span class="po-nowrap" title="{_e(c)}">{_e(c)}</span>' if one else f"<span>{_e(c)}</span>"
            for c, one in zip(cells, nowrap)) + "</div>")])
        row.add_class("po-inbox-row")
        return row


def plan_line(plan: ErasurePlan) -> str:
    """The status line after planning: the totals, and that nothing has changed yet."""
    t = plan.totals()
    return (f"Plan {plan.plan_id} for case {plan.case_id} (as of {plan.as_of}), prepared by "
            f"{plan.prepared_by}: {t[DELETE]} to delete, {t[MASK]} to mask, {t[RETAIN]} to retain "
            f"(restricted), {t[BLOCKED]} blocked. Nothing has changed: another person approves it "
            f"next.")


def opened_line(plan: ErasurePlan, allowed: Allowed | None) -> str:
    """The status line after opening a stored plan: who prepared (and approved) it, its totals, what comes next."""
    t = plan.totals()
    when = f" on {plan.prepared_at:%Y-%m-%d %H:%M}" if plan.prepared_at else ""
    who = f"prepared by {plan.prepared_by}{when}" + (f", approved by {plan.approved_by}" if plan.approved_by else "")
    nxt = {PLANNED: "another person approves it next",
           APPROVED: "Execute erases as planned",
           EXECUTING: "its run was interrupted: Execute completes it",
           FAILED: f"the store refused it: {plan.failure or 'see the audit log'} — after the fix press Retry, or "
                   f"Cancel it",
           DONE: f"executed; certificate {plan.certificate}",
           UNVERIFIED: f"executed but not verified; certificate {plan.certificate}"}.get(plan.status, "")
    if allowed is not None and plan.status == PLANNED and allowed.approve is None:
        nxt = "you may approve it"
    return plain_words(f"Opened plan {plan.plan_id} for case {plan.case_id or '—'} ({plan.kind}, as of "
                       f"{plan.as_of}), {who}: {t[DELETE]} to delete, {t[MASK]} to mask, {t[RETAIN]} to retain "
                       f"(restricted), {t[BLOCKED]} blocked. Status {plan.status}" + (f": {nxt}." if nxt else "."))


def plan_html(plan: ErasurePlan) -> str:
    """The plan: a summary, the records per dataset and action, what is retained (until when, why), what is not
    erased and why, and the plan's notes."""
    t = plan.totals()
    head = (f"<h4>Plan {_e(plan.plan_id)} — status {_e(plan.status)}; prepared by {_e(plan.prepared_by)}"
            + (f", approved by {_e(plan.approved_by)}" if plan.approved_by else "") + "</h4>"
            f'<div class="po-summary">{len(plan.rows)} record(s): {t[DELETE]} delete, {t[MASK]} mask, '
            f"{t[RETAIN]} retain (restricted), {t[BLOCKED]} blocked · as of {_e(plan.as_of)} · "
            f"subject {_e(', '.join(s.get('ref') or '(no person row)' for s in plan.subjects))}</div>")
    frame = plan.to_frame()
    if len(frame):  # "billing_name:hmac" in words: "billing name: replaced by a keyed code"
        frame["masked fields"] = frame["masked fields"].map(masked_words)
    parts = [nowrap_tokens(head), "<h4>Per dataset and action</h4>",
             _table(frame) if plan.rows else '<div class="po-muted">no records</div>']
    kept = frame[frame["action"].isin([RETAIN, BLOCKED])] if len(frame) else frame
    parts.append("<h4>Retained, until when and why</h4>")
    parts.append(_table(kept[["dataset", "action", "records", "until", "masked fields", "why"]])
                 if len(kept) else '<div class="po-muted">nothing: every record goes</div>')
    groups = not_erased_groups(plan)
    parts.append(f"<h4>Not erased, and why ({len(plan.not_erased)} records)</h4>")
    parts.append(render("not_erased.html.j2", groups=groups) if groups else '<div class="po-muted">nothing</div>')
    for n in plan.notes:
        parts.append(f'<div class="po-status po-warn">Note: {_e(plain_words(n))}</div>')
    return '<div class="po-result">' + "".join(parts) + "</div>"


def not_erased_groups(plan: ErasurePlan) -> list[dict[str, Any]]:
    """The plan's rows left alone, one group per dataset and reason (in the plan's order): {dataset, why, count,
    records} — the records as `KEY` or `KEY (field)` for a mention in a free-text field."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for n in plan.not_erased:
        why = n.why.removeprefix("not erased: ")
        g = groups.setdefault((n.dataset, why), {"dataset": n.dataset, "why": why, "count": 0, "records": []})
        g["count"] += 1
        key = ",".join(str(k) for k in n.key)
        g["records"].append(f"{key} ({n.field})" if n.field else key)
    return list(groups.values())


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
