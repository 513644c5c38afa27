"""What the panels working under a case share (erasure, access and portability): the case row — choose an open
case of the panel's types, or register a new request — and opening the workspace with the panel's title.

No business logic lives here: it calls `privacyops.ledger` (`list_cases`, `open_case`), the functions the CLI's
`case` commands call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from ..errors import PrivacyOpsError
from ..ledger import OPEN, list_cases, open_case
from ..workspace import Workspace
from .common import CaseChooser, PanelView, offer_candidates, title_html
from .common import esc as _e


class CasePanel(PanelView):
    """A panel answering requests under a case.

    A subclass sets `name` (its title), `case_types` (the open cases it offers; a new case gets the first, unless
    `_new_case_type` says otherwise) and `channel` (recorded on the cases it opens), and calls `_case_row` while
    building its widgets; `_subtitle` is the second line of its title.
    """

    name = ""
    case_types: tuple[str, ...] = ()
    channel = ""
    clears_error = True

    title: widgets.HTML
    ws: Workspace | None
    candidates: widgets.Dropdown
    picker: widgets.HBox

    def _case_row(self, prompt: str, tooltip: str, extra: Sequence[widgets.Widget] = ()) -> None:
        """The case row (`self.cases`), its widgets also as `case`, `new_received` and `new_case_button`."""
        self.cases = CaseChooser(prompt, tooltip, extra)
        self.case, self.new_received, self.new_case_button = self.cases.case, self.cases.received, self.cases.button

    @property
    def case_id(self) -> str | None:
        """The chosen case, or None."""
        return self.cases.case_id

    def open_new_case(self) -> str | None:
        """Register a new request received on the chosen date, and select it."""
        received = self.new_received.value or dt.date.today()
        case = self._run(lambda ws: open_case(ws, self._new_case_type(), received, channel=self.channel),
                         "Opening a case…")
        if case is None:
            return None
        self._load_cases()
        self.case.value = case.case_id
        self._set_status(f"Opened case {case.case_id} ({case.type}, received {case.received}, due {case.due}).")
        return case.case_id

    def _new_case_type(self) -> str:
        return self.case_types[0]

    def _run(self, call: Callable[[Workspace], Any], working: str) -> Any:
        """`call(ws)` as the guarded call: its result, or None after showing why not."""
        return self._call(call, working)[1]

    def _open(self) -> bool:
        """Open the workspace once, title the panel and list the open cases; on failure show why (the next click
        tries again)."""
        if self.ws is not None:
            return True
        if not self._open_workspace(self.name):
            return False
        org = self.ws.datamap.organisation.name
        self.title.value = title_html(f"{self.name} — {_e(org)}", self._subtitle())
        try:
            self._load_cases()
        except PrivacyOpsError as exc:
            self._set_error(str(exc))
        return True

    def _offer_people(self, candidates: Sequence[Any], query: str, button: str) -> None:
        """Several people match `query`: list them to pick one and press `button` (people are never merged)."""
        offer_candidates(self.candidates, self.picker, candidates)
        self._set_status(f"{len(candidates)} people match {query!r}: choose one below and press “{button}”. People "
                         f"are never merged.", "po-warn")

    def _subtitle(self) -> str:
        """The second line of the title (HTML: escape what comes from data)."""
        return f"workspace {_e(self.ws.root)}"

    def _load_cases(self) -> None:
        self.cases.offer(c for c in list_cases(self.ws, OPEN) if c.type in self.case_types)
