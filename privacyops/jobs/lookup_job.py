"""Notebook 01: look a subject up — the panel interactively, or headless: lookup.json, and a failure when nobody is
found (a scheduler must notice)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PrivacyOpsError
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..ui import LookupPanel
from ..workspace import open_workspace
from .notebook import NotebookJob, output_folder, write_json


@dataclass
class LookupJob(NotebookJob):
    result: SubjectRecords | None
    panel: LookupPanel | None = None

    def text(self) -> str:
        """At a glance: who, how many records where, context, mentions."""
        r = self.result if self.panel is None else self.panel.result
        if r is None:
            return "No result: see the message in the panel above."
        lines = [f"{r.query!r} searched as {r.kind}: {r.status}"]
        if r.subject:
            lines.append(f"subject: {r.subject.label} [{r.subject.ref}]")
        lines += [f"candidate: {c.ref:<24} score {c.score:.3f}  {c.label}" for c in r.candidates]
        lines.append(f"{r.total_rows} records in {len(r.records)} datasets")
        lines += [f"  {name:<32}{count:>6}" for name, count in r.counts().items()]
        lines += [e.line() for e in r.erasures]
        lines.append("context: " + (", ".join(f"{n} ({c.count})" for n, c in r.context.items()) or "none"))
        lines.append(f"mentions in other people's records: {len(r.mentions)}")
        return "\n".join(lines)

    def headless_views(self) -> list[Any]:
        r = self.result
        if r is None:
            return []
        views: list[Any] = [r.summary(), r.to_frame(), r.by_category()]
        if r.candidates:
            views.append(r.candidates_frame())
        if r.mentions:
            views.append(r.mentions_frame())
        return views


def subject_lookup(workspace: str | Path | None, subject: str, *, kind: str = "auto", pick: str | None = None,
                   case_id: str | None = None, interactive: bool = True,
                   output_dir: str | Path = "outputs/01_subject_lookup") -> LookupJob:
    """Notebook 01's job. Headless: writes `lookup.json` into `output_dir` and raises when nobody is found."""
    ws = open_workspace(workspace)
    if interactive:
        panel = LookupPanel(ws, initial=subject, kind=kind, pick=pick, case_id=case_id)
        return LookupJob(panel.result, panel)
    result = lookup(ws, subject, kind=kind, pick=pick, case_id=case_id)
    path = write_json(output_folder(output_dir) / "lookup.json", result.to_dict())
    print(f"wrote {path}")
    if result.status not in (FOUND, AMBIGUOUS) and not result.kept_rows:  # kept by an erasure: a find
        raise PrivacyOpsError(f"no records found for {subject!r} (searched as {result.kind})")
    return LookupJob(result)
