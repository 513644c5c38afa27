"""Notebook 03: plan an erasure — the panel, or headless: a case (opened when none is given), the plan (plan.json),
and, when asked, the approval, execution, verification and certificate."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..erasure import (
    ErasureError,
    ErasurePlan,
    ErasureResult,
    approve_plan,
    execute_plan,
    plan_erasure,
    verify_certificate,
)
from ..ledger import open_case
from ..map import DataMap
from ..ui import ErasurePanel
from ..workspace import current_actor, open_workspace
from .notebook import NotebookJob, output_folder, write_json


@dataclass
class ErasureJob(NotebookJob):
    datamap: DataMap
    plan: ErasurePlan | None = None
    result: ErasureResult | None = None
    panel: ErasurePanel | None = None

    def text(self) -> str:
        """How this map erases: four-eyes, and per dataset the action, the retention rule and the masks."""
        lines = [f"four-eyes approval: {'on' if self.datamap.settings.four_eyes else 'off'}"]
        for ds in self.datamap.datasets.values():
            pol = ds.erasure
            masks = ", ".join(f"{c}:{s}" for c, s in pol.mask.items())
            lines.append(f"  {ds.name:<30} {pol.action:<7} retention {ds.retention or '-':<16} "
                         f"{('mask ' + masks) if masks else ''}".rstrip())
        return "\n".join(lines)


@contextlib.contextmanager
def acting_as(name: str) -> Iterator[None]:
    """PRIVACYOPS_ACTOR for the block only (the engine approves as the current actor)."""
    before = os.environ.get("PRIVACYOPS_ACTOR")
    os.environ["PRIVACYOPS_ACTOR"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PRIVACYOPS_ACTOR", None)
        else:
            os.environ["PRIVACYOPS_ACTOR"] = before


def _execute(ws, plan: ErasurePlan, approved_by: str, out: Path) -> ErasureResult:
    with acting_as(approved_by):  # the approval only; the preparer stays the current actor
        plan = approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    print(result.render())
    write_json(out / "result.json", result.to_dict())
    check = verify_certificate(result.certificate_path, ws)
    print(check)
    shutil.copy2(result.certificate_path, out / result.certificate_path.name)
    print(f"wrote {out / 'result.json'} and {out / result.certificate_path.name}")
    if not result.ok or not check.ok:
        raise ErasureError(f"erasure {plan.plan_id} " + ("could not be verified: " + "; ".join(
            result.verification.problems[:5]) if not result.ok else f"certificate: {check}"))
    return result


def erasure(workspace: str | Path | None, subject: str | None, *, case_id: str | None = None,
            as_of: dt.date | str | None = None, execute: bool = False, approved_by: str | None = None,
            interactive: bool = True, output_dir: str | Path = "outputs/03_erasure") -> ErasureJob:
    """Notebook 03's job. Headless: plans (plan.json); with `execute=True` another person (`approved_by`) approves
    and the plan is executed, verified and certified. Raises when it cannot plan or the erasure fails."""
    ws = open_workspace(workspace)
    if interactive:
        panel = ErasurePanel(ws, subject=subject, case_id=case_id, as_of=as_of)
        return ErasureJob(ws.datamap, panel.plan, panel=panel)
    if execute and not approved_by:  # checked before anything is written
        raise ErasureError("execute=True needs approved_by: another person than the preparer "
                           f"({current_actor()}) approves the plan before it runs (four-eyes)")
    if case_id is None:  # a scheduled run on the demo: a new request, received today
        case_id = open_case(ws, "erasure", dt.date.today(), channel="notebook 03 (headless)", subject=subject).case_id
    plan = plan_erasure(ws, case_id, subject, as_of=as_of)
    out = output_folder(output_dir)
    write_json(out / "plan.json", plan.to_dict())
    print(plan.render())
    print(f"wrote {out / 'plan.json'}")
    if not execute:
        print("Plan only (execute=False): nothing was erased.")
        return ErasureJob(ws.datamap, plan)
    return ErasureJob(ws.datamap, plan, _execute(ws, plan, approved_by, out))
