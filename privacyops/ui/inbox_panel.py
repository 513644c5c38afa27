"""The analyst's desk: the request inbox as a panel — every open request with its subject reference, type, dates,
days left and whether it is overdue; filters and sort order; per request, the buttons that open the panel that
answers it (lookup for any, export for access/portability, erasure, rectification) under that case, below the list.

No business logic lives here: the inbox is `privacyops.ledger.inbox.request_inbox` (what `privacyops case list`
prints), recording who a case is about is `set_subject_ref`, and the opened panels are the notebooks' own panels,
given the case and the subject's reference.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..ledger import CASE_TYPES
from ..ledger.inbox import ALL, SORTS, STATUSES, InboxRow, request_inbox, set_subject_ref
from ..workspace import Workspace
from .common import PanelView, panel_box, title_html
from .common import esc as _e
from .lookup_panel import LookupPanel

ALL_TYPES = ""
MAX_ROWS = 200  # a longer inbox is narrowed with the filters (a note says how many are not shown)
# The panel (and notebook) answering each kind of request; every request can be looked up.
ACTIONS = {"lookup": ("Lookup", "search", "01_subject_lookup.ipynb"),
           "export": ("Export", "file-archive-o", "02_access_export.ipynb"),
           "erasure": ("Erasure", "eraser", "03_erasure.ipynb"),
           "rectify": ("Rectify", "pencil", "")}
FOR_TYPE = {"access": ("export",), "portability": ("export",), "erasure": ("erasure",),
            "rectification": ("rectify",)}
CSS = """<style>
.po-inbox-row { font-size: 12px; font-family: ui-monospace, monospace; white-space: pre; }
.po-inbox-late { color: #b91c1c; font-weight: 600; }
</style>"""


def actions_for(row: InboxRow) -> tuple[str, ...]:
    """The panels a request can be answered in: lookup, then the one of its type."""
    return ("lookup", *FOR_TYPE.get(row.type, ()))


def row_text(row: InboxRow) -> str:
    """One request as the inbox line shows it (fixed columns; the subject's reference, never their data)."""
    days = "" if row.days_left is None else str(row.days_left)
    return (f"{row.case_id:<14} {(row.subject_ref or '—'):<24.24} {row.type:<18} {row.received} "
            f"{row.due}{' ext.' if row.extended else '     '} {days:>5}  {'OVERDUE' if row.overdue else '':<7} "
            f"{row.status}")


HEADER = (f"{'case':<14} {'subject':<24} {'type':<18} {'received':<10} {'due':<10}      {'days':>5}  "
          f"{'':<7} status")


class InboxPanel(PanelView):
    """`InboxPanel(ws)`: the open requests, the most urgent first. `today=` counts days left from another day."""

    clears_error = True  # a later success replaces the red line

    def __init__(self, workspace: Workspace | str | Path | None = None, *, today: dt.date | str | None = None,
                 case_type: str | None = None, status: str = "open", overdue_only: bool = False,
                 sort: str = "due"):
        self.ws: Workspace | None = None
        self.error: str | None = None
        self.rows: list[InboxRow] = []
        self.selected: str | None = None  # the case whose panel is open below
        self.opened: Any = None  # that panel
        self.today = today
        self._workspace_arg = workspace

        self.title = widgets.HTML()
        self.type_filter = widgets.Dropdown(options=[("all types", ALL_TYPES), *[(t, t) for t in CASE_TYPES]],
                                            value=case_type or ALL_TYPES, description="Type",
                                            layout=widgets.Layout(width="230px"), style={"description_width": "36px"})
        self.status_filter = widgets.Dropdown(options=list(STATUSES), value=status, description="Status",
                                              layout=widgets.Layout(width="170px"),
                                              style={"description_width": "44px"})
        self.overdue_only = widgets.Checkbox(value=overdue_only, description="overdue only", indent=False,
                                             layout=widgets.Layout(width="120px"))
        self.sort = widgets.Dropdown(options=list(SORTS), value=sort, description="Sort",
                                     layout=widgets.Layout(width="170px"), style={"description_width": "32px"})
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", layout=widgets.Layout(width="100px"))
        self.status = widgets.HTML(value="")
        self.list_box = widgets.VBox([])
        self.ref_case = widgets.Dropdown(options=[], description="Case", layout=widgets.Layout(width="260px"),
                                         style={"description_width": "40px"})
        self.ref_text = widgets.Text(placeholder="DATASET:KEY (empty: whom the lookup below found)",
                                     description="is about",
                                     layout=widgets.Layout(width="340px"), style={"description_width": "60px"})
        self.ref_button = widgets.Button(description="Record subject", icon="user",
                                         layout=widgets.Layout(width="140px"))
        self.detail_title = widgets.HTML(value="")
        self.detail = widgets.VBox([])

        self.refresh_button.on_click(lambda _b: self.refresh())
        self.ref_button.on_click(lambda _b: self.record_subject())
        for w in (self.type_filter, self.status_filter, self.overdue_only, self.sort):
            w.observe(lambda _change: self.refresh(), names="value")

        self.widget = panel_box([
            self.title,
            widgets.HBox([self.type_filter, self.status_filter, self.overdue_only, self.sort, self.refresh_button]),
            self.status, self.list_box,
            widgets.HBox([self.ref_case, self.ref_text, self.ref_button]),
            self.detail_title, self.detail,
        ], CSS)
        self.refresh()

    # -- actions --------------------------------------------------------------------------------------------------
    def refresh(self) -> list[InboxRow]:
        """Read the inbox from the ledger with the chosen filters and order, and list it."""
        ok, rows = self._call(lambda ws: request_inbox(
            ws, today=self.today, case_type=self.type_filter.value or None, status=self.status_filter.value,
            overdue_only=self.overdue_only.value, sort=self.sort.value), "Reading the inbox…")
        if not ok:
            return []
        self.rows = rows
        self.list_box.children = [widgets.HTML(f'<div class="po-inbox-row"><b>{_e(HEADER)}</b></div>'),
                                  *[inbox_line(r, self.open_case) for r in rows[:MAX_ROWS]]]
        current = self.ref_case.value
        self.ref_case.options = [r.case_id for r in rows]
        self.ref_case.value = current if current in self.ref_case.options else (rows[0].case_id if rows else None)
        late = sum(r.overdue for r in rows)
        more = f" ({len(rows) - MAX_ROWS} more not shown: narrow the filters)" if len(rows) > MAX_ROWS else ""
        self._set_status(f"{len(rows)} request(s), {late} overdue{more}. A button opens the panel answering the "
                         f"request below, under its case.", "po-warn" if late else "po-ok")
        return rows

    def open_case(self, case_id: str, action: str) -> Any:
        """Open the panel answering `case_id` (`action`: lookup, export, erasure, rectify) below the list, with
        the case chosen and the subject's recorded reference picked."""
        row = next((r for r in self.rows if r.case_id == case_id), None)
        if row is None:
            self._set_error(f"case {case_id} is not in the list; refresh or change the filters")
            return None
        if action not in actions_for(row):
            self._set_error(f"a {row.type} request is not answered with {action}; use "
                            f"{' or '.join(actions_for(row))}")
            return None
        self.selected, ref = case_id, row.subject_ref
        ok, panel = self._guarded(lambda ws: _panel(ws, action, case_id, ref))
        if not ok:
            return None
        self.opened = panel
        notebook = ACTIONS[action][2]
        where = f" — the same as notebooks/{notebook} with case_id = \"{case_id}\"" if notebook else ""
        self.detail_title.value = title_html(f"{_e(ACTIONS[action][0])} · {_e(case_id)}", _e(
            f"{row.type}, received {row.received}, due {row.due}; subject {ref or 'not recorded yet'}{where}"))
        self.detail.children = [panel.widget]
        self._set_status(f"Opened {ACTIONS[action][0].lower()} for {case_id} below.")
        return panel

    def record_subject(self) -> InboxRow | None:
        """Record who the chosen case is about: the reference typed (e.g. `crm.customers:17`), or, with the box
        empty, the person the lookup opened below found for that case."""
        case_id, ref = self.ref_case.value, self.ref_text.value.strip()
        if not case_id:
            self._set_error("choose a case first")
            return None
        if not ref:
            found = self.opened.result.subject if isinstance(self.opened, LookupPanel) and self.opened.result else None
            if self.selected != case_id or found is None:
                self._set_error(f"type who {case_id} is about (DATASET:KEY), or open its lookup and find the "
                                f"person first")
                return None
            ref = found.ref
        ok, row = self._call(lambda ws: set_subject_ref(ws, case_id, ref), f"Recording the subject of {case_id}…")
        if not ok:
            return None
        self.ref_text.value = ""
        self.refresh()
        self._set_status(f"{case_id} is about {row.subject_ref}.")
        return row

    def buttons(self, case_id: str) -> dict[str, widgets.Button]:
        """The action buttons on the line of `case_id`, by action."""
        return next((line.buttons for line in self.list_box.children[1:] if getattr(line, "case_id", None) == case_id),
                    {})

    def _open(self) -> bool:
        if self.ws is not None:
            return True
        if not self._open_workspace("Request inbox"):
            return False
        self.title.value = title_html(f"Request inbox — {_e(self.ws.datamap.organisation.name)}",
                                      f"workspace {_e(self.ws.root)} · status {ALL} shows closed requests too")
        return True

    def _busy(self, busy: bool) -> None:
        self.refresh_button.disabled = busy
        self.ref_button.disabled = busy


def inbox_line(row: InboxRow, on_action: Any) -> widgets.HBox:
    """One request's line: its text (red when overdue) and a button per panel answering it, which calls
    `on_action(case_id, action)`. The line carries `case_id` and `buttons` (by action)."""
    css = "po-inbox-row po-inbox-late" if row.overdue else "po-inbox-row"
    buttons = {}
    for action in actions_for(row):
        label, icon, _nb = ACTIONS[action]
        b = widgets.Button(description=label, icon=icon, tooltip=f"{label} for {row.case_id}",
                           layout=widgets.Layout(width="96px", height="26px"))
        b.on_click(lambda _b, c=row.case_id, a=action: on_action(c, a))
        buttons[action] = b
    line = widgets.HBox([widgets.HTML(f'<div class="{css}">{_e(row_text(row))}</div>'), *buttons.values()])
    line.case_id, line.buttons = row.case_id, buttons
    return line


def _panel(ws: Workspace, action: str, case_id: str, ref: str | None) -> Any:
    """The panel answering a request, under its case, with the subject's reference picked when recorded."""
    if action == "lookup":
        return LookupPanel(ws, pick=ref, case_id=case_id, run=ref is not None)
    if action == "export":
        from .export_panel import ExportPanel

        return ExportPanel(ws, pick=ref, case_id=case_id, run=False)
    if action == "erasure":
        from .erasure_panel import ErasurePanel

        return ErasurePanel(ws, pick=ref, case_id=case_id, run=False)
    from .rectify_panel import RectificationPanel

    return RectificationPanel(ws, case_id=case_id, pick=ref, run=False)
