"""The export panel's pieces: its subject row and buttons, the password box (shown on request), and the review,
archive and archive-list HTML it shows.

Widgets and HTML only; the panel (`export_panel.py`) makes every call into privacyops.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import pandas as pd

from ..access import EXPORT_CASE_TYPES, OPEN_HINT, PASSWORD_CHANNEL_HINT, ExportPlan, ExportResult
from ..access.export import ExportRecord
from .common import candidate_picker, subject_text
from .common import esc as _e
from .common import table as _table

EXTRA_CSS = """
<style>
.po-panel .po-secret { font-size: 13px; padding: 8px 10px; background: #fef3c7; border-left: 3px solid #d97706; }
.po-panel .po-secret code { font-size: 15px; font-weight: 700; letter-spacing: 0.5px; user-select: all; }
.po-panel .po-password { background: #fde68a; margin-top: 4px; }
.po-panel .po-download { font-size: 13px; padding: 6px 8px; background: #eff6ff; border-left: 3px solid #2563eb; }
.po-panel .po-download a { font-weight: 700; color: #1d4ed8; text-decoration: underline; }
.po-panel .po-archive { font-size: 13px; padding: 6px 8px; background: #ecfdf5; border-left: 3px solid #16a34a; }
.po-panel h4 { font-size: 13px; font-weight: 600; margin: 12px 0 4px 0; }
</style>
"""


class ExportControls:
    """The type of a new case, the subject box with Review and Export, and the candidate picker shown when several
    people match."""

    def __init__(self, subject: str | None, case_type: str):
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
        self.row = widgets.HBox([self.subject, self.review_button, self.export_button])

    def busy(self, busy: bool, new_case_button: widgets.Button) -> None:
        """Every button disabled while a call runs (the "Open case" button too)."""
        for b in (self.review_button, self.export_button, new_case_button, self.pick_button):
            b.disabled = busy


class PasswordBox:
    """The generated password: kept in the kernel's memory only, put on screen only when the analyst presses
    "Show password", forgotten on the panel's next action. Never written to a file or into the widget state
    before it is asked for."""

    def __init__(self) -> None:
        self._password: str | None = None
        self.note = widgets.HTML(value="")
        self.secret = widgets.HTML(value="")
        self.show_button = widgets.Button(description="Show password", icon="eye", button_style="warning",
                                          tooltip="Show the archive's password (to read out or text to the subject)",
                                          layout=widgets.Layout(width="160px"))
        self.hide_button = widgets.Button(description="Hide password", icon="eye-slash",
                                          layout=widgets.Layout(width="160px", display="none"))
        self.box = widgets.VBox([self.note, widgets.HBox([self.show_button, self.hide_button]), self.secret],
                                layout=widgets.Layout(display="none"))
        self.show_button.on_click(lambda _b: self.show())
        self.hide_button.on_click(lambda _b: self.hide())

    @property
    def ready(self) -> bool:
        """A password is held for the archive just made."""
        return self._password is not None

    def offer(self, password: str) -> None:
        """Hold `password` for the archive just made and say how it reaches the subject; show it only on request."""
        self._password = password
        self.note.value = (f'<div class="po-secret">A password was generated for this archive: it is stored '
                           f"nowhere and forgotten when you do anything else in this panel. {_e(PASSWORD_CHANNEL_HINT)}"
                           f"</div>")
        self.secret.value = ""
        self.show_button.layout.display, self.hide_button.layout.display = "", "none"
        self.box.layout.display = "flex"

    def show(self) -> None:
        """Put the password held on screen (the analyst asked for it)."""
        if self._password is None:
            return
        self.secret.value = (f'<div class="po-secret po-password">Password: <code>{_e(self._password)}</code></div>')
        self.show_button.layout.display, self.hide_button.layout.display = "none", ""

    def hide(self) -> None:
        """Take the password off the screen (still held until the next action)."""
        self.secret.value = ""
        self.show_button.layout.display, self.hide_button.layout.display = "", "none"

    def forget(self) -> None:
        """Forget the password and hide the box."""
        self._password = None
        self.secret.value = self.note.value = ""
        self.box.layout.display = "none"


def review_html(plan: ExportPlan) -> str:
    """What goes into the copy, what is left out and why, and the plan's warnings."""
    parts = [f"<h4>Goes into the copy — {_e(plan.subject_label)}</h4>", _table(plan.to_frame())]
    withheld = plan.withheld_frame()
    parts.append("<h4>Left out, and why</h4>")
    parts.append(_table(withheld) if len(withheld) else '<div class="po-muted">nothing</div>')
    for w in plan.warnings:
        parts.append(f'<div class="po-status po-warn">Warning: {_e(w)}</div>')
    return '<div class="po-result">' + "".join(parts) + "</div>"


def review_line(plan: ExportPlan) -> str:
    """The status line's figures: records in the copy, what is masked and what is withheld."""
    masked = plan.masked_emails + plan.masked_phones
    return (f"{plan.total_rows} records in {len(plan.datasets)} datasets go into the copy; "
            f"{masked} e-mail address(es)/phone number(s) of others masked; "
            f"{sum(plan.withheld_mentions.values())} mention(s) in other people's records and "
            f"{sum(plan.withheld_shared.values())} record(s) under a shared identifier withheld.")


def archive_html(result: ExportResult) -> str:
    """The archive just made: its path, SHA-256, size and export id, and how to open it."""
    return (f'<div class="po-archive"><b>Archive</b> <code>{_e(result.path)}</code><br>'
            f'SHA-256 <code>{_e(result.sha256)}</code> · {result.size:,} bytes · export {_e(result.export_id)}'
            f'<br><span class="po-muted">{_e(OPEN_HINT)}</span></div>')


def archives_html(case_id: str, exports: Sequence[ExportRecord]) -> str:
    """The archives made for a case, as a table ("none yet" without any)."""
    if not exports:
        return f'<h4>Archives of case {_e(case_id)}</h4><div class="po-muted">none yet</div>'
    frame = pd.DataFrame([{"export": e.export_id, "created": e.created_at.isoformat(sep=" "),
                           "by": e.created_by, "status": e.status, "bytes": e.size, "sha256": e.sha256,
                           "file": e.path} for e in exports])
    return f'<h4>Archives of case {_e(case_id)}</h4><div class="po-archives">{_table(frame)}</div>'
