"""Notebook 00: the request inbox — the panel interactively, or headless: inbox.json and the list as a table (a
scheduler's morning run shows what is overdue)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ledger.inbox import InboxRow, request_inbox
from ..ui.inbox_panel import InboxPanel
from ..workspace import open_workspace
from .notebook import NotebookJob, output_folder, write_json


@dataclass
class InboxJob(NotebookJob):
    rows: list[InboxRow] = field(default_factory=list)
    panel: InboxPanel | None = None

    def text(self) -> str:
        """At a glance: how many requests, how many overdue, and the overdue ones."""
        rows = self.rows if self.panel is None else self.panel.rows
        late = [r for r in rows if r.overdue]
        lines = [f"{len(rows)} request(s), {len(late)} overdue"]
        lines += [f"  OVERDUE {r.case_id} {r.type}, due {r.due} ({-r.days_left} days late), subject "
                  f"{r.subject_ref or 'not recorded'}" for r in late]
        return "\n".join(lines)

    def headless_views(self) -> list[Any]:
        import pandas as pd

        frame = pd.DataFrame([r.to_dict() for r in self.rows],
                             columns=["case_id", "subject_ref", "type", "received", "deadline", "extended",
                                      "days_left", "overdue", "status"])
        return [frame.astype(object).where(frame.notna(), "")]


def inbox(workspace: str | Path | None, *, today: dt.date | str | None = None, case_type: str | None = None,
          status: str = "open", overdue_only: bool = False, sort: str = "due", interactive: bool = True,
          output_dir: str | Path = "outputs/00_request_inbox") -> InboxJob:
    """Notebook 00's job. Headless: writes `inbox.json` (the listed requests) into `output_dir`."""
    ws = open_workspace(workspace)
    if interactive:
        panel = InboxPanel(ws, today=today, case_type=case_type, status=status, overdue_only=overdue_only,
                           sort=sort)
        return InboxJob(panel.rows, panel)
    rows = request_inbox(ws, today=today, case_type=case_type, status=status, overdue_only=overdue_only, sort=sort)
    path = write_json(output_folder(output_dir) / "inbox.json", [r.to_dict() for r in rows])
    print(f"wrote {path}")
    return InboxJob(rows)
