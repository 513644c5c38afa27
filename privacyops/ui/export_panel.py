"""The access/portability panel: choose the case, review what the subject's copy holds and leaves out, export it.

No business logic lives here: the panel calls `privacyops.export` (`plan_export`, `export_subject`, `list_exports`)
and `privacyops.cases` — the same functions the CLI calls — and shows what comes back. The generated password is
shown once, in its own box, until the analyst hides it or does anything else; it is not kept by the panel.
Errors privacyops raises on purpose appear as a red line, never as a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets
import pandas as pd

from ..access import (
    EXPORT_CASE_TYPES,
    OPEN_HINT,
    ExportPlan,
    ExportResult,
    export_case,
    export_subject,
    list_exports,
    plan_export,
    read_password_file,
)
from ..errors import PrivacyOpsError
from ..ledger import OPEN, list_cases, open_case
from ..lookup import AMBIGUOUS, FOUND
from ..workspace import Workspace
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
.po-panel .po-secret { font-size: 13px; padding: 8px 10px; background: #fef3c7; border-left: 3px solid #d97706; }
.po-panel .po-secret code { font-size: 15px; font-weight: 700; letter-spacing: 0.5px; user-select: all; }
.po-panel .po-archive { font-size: 13px; padding: 6px 8px; background: #ecfdf5; border-left: 3px solid #16a34a; }
.po-panel h4 { font-size: 13px; font-weight: 600; margin: 12px 0 4px 0; }
</style>
"""


class ExportPanel(PanelView):
    """Answer an access or portability request in a notebook: case, subject, Review, Export.

    `ExportPanel(ws)` (or a workspace path, or None for the default workspace); `subject=` pre-fills the subject box
    and reviews it (`pick=` chooses among several people), `case_id=` selects the case. Without a case the review is
    a preview; Export needs an open access or portability case (choose one, or open one with "Open case").
    """

    clears_error = True

    def __init__(self, workspace: Workspace | str | Path | None = None, *, subject: str | None = None,
                 pick: str | None = None, case_id: str | None = None, case_type: str = "access",
                 password_file: str | Path | None = None, run: bool = True):
        self.ws: Workspace | None = None
        self.plan: ExportPlan | None = None
        self.result: ExportResult | None = None  # the last archive made (without its password)
        self.error: str | None = None
        self.password_file = password_file
        self._workspace_arg = workspace
        self._pick = pick

        self.title = widgets.HTML()
        self.case, self.new_received, self.new_case_button = case_row(
            "— choose an open access or portability case —", "Register a new request received on that date")
        self.new_type = widgets.Dropdown(options=list(EXPORT_CASE_TYPES),
                                         value=case_type if case_type in EXPORT_CASE_TYPES else "access",
                                         layout=widgets.Layout(width="120px"))
        self.subject = subject_text(subject)
        self.review_button = widgets.Button(description="Review", button_style="primary", icon="list",
                                            tooltip="What the copy holds and leaves out",
                                            layout=widgets.Layout(width="110px"))
        self.export_button = widgets.Button(description="Export", button_style="success", icon="file-archive-o",
                                            tooltip="Make the encrypted archive for this case",
                                            layout=widgets.Layout(width="110px"))
        self.candidates, self.pick_button, self.picker = candidate_picker("Review this person")
        self.status = widgets.HTML(value="")
        self.secret = widgets.HTML(value="")
        self.hide_button = widgets.Button(description="Hide password", icon="eye-slash",
                                          layout=widgets.Layout(width="200px"))
        self.secret_box = widgets.HBox([self.secret, self.hide_button], layout=widgets.Layout(display="none"))
        self.review = widgets.HTML(value="")
        self.archives = widgets.HTML(value="")

        self.new_case_button.on_click(lambda _b: self.open_new_case())
        self.review_button.on_click(lambda _b: self.review_plan())
        self.pick_button.on_click(lambda _b: self.review_plan(pick=self.candidates.value))
        self.export_button.on_click(lambda _b: self.export())
        self.hide_button.on_click(lambda _b: self.hide_password())
        self.case.observe(lambda _change: self._case_changed(), names="value")
        self.subject.observe(lambda _change: setattr(self, "_pick", None), names="value")

        self.widget = panel_box([
            self.title,
            widgets.HBox([self.case, self.new_type, self.new_received, self.new_case_button]),
            widgets.HBox([self.subject, self.review_button, self.export_button]),
            self.picker, self.status, self.secret_box, self.review, self.archives,
        ], EXTRA_CSS)

        if not self._open():
            return
        if case_id and not self._select_case(case_id):
            return
        if run and self.subject.value.strip():
            self.review_plan(pick=pick)
        elif not self.error:
            self._set_status("Choose the case, type the subject and press Review.", "po-muted")

    @property
    def case_id(self) -> str | None:
        return self.case.value or None

    # -- actions --------------------------------------------------------------------------------------------------
    def review_plan(self, pick: str | None = None) -> ExportPlan | None:
        """Show what the copy for the subject in the box would hold and leave out (a preview without a case)."""
        if pick is not None:
            self._pick = pick
        text, case_id, chosen = self.subject.value.strip(), self.case_id, self._pick
        plan = self._run(lambda ws: plan_export(ws, case_id, text or None, chosen), f"Reviewing {text!r}…")
        if plan is None:
            self.plan = None
            self.review.value = ""
            return None
        self.plan = plan
        self._show_plan(plan)
        return plan

    def export(self) -> ExportResult | None:
        """Make the archive for the chosen case; show its path, SHA-256 and the generated password (once)."""
        text, case_id, chosen = self.subject.value.strip(), self.case_id, self._pick

        def call(ws: Workspace) -> ExportResult:
            password = read_password_file(self.password_file) if self.password_file else None
            return export_subject(ws, case_id, text or None, pick=chosen, password=password)

        result = self._run(call, f"Exporting {text!r}…")
        if result is None:
            return None
        self.plan = result.plan
        if result.plan is not None:
            self._show_plan(result.plan, status=False)
        self._set_status(f"Archive created for case {result.case_id}: {result.total_rows} records in "
                         f"{len(result.datasets)} datasets.")
        note = (f'<div class="po-archive"><b>Archive</b> <code>{_e(result.path)}</code><br>'
                f'SHA-256 <code>{_e(result.sha256)}</code> · {result.size:,} bytes · export {_e(result.export_id)}'
                f'<br><span class="po-muted">{_e(OPEN_HINT)}</span></div>')
        self.review.value = note + self.review.value
        if result.password:
            self.secret.value = (
                f'<div class="po-secret">Password (shown once, stored nowhere): <code>{_e(result.password)}</code>'
                f"<br>Send it to the subject through <b>another channel</b> than the archive (e.g. read it out on "
                f"the phone or send a text message when the archive goes by e-mail).</div>")
            self.secret_box.layout.display = "flex"
        self.result = dataclasses.replace(result, password=None)
        self._show_archives()
        return self.result

    def hide_password(self) -> None:
        self.secret.value = ""
        self.secret_box.layout.display = "none"

    def open_new_case(self) -> str | None:
        """Register a new access or portability request received on the chosen date, and select it."""
        received = self.new_received.value or dt.date.today()
        case = self._run(lambda ws: open_case(ws, self.new_type.value, received, channel="export panel"),
                         "Opening a case…")
        if case is None:
            return None
        self._load_cases()
        self.case.value = case.case_id
        self._set_status(f"Opened case {case.case_id} ({case.type}, received {case.received}, due {case.due}).")
        return case.case_id

    def _run(self, call: Callable[[Workspace], Any], working: str) -> Any:
        if not self._open():
            return None
        self.hide_password()
        self._set_status(working, "po-muted")
        return self._guarded(call)[1]

    def _open(self) -> bool:
        """Open the workspace once; on failure show why (the next click tries again)."""
        if self.ws is not None:
            return True
        if not self._open_workspace("Access and portability"):
            return False
        org = self.ws.datamap.organisation.name
        self.title.value = title_html(f"Access and portability — {_e(org)}", f"workspace {_e(self.ws.root)}")
        try:
            self._load_cases()
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
        return True

    # -- cases and archives ---------------------------------------------------------------------------------------
    def _load_cases(self) -> None:
        cases = [c for c in list_cases(self.ws, OPEN) if c.type in EXPORT_CASE_TYPES]
        cases.sort(key=lambda c: (c.received, c.case_id), reverse=True)
        set_case_options(self.case, [(f"{c.case_id} · {c.type} · received {c.received} · due {c.deadline}",
                                      c.case_id) for c in cases])

    def _select_case(self, case_id: str) -> bool:
        try:
            case = export_case(self.ws, case_id)
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            return False
        select_case(self.case, case.case_id, f"{case.case_id} · {case.type}")
        return True

    def _case_changed(self) -> None:
        self.hide_password()
        self._show_archives()

    def _show_archives(self) -> None:
        if not self.case_id or self.ws is None:
            self.archives.value = ""
            return
        try:
            got = list_exports(self.ws, self.case_id)
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            return
        if not got:
            self.archives.value = (f"<h4>Archives of case {_e(self.case_id)}</h4>"
                                   f'<div class="po-muted">none yet</div>')
            return
        frame = pd.DataFrame([{"export": e.export_id, "created": e.created_at.isoformat(sep=" "),
                               "by": e.created_by, "status": e.status, "bytes": e.size, "sha256": e.sha256,
                               "file": e.path} for e in got])
        self.archives.value = f'<h4>Archives of case {_e(self.case_id)}</h4><div class="po-archives">' \
                              f"{_table(frame)}</div>"

    # -- display --------------------------------------------------------------------------------------------------
    def _show_plan(self, plan: ExportPlan, status: bool = True) -> None:
        if plan.status == AMBIGUOUS:
            offer_candidates(self.candidates, self.picker, plan.records.candidates)
            self.review.value = ""
            self._set_status(f"{len(plan.records.candidates)} people match {plan.query!r}: choose one below and "
                             f"press “Review this person”. People are never merged.", "po-warn")
            return
        self.picker.layout.display = "none" if not self._pick else self.picker.layout.display
        if plan.status != FOUND:
            self.review.value = ""
            self._set_status(f"No records found for {plan.query!r}: nothing to export.", "po-warn")
            return
        parts = [f"<h4>Goes into the copy — {_e(plan.subject_label)}</h4>", _table(plan.to_frame())]
        withheld = plan.withheld_frame()
        parts.append("<h4>Left out, and why</h4>")
        parts.append(_table(withheld) if len(withheld) else '<div class="po-muted">nothing</div>')
        for w in plan.warnings:
            parts.append(f'<div class="po-status po-warn">Warning: {_e(w)}</div>')
        self.review.value = '<div class="po-result">' + "".join(parts) + "</div>"
        if status:
            masked = plan.masked_emails + plan.masked_phones
            line = (f"{plan.total_rows} records in {len(plan.datasets)} datasets go into the copy; "
                    f"{masked} e-mail address(es)/phone number(s) of others masked; "
                    f"{sum(plan.withheld_mentions.values())} mention(s) in other people's records and "
                    f"{sum(plan.withheld_shared.values())} record(s) under a shared identifier withheld.")
            if plan.case is None:
                self._set_status(f"Preview (no case): {line} Choose or open a case to export.", "po-warn")
            else:
                self._set_status(f"Review for case {plan.case.case_id}: {line}")

    def _busy(self, busy: bool) -> None:
        for b in (self.review_button, self.export_button, self.new_case_button, self.pick_button):
            b.disabled = busy
