"""The subject-lookup panel: a search box over `privacyops.lookup.lookup`, for JupyterLab.

No business logic lives here: the panel calls the same `lookup()` the CLI calls and only displays what comes back
(`SubjectRecords`). Errors privacyops raises on purpose (`PrivacyOpsError`) appear as a red line in the panel,
never as a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..workspace import Workspace
from .common import PanelView, candidate_picker, offer_candidates, panel_box, subject_text, title_html
from .common import esc as _e
from .common import html_bundle as _html_bundle
from .common import table as _table
from .common import widget_bundle as _widget_bundle

BASE_KINDS = ("auto", "email", "phone", "name", "id")
ROWS_SHOWN = 50


class LookupPanel(PanelView):
    """Look up a data subject across every dataset of a workspace, in a notebook.

    `LookupPanel(ws)` (or a workspace path, or None for the default workspace); `initial=` pre-fills the search box
    and runs that search. Show it by leaving it as the last expression of a cell or with `display(panel)`.
    """

    def __init__(self, workspace: Workspace | str | Path | None = None, *, initial: str | None = None,
                 kind: str = "auto", pick: str | None = None, case_id: str | None = None,
                 rows: int = ROWS_SHOWN, run: bool = True):
        self.case_id = case_id
        self.rows = rows
        self.result: SubjectRecords | None = None
        self.error: str | None = None
        self.ws: Workspace | None = None
        self._workspace_arg = workspace
        self._searched: tuple[str, str] | None = None  # (query, kind) of the last search, for picks
        self._accordion: widgets.Accordion | None = None

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
        self.output = widgets.Output()

        self.search_button.on_click(lambda _b: self.search())
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
        if not self._open():
            return None
        self._set_status(working, "po-muted")

        def forget() -> None:  # never leave another person's records under an error
            self.result = None
            self._clear_output()
            if not picked:
                self.picker.layout.display = "none"

        ok, result = self._guarded(call, on_error=forget)
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

    def _clear_output(self) -> None:
        if self._accordion is not None:
            for child in self._accordion.children:
                child.close()
            self._accordion.close()
            self._accordion = None
        self.output.outputs = ()

    def _show(self, r: SubjectRecords, picked: bool) -> None:
        self._clear_output()
        if r.status == AMBIGUOUS:
            self._show_candidates(r)
            return
        if not picked:
            self.picker.layout.display = "none"
            self.candidates.options = []
        if r.status != FOUND:
            self._set_status(f"No records found for {r.query!r} (searched as {r.kind}).", "po-warn")
            return
        who = r.subject.label if r.subject else r.query
        if picked and self.candidates.options:
            self._set_status(f"Showing {who} — picked from {len(self.candidates.options)} candidates.")
        elif picked:
            self._set_status(f"Showing {who} (picked {r.subject.ref if r.subject else ''}).")
        else:
            self._set_status(f"Found {who}")
        self.output.outputs = tuple(self._result_bundles(r))

    def _show_candidates(self, r: SubjectRecords) -> None:
        offer_candidates(self.candidates, self.picker, r.candidates, score=True, hide_if_none=True)
        self._set_status(f"{len(r.candidates)} people match {r.query!r} (as {r.kind}): choose one below and press "
                         f"“Show this person”. People are never merged.", "po-warn")
        frame = r.candidates_frame()
        self.output.outputs = (_html_bundle(f"<h4>Candidates</h4>{_table(frame)}", frame.to_string(index=False)),)

    def _result_bundles(self, r: SubjectRecords) -> list[dict[str, Any]]:
        who = r.subject.label if r.subject else r.query
        ref = f" [{r.subject.ref}]" if r.subject else ""
        line = (f"{who}{ref}: {r.total_rows} records in {len(r.records)} datasets"
                f" · {sum(c.count for c in r.context.values())} context rows · {len(r.mentions)} mentions"
                f" · {r.elapsed_ms:.0f} ms")
        per_dataset, by_cat = r.to_frame(), r.by_category()
        out = [_html_bundle(
            f'<div class="po-summary">{_e(line)}</div>'
            f"<h4>Records per dataset</h4>{_table(per_dataset)}"
            f"<h4>By data category</h4>{_table(by_cat)}"
            f"<h4>Records, dataset by dataset</h4>",
            f"{line}\n\n{per_dataset.to_string(index=False)}\n\n{by_cat.to_string(index=False)}")]

        names = list(r.records)
        self._accordion = widgets.Accordion(
            children=[widgets.HTML(self._dataset_html(r.records[n])) for n in names],
            titles=tuple(f"{n} ({r.records[n].count})" for n in names))
        out.append(_widget_bundle(self._accordion))

        tail = ["<h4>Context: shared reference data the records point at (not the subject's data)</h4>"]
        if r.context:
            for recs in r.context.values():
                tail.append(f'<div class="po-muted">{_e(recs.dataset)} ({recs.count}) — {_e("; ".join(recs.via))}'
                            f"</div>{self._rows_html(recs)}")
        else:
            tail.append('<div class="po-muted">none</div>')
        if r.shared:
            tail.append("<h4>Held under an identifier shared with another person (review before acting)</h4>")
            for recs in r.shared.values():
                tail.append(f'<div class="po-muted">{_e(recs.dataset)} ({recs.count}) — {_e("; ".join(recs.via))}'
                            f"</div>{self._rows_html(recs)}")
        tail.append("<h4>Mentions in other people's records</h4>")
        tail.append(_table(r.mentions_frame()) if r.mentions else '<div class="po-muted">none</div>')
        plain = ("context: " + (", ".join(f"{n} ({c.count})" for n, c in r.context.items()) or "none")
                 + ("\nshared identifier: " + ", ".join(f"{n} ({c.count})" for n, c in r.shared.items())
                    if r.shared else "")
                 + f"\nmentions: {len(r.mentions)}")
        out.append(_html_bundle("".join(tail), plain))
        return out

    def _rows_html(self, recs) -> str:
        frame = recs.frame()
        note = ""
        if recs.count > self.rows:
            note = f'<div class="po-muted">first {self.rows} of {recs.count} rows</div>'
        return f"{_table(frame.head(self.rows))}{note}"

    def _dataset_html(self, recs) -> str:
        purposes = "; ".join(f"{p['name']} ({p['legal_basis']}): {p['description']}" for p in recs.purposes)
        ret = recs.retention
        retention = f"{ret['name']}: keep {ret['keep']} from {ret['from']} — {ret['ground']}" if ret else "no rule"
        facts = [("description", recs.description or "—"), ("source", f"{recs.source} ({recs.location})"),
                 ("purposes", purposes or "—"), ("retention", retention), ("found via", "; ".join(recs.via))]
        cats = pd.DataFrame([{"field": f, "categories": ", ".join(c)} for f, c in recs.categories.items()],
                            columns=["field", "categories"])
        return ('<div class="po-result"><dl class="po-facts">'
                + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"
                + f"{self._rows_html(recs)}<details><summary class=\"po-muted\">data categories per field"
                f"</summary>{_table(cats)}</details></div>")
