"""The access/portability panel: choose the case, review what the subject's copy holds and leaves out, export it.

No business logic lives here: the panel calls `privacyops.export` (`plan_export`, `export_subject`, `list_exports`)
and `privacyops.cases` — the same functions the CLI calls — and shows what comes back. The archive is offered as a
download (a copy beside the notebook, `export_download.py`); the generated password is held in memory only and shown
when the analyst presses "Show password", with how to send it (another channel than the archive), and forgotten on
the next action.
Errors privacyops raises on purpose appear as a red line, never as a traceback. The buttons, the password box and
the HTML shown live in `export_view.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..access import (
    EXPORT_CASE_TYPES,
    ExportPlan,
    ExportResult,
    export_case,
    export_subject,
    list_exports,
    plan_export,
    read_password_file,
)
from ..errors import PrivacyOpsError
from ..lookup import AMBIGUOUS, FOUND
from ..workspace import Workspace
from .case_panel import CasePanel
from .common import panel_box
from .export_download import DOWNLOADS, DownloadLink
from .export_view import EXTRA_CSS, ExportControls, PasswordBox, archive_html, archives_html, review_html, review_line


class ExportPanel(CasePanel):
    """Answer an access or portability request in a notebook: case, subject, Review, Export.

    `ExportPanel(ws)` (or a workspace path, or None for the default workspace); `subject=` pre-fills the subject box
    and reviews it (`pick=` chooses among several people), `case_id=` selects the case. Without a case the review is
    a preview; Export needs an open access or portability case (choose one, or open one with "Open case").
    `downloads=`: the folder beside the notebook the download link serves the archive from (None: no link).
    """

    name = "Access and portability"
    case_types = EXPORT_CASE_TYPES
    channel = "export panel"

    def __init__(self, workspace: Workspace | str | Path | None = None, *, subject: str | None = None,
                 pick: str | None = None, case_id: str | None = None, case_type: str = "access",
                 password_file: str | Path | None = None, run: bool = True,
                 downloads: str | Path | None = DOWNLOADS):
        self.ws: Workspace | None = None
        self.plan: ExportPlan | None = None
        self.result: ExportResult | None = None  # the last archive made (without its password)
        self.error: str | None = None
        self.password_file = password_file
        self.downloads = DownloadLink(downloads)
        self._workspace_arg = workspace
        self._pick = pick

        self.title = widgets.HTML()
        self.controls = c = ExportControls(subject, case_type)
        self._case_row("— choose an open access or portability case —",
                       "Register a new request received on that date", extra=[c.new_type])
        self.new_type, self.subject, self.review_button, self.export_button = (
            c.new_type, c.subject, c.review_button, c.export_button)
        self.candidates, self.pick_button, self.picker = c.candidates, c.pick_button, c.picker
        self.status = widgets.HTML(value="")
        self.password = p = PasswordBox()
        self.secret, self.show_button, self.hide_button, self.secret_box = (
            p.secret, p.show_button, p.hide_button, p.box)
        self.review = widgets.HTML(value="")
        self.archives = widgets.HTML(value="")

        self.new_case_button.on_click(lambda _b: self.open_new_case())
        self.review_button.on_click(lambda _b: self.review_plan())
        self.pick_button.on_click(lambda _b: self.review_plan(pick=self.candidates.value))
        self.export_button.on_click(lambda _b: self.export())
        self.case.observe(lambda _change: self._case_changed(), names="value")
        self.subject.observe(lambda _change: setattr(self, "_pick", None), names="value")

        self.widget = panel_box([self.title, self.cases.row, c.row, self.picker, self.status, self.downloads.widget,
                                 self.secret_box, self.review, self.archives], EXTRA_CSS)

        if not self._open():
            return
        if case_id and not self._select_case(case_id):
            return
        if run and self.subject.value.strip():
            self.review_plan(pick=pick)
        elif not self.error:
            self._set_status("Choose the case, type the subject and press Review.", "po-muted")

    # -- actions --------------------------------------------------------------------------------------------------
    def review_plan(self, pick: str | None = None) -> ExportPlan | None:
        """Show what the copy for the subject in the box would hold and leave out (a preview without a case)."""
        if pick is not None:
            self._pick = pick
        text, case_id, chosen = self.subject.value.strip(), self.case_id, self._pick
        plan = self._run(lambda ws: plan_export(ws, case_id, text or None, chosen), f"Reviewing {text!r}…")
        self.plan = plan
        if plan is None:
            self.review.value = ""
            return None
        self._show_plan(plan)
        return plan

    def export(self) -> ExportResult | None:
        """Make the archive for the chosen case: its SHA-256, a download link, the password on request."""
        text, case_id, chosen = self.subject.value.strip(), self.case_id, self._pick

        def call(ws: Workspace) -> ExportResult:
            password = read_password_file(self.password_file) if self.password_file else None
            return export_subject(ws, case_id, text or None, pick=chosen, password=password)

        result = self._run(call, f"Exporting {text!r}…")
        if result is None:
            return None
        if (plan := result.plan) is not None:
            self.plan = plan
            self._show_plan(plan, status=False)
        problem = self.downloads.offer(result.path, result.sha256, result.size)
        self._set_status(f"Archive created for case {result.case_id}: {result.total_rows} records in "
                         f"{len(result.datasets)} datasets" + (f"; {problem}." if problem else "."),
                         "po-warn" if problem else "po-ok")
        self.review.value = archive_html(result) + self.review.value
        if result.password:
            self.password.offer(result.password)
        self.result = dataclasses.replace(result, password=None)
        self._show_archives()
        return self.result

    def _run(self, call: Callable[[Workspace], Any], working: str) -> Any:
        if not self._open():
            return None
        self.password.forget()  # any action forgets the password held
        return super()._run(call, working)

    def _new_case_type(self) -> str:
        return self.new_type.value

    # -- cases and archives ---------------------------------------------------------------------------------------
    def _select_case(self, case_id: str) -> bool:
        try:
            case = export_case(self.ws, case_id)
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            return False
        self.cases.select(case.case_id, f"{case.case_id} · {case.type}")
        return True

    def _case_changed(self) -> None:
        self.password.forget()
        self.downloads.clear()
        self._show_archives()

    def _show_archives(self) -> None:
        try:
            got = list_exports(self.ws, self.case_id) if self.case_id and self.ws is not None else None
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
            return
        self.archives.value = "" if got is None else archives_html(self.case_id, got)

    # -- display --------------------------------------------------------------------------------------------------
    def _show_plan(self, plan: ExportPlan, status: bool = True) -> None:
        if plan.status == AMBIGUOUS:
            self.review.value = ""
            self._offer_people(plan.records.candidates, plan.query, "Review this person")
            return
        self.picker.layout.display = "none" if not self._pick else self.picker.layout.display
        if plan.status != FOUND:
            self.review.value = ""
            self._set_status(f"No records found for {plan.query!r}: nothing to export.", "po-warn")
            return
        self.review.value = review_html(plan)
        if status and plan.case is None:
            self._set_status(f"Preview (no case): {review_line(plan)} Choose or open a case to export.", "po-warn")
        elif status:
            self._set_status(f"Review for case {plan.case.case_id}: {review_line(plan)}")

    def _busy(self, busy: bool) -> None:
        self.controls.busy(busy, self.new_case_button)
