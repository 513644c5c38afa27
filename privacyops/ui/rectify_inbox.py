"""The rectification panel's inbox, for maps asking for four-eyes on rectification (`settings.four_eyes_rectify`):
Apply becomes "Submit for approval"; the changes waiting for the person acting (submitted by someone else) are
listed to Open (current -> proposed as the data is now), Approve (which writes it) or Reject with a reason; the
person's own submissions are listed with their status.

No business logic lives here: the calls go to `privacyops.rectify` (`submit_rectification`,
`rectification_inbox`, `pending_plan`, `allowed_to_decide`, `approve_rectification`, `reject_rectification`), and
everything is read from the ledger when asked, so another person's JupyterLab, or a reload, sees the same.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..rectify import (
    PENDING,
    PendingRectification,
    RectificationPlan,
    RectificationResult,
    RectifyInbox,
    allowed_to_decide,
    approve_rectification,
    four_eyes_rectify,
    pending_plan,
    rectification_inbox,
    reject_rectification,
    submit_rectification,
)
from ..workspace import Workspace
from .common import esc as _e
from .common import table as _table
from .rectify_view import plan_bundle, result_bundle

SUBMIT = "Submit for approval"


def _label(p: PendingRectification) -> str:
    return (f"{p.pending_id} · case {p.case_id} · {p.changes} change(s) in {', '.join(p.datasets)} · prepared by "
            f"{p.prepared_by}, {p.prepared_at:%Y-%m-%d %H:%M}")


class PendingView:
    """The widgets: heading and Refresh; the changes awaiting approval with Open, Approve, the reason and Reject;
    the line saying why a button is off; the opened change; the person's own submissions."""

    def __init__(self) -> None:
        self.heading = widgets.HTML(value="")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh",
                                             layout=widgets.Layout(width="100px"))
        self.choice = widgets.Dropdown(options=[], description="Waiting", layout=widgets.Layout(width="720px"),
                                       style={"description_width": "60px"})
        self.open_button = widgets.Button(description="Open", icon="folder-open",
                                          layout=widgets.Layout(width="90px"))
        self.approve_button = widgets.Button(description="Approve and apply", button_style="danger", icon="check",
                                             disabled=True, layout=widgets.Layout(width="160px"))
        self.reason = widgets.Text(placeholder="why it is rejected", description="Reason",
                                   layout=widgets.Layout(width="420px"), style={"description_width": "56px"})
        self.reject_button = widgets.Button(description="Reject", icon="ban", disabled=True,
                                            layout=widgets.Layout(width="100px"))
        self.why = widgets.HTML(value="")
        self.view = widgets.HTML(value="")
        self.mine_html = widgets.HTML(value="")
        self.widget = widgets.VBox([widgets.HBox([self.heading, self.refresh_button]),
                                    widgets.HBox([self.choice, self.open_button]),
                                    widgets.HBox([self.approve_button, self.reason, self.reject_button]),
                                    self.why, self.view, self.mine_html],
                                   layout=widgets.Layout(display="none"))

    def show(self, inbox: RectifyInbox) -> None:
        """List what waits for the person acting, and their own submissions."""
        self.heading.value = (f'<div class="po-title">Changes awaiting approval — you are acting as '
                              f"{_e(inbox.actor)}</div>")
        self.choice.options = [(_label(p), p.pending_id) for p in inbox.awaiting_approval]
        self.choice.value = inbox.awaiting_approval[0].pending_id if inbox.awaiting_approval else None
        self.open_button.disabled = not inbox.awaiting_approval
        rows = [{"change": p.pending_id, "case": p.case_id, "changes": p.changes, "datasets": ", ".join(p.datasets),
                 "submitted": f"{p.prepared_at:%Y-%m-%d %H:%M}", "status": p.status,
                 "decided by": p.decided_by or "", "note": p.note or ""} for p in inbox.mine]
        self.mine_html.value = ("<h4>Changes I submitted</h4>" + (_table(pd.DataFrame(rows)) if rows else
                                                                    '<div class="po-muted">none</div>'))

    def enable(self, why: str | None, opened: PendingRectification | None) -> None:
        """Approve on for an opened change the person may decide (off with the reason `why` otherwise); Reject for
        any opened change still pending."""
        reason = why if opened is not None else "open a change from the list first"
        self.approve_button.disabled = reason is not None
        self.reject_button.disabled = opened is None or opened.status != PENDING
        self.why.value = f'<div class="po-muted">Approve not available: {_e(reason)}</div>' if reason else ""


class PendingActions:
    """Submit, and the inbox actions, for `RectificationPanel` (which has the guarded calls of `PanelView`)."""

    ws: Workspace | None
    plan: RectificationPlan | None
    result: RectificationResult | None
    error: str | None
    pending: PendingView
    opened: PendingRectification | None
    output: widgets.Output
    _call: Any
    _guarded: Any
    _open: Any
    _set_status: Any
    _set_error: Any
    _drop_plan: Any

    def _four_eyes(self) -> bool:
        return self.ws is not None and four_eyes_rectify(self.ws)

    def _setup_pending(self, apply_button: widgets.Button) -> None:
        """With four-eyes on: Apply submits; the inbox is shown and filled."""
        if not self._four_eyes():
            return
        apply_button.description, apply_button.tooltip = SUBMIT, "Another person approves it, which writes it"
        self.pending.widget.layout.display = "flex"
        self.refresh_pending()

    def submit(self) -> PendingRectification | None:
        """Submit the plan shown for another person's approval (nothing is written now)."""
        plan = self.plan
        ok, item = self._call(lambda ws: submit_rectification(ws, plan), "Submitting…")
        if not ok:
            return None
        self._drop_plan()
        self._set_status(f"Submitted {item.pending_id} for approval ({item.changes} change(s)): another person "
                         f"approves it, which writes it. Nothing has changed yet.")
        self.refresh_pending()
        return item

    def refresh_pending(self) -> None:
        """Read the changes awaiting approval, and the person's own, from the ledger."""
        if not self._open():
            return
        ok, inbox = self._guarded(lambda ws: rectification_inbox(ws))
        if ok:
            self.pending.show(inbox)
            self.opened = None
            self.pending.view.value = ""
            self.pending.enable(None, None)

    def open_pending(self, pending_id: str | None = None) -> RectificationPlan | None:
        """Open a waiting change: its plan made again now (current -> proposed); Approve and Reject act on it."""
        pending_id = pending_id or self.pending.choice.value
        if not pending_id:
            self._set_error("no change is waiting for your approval")
            return None
        ok, got = self._call(lambda ws: pending_plan(ws, pending_id), f"Opening {pending_id}…")
        if not ok:
            self.opened = None
            self.pending.enable(None, None)
            return None
        self.opened, plan = got
        self.pending.view.value = plan_bundle(plan)["data"]["text/html"]
        why = allowed_to_decide(self.ws, self.opened)
        self.pending.enable(why, self.opened)
        self._set_status(f"Opened {pending_id}, submitted by {self.opened.prepared_by}: check current → proposed, "
                         f"then approve (which writes it) or reject it with a reason.", "po-warn")
        return plan

    def approve_pending(self) -> RectificationResult | None:
        """Approve the opened change as the person acting: it is written and read back."""
        if self.opened is None:
            self._set_error("open a change from the list first")
            return None
        pid = self.opened.pending_id
        ok, result = self._call(lambda ws: approve_rectification(ws, pid), f"Approving and applying {pid}…")
        if not ok:
            return None
        self.result = result
        self.output.outputs = (result_bundle(result),)
        self._set_status(f"{pid} approved: {result.render()}")
        self.refresh_pending()
        return result

    def reject_pending(self) -> PendingRectification | None:
        """Reject the opened change with the reason typed next to the button; nothing is written."""
        if self.opened is None:
            self._set_error("open a change from the list first")
            return None
        pid, reason = self.opened.pending_id, self.pending.reason.value.strip()
        if not reason:
            self._set_error(f"write why {pid} is rejected in the Reason box, then press Reject")
            return None
        ok, item = self._call(lambda ws: reject_rectification(ws, pid, reason), f"Rejecting {pid}…")
        if not ok:
            return None
        self.pending.reason.value = ""
        self._set_status(f"{pid} rejected; nothing was written.", "po-warn")
        self.refresh_pending()
        return item
