"""Notebook 02: answer an access or portability request — the panel, or headless: a case (opened when none is given),
the archive, export.json, and the generated password in a file only its owner can read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..access import ExportPlan, ExportResult, export_subject, read_password_file
from ..access.export import write_password_file
from ..ledger import open_case
from ..ui import ExportPanel
from ..workspace import open_workspace
from .notebook import NotebookJob, output_folder, write_json


@dataclass
class ExportJob(NotebookJob):
    result: ExportResult | None
    panel: ExportPanel | None = None

    @property
    def plan(self) -> ExportPlan | None:
        return self.panel.plan if self.panel is not None else (self.result.plan if self.result else None)

    def text(self) -> str:
        """What the copy holds, per dataset, and what is left out."""
        return "\n".join(self.plan.lines()) if self.plan else "No review: see the message in the panel above."


def access_export(workspace: str | Path | None, subject: str | None, *, pick: str | None = None,
                  case_id: str | None = None, case_type: str = "access", password_file: str | Path | None = None,
                  interactive: bool = True, output_dir: str | Path = "outputs/02_access_export") -> ExportJob:
    """Notebook 02's job. Headless: a new case received today when none is given; raises when it cannot export."""
    ws = open_workspace(workspace)
    if interactive:
        return ExportJob(None, ExportPanel(ws, subject=subject, pick=pick, case_id=case_id, case_type=case_type,
                                           password_file=password_file))
    if case_id is None:  # a scheduled run on the demo: a new request, received today
        case_id = open_case(ws, case_type, dt.date.today(), channel="notebook 02 (headless)", subject=subject).case_id
    password = read_password_file(password_file) if password_file else None
    result = export_subject(ws, case_id, subject, pick=pick, password=password)
    out = output_folder(output_dir)
    write_json(out / "export.json", result.to_dict())
    print(f"archive {result.path}\nsha256  {result.sha256}\nwrote {out / 'export.json'}")
    if result.password:
        secret = write_password_file(out / "password.txt", result.password)
        print(f"WARNING: the generated password is in {secret} (readable by you only). Send it to the subject "
              f"through another channel than the archive, then delete the file.")
    return ExportJob(result)
