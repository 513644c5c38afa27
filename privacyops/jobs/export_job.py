"""Notebook 02: answer an access or portability request — the panel, or headless: a case (opened when none is given),
the archive, export.json, and the generated password in a file only its owner can read when the caller names one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..access import (
    PASSWORD_CHANNEL_HINT,
    ExportError,
    ExportPlan,
    ExportResult,
    check_password_out,
    export_subject,
    keep_password,
    read_password_file,
)
from ..ledger import open_case
from ..ui import ExportPanel
from ..workspace import open_workspace
from .notebook import NotebookJob, output_folder, write_json

# A headless run has nobody to show a generated password to, and what it prints is stored in the executed notebook:
# it writes the password only into a file the caller names, or uses the caller's own.
HEADLESS_PASSWORD = ("a headless export needs to know where its password comes from or goes: password_out=PATH "
                     "(the generated password is written there, readable by you only; CLI --password-out) or "
                     "password_file=PATH (your own password, first line; CLI --password-file)")


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
                  password_out: str | Path | None = None, interactive: bool = True,
                  output_dir: str | Path = "outputs/02_access_export") -> ExportJob:
    """Notebook 02's job. Headless: a new case received today when none is given; the generated password goes into
    `password_out` only (never printed); raises, before anything is made, when it cannot export."""
    ws = open_workspace(workspace)
    if interactive:
        return ExportJob(None, ExportPanel(ws, subject=subject, pick=pick, case_id=case_id, case_type=case_type,
                                           password_file=password_file))
    if (password_file is None) == (password_out is None):
        raise ExportError(HEADLESS_PASSWORD + ("; not both" if password_file is not None else ""))
    password = read_password_file(password_file) if password_file else None
    if password_out is not None:
        check_password_out(password_out)
    if case_id is None:  # a scheduled run on the demo: a new request, received today
        case_id = open_case(ws, case_type, dt.date.today(), channel="notebook 02 (headless)", subject=subject).case_id
    result = export_subject(ws, case_id, subject, pick=pick, password=password)
    out = output_folder(output_dir)
    write_json(out / "export.json", result.to_dict())
    print(f"archive {result.path}\nsha256  {result.sha256}\nwrote {out / 'export.json'}")
    kept = keep_password(result, password_out) if password_out is not None else None
    if kept is not None:
        print(f"The generated password is in {kept} (readable by you only; never in this notebook). "
              f"{PASSWORD_CHANNEL_HINT} Then delete the file.")
    return ExportJob(result)
