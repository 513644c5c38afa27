"""The subject-lookup panel: a search box over `privacyops.lookup.lookup`, for JupyterLab.

No business logic lives here: the panel calls the same `lookup()` the CLI calls and only displays what comes back
(`SubjectRecords`, shown by `lookup_view.LookupResults`). Errors privacyops raises on purpose (`PrivacyOpsError`)
appear as a red line in the panel, never as a traceback.
"""

from __future__ import annotations

import time

from pathlib import Path

import ipywidgets as widgets

from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..workspace import Workspace
from .common import PanelView, candidate_picker, offer_candidates, panel_box, subject_text, title_html
from .common import esc as _e
from .lookup_view import LookupResults

BASE_KINDS = ("auto", "email", "phone", "name", "id")
ROWS_SHOWN = 50


CANDIDATES_SHOWN = 200  # a dropdown longer than this helps nobody: the status line says how many match


class _SearchOnEnter:
    """Enter in the search box searches: the box reports its value on Enter (or on leaving it), not on every key;
    the Search button pressed right after does not search twice."""

    query: widgets.Text
    kind: widgets.Dropdown
    search_button: widgets.Button  # and a search() method: the panel's

    def _search_on_enter(self) -> None:
        self.search_button.on_click(lambda _b: self._clicked())
        self.query.continuous_update = False
        self.query.observe(self._entered, "value")
        self._entered_at: tuple[tuple[str, str], float] | None = None

    def _entered(self, change: dict) -> None:
        if change["new"].strip() and change["new"] != change["old"]:
            self._entered_at = ((change["new"].strip(), self.kind.value), time.monotonic())
            try:
                self.search()
            except Exception:  # noqa: BLE001 - a bug is already shown in the panel's status; a value change
                pass  # must not raise into the widget's sync (the Search button's handler re-raises for the log)

    def _clicked(self) -> None:
        # Leaving the box to press Search reports its value first (and that searched): do not search twice.
        if self._entered_at and self._entered_at[0] == (self.query.value.strip(), self.kind.value) \
                and time.monotonic() - self._entered_at[1] < 2.0:
            return
        self.search()


class LookupPanel(_SearchOnEnter, PanelView):
    """Look up a data subject across every dataset of a workspace, in a notebook.

    `LookupPanel(ws)` (or a workspace path, or None for the default workspace); `initial=` pre-fills the search box
    and runs that search. Show it by leaving it as the last expression of a cell or with `display(panel)`.
    """

    def __init__(self, workspace: Workspace | str | Path | None = None, *, initial: str | None = None,
                 kind: str = "auto", pick: str | None = None, case_id: str | None = None,
                 rows: int = ROWS_SHOWN, run: bool = True):
        self.case_id = case_id
        self.result: SubjectRecords | None = None
        self.error: str | None = None
        self.ws: Workspace | None = None
        self._workspace_arg = workspace
        self._searched: tuple[str, str] | None = None  # (query, kind) of the last search, for picks

        self.title = widgets.HTML()
        self.query = subject_text(initial, labelled=False, width="360px")
        self.kind = widgets.Dropdown(options=list(BASE_KINDS), value="auto", description="as",
                                     layout=widgets.Layout(width="190px"),
                                     style={"description_width": "24px"})
        self.search_button = widgets.Button(description="Search", button_style="primary", icon="search",
                                            tooltip="Find every record about this person",
                                            layout=widgets.Layout(width="110px"))
        self.status = widgets.HTML(value="")
        self.candidates, self.pick_button, self.picker = candidate_picker("Show this person", "160px")
        self.results = LookupResults(rows)
        self.output = self.results.output

        self._search_on_enter()
        self.pick_button.on_click(lambda _b: self.pick())

        self.widget = panel_box([
            self.title,
            widgets.HBox([self.query, self.kind, self.search_button]),
            self.status, self.picker, self.output,
        ])

        if self._open():
            if kind not in self.kind.options:
                self._set_error(f"unknown identity kind '{kind}'; choose one of: {', '.join(self.kind.options)}")
                return
            self.kind.value = kind
            if run and pick:
                self._searched = (self.query.value.strip(), kind)
                self.pick(pick)
            elif run and self.query.value.strip():
                self.search()
            else:
                self._set_status("Type an e-mail, phone number, customer id or name and press Search.", "po-muted")

    @property
    def rows(self) -> int:
        """How many rows each dataset shows."""
        return self.results.rows

    @rows.setter
    def rows(self, rows: int) -> None:
        self.results.rows = rows

    @property
    def _accordion(self) -> widgets.Accordion | None:
        return self.results.accordion

    # -- actions --------------------------------------------------------------------------------------------------
    def search(self) -> SubjectRecords | None:
        """Look up what is in the search box (as the chosen kind); show the result."""
        text, kind = self.query.value.strip(), self.kind.value
        self._searched = (text, kind)
        return self._run(lambda ws: lookup(ws, text, kind=kind, case_id=self.case_id), f"Searching {text!r}…")

    def pick(self, ref: str | None = None) -> SubjectRecords | None:
        """Show one candidate (`DATASET:KEY`, default: the one chosen in the candidate list)."""
        ref = ref or self.candidates.value
        if not ref:
            self._set_error("choose a candidate first")
            return None
        text, kind = self._searched or ("", "auto")
        return self._run(lambda ws: lookup(ws, text or None, kind=kind, pick=ref, case_id=self.case_id),
                         f"Loading {ref}…", picked=True)

    def _run(self, call, working: str, picked: bool = False) -> SubjectRecords | None:
        def forget() -> None:  # never leave another person's records under an error
            self.result = None
            self.results.clear()
            if not picked:
                self.picker.layout.display = "none"

        ok, result = self._call(call, working, on_error=forget)
        if not ok:
            return None
        self.result, self.error = result, None
        self._show(result, picked)
        return result

    def _open(self) -> bool:
        """Open the workspace once; on failure show why (the next click tries again)."""
        if self.ws is not None:
            return True
        if not self._open_workspace("Subject lookup"):
            return False
        dm = self.ws.datamap
        org = dm.organisation.name
        self.title.value = title_html(f'Subject lookup{" — " + _e(org) if org else ""}',
                                      f'{len(dm.datasets)} datasets · workspace {_e(self.ws.root)}'
                                      f'{" · case " + _e(self.case_id) if self.case_id else ""}')
        self.kind.options = list(dict.fromkeys([*BASE_KINDS, *dm.identity_kinds()]))
        return True

    # -- display --------------------------------------------------------------------------------------------------
    def _busy(self, busy: bool) -> None:
        self.search_button.disabled = busy
        self.pick_button.disabled = busy

    def _show(self, r: SubjectRecords, picked: bool) -> None:
        self.results.clear()
        if r.status == AMBIGUOUS:
            shown = r.candidates[:CANDIDATES_SHOWN]
            offer_candidates(self.candidates, self.picker, shown, score=True, hide_if_none=True)
            heading = r.candidates_heading(len(shown))
            self._set_status(f"{heading[:1].upper()}{heading[1:]} (as {r.kind}): choose one below and "
                             f"press “Show this person”. People are never merged.", "po-warn")
            self.results.show_candidates(r)
            return
        if not picked:
            self.picker.layout.display = "none"
            self.candidates.options = []
        if r.status != FOUND and r.erasures:
            kept = (f"{r.kept_rows} record(s) are still kept (below: under which rule, until when)"
                    if r.kept_rows else "nothing of theirs is kept")
            self._set_status(f"{r.query!r} names a person whose records were erased: {kept}.",
                             "po-ok" if r.kept_rows else "po-warn")
            self.results.show_erased(r)
            return
        if r.status != FOUND:
            self._set_status(f"No records found for {r.query!r} (searched as: {r.kind.replace('/', ', ')}). "
                             f"Check the spelling or search by another identifier.", "po-warn")
            return
        who = r.subject.label if r.subject else r.query
        if picked and self.candidates.options:
            self._set_status(f"Showing {who} — picked from {len(self.candidates.options)} candidates.")
        elif picked:
            self._set_status(f"Showing {who} (picked {r.subject.ref if r.subject else ''}).")
        else:
            self._set_status(f"Found {who}")
        self.results.show(r)
