"""Notebook 03: plan an erasure — the panel, or headless: a case (opened when none is given) and the plan (plan.json),
which awaits a person's approval; or the execution, verification and certificate of a plan a person approved."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..erasure import (
    PLANNED,
    ErasureError,
    ErasurePlan,
    ErasureResult,
    execute_plan,
    load_plan,
    plan_erasure,
    verify_certificate,
)
from ..ledger import open_case
from ..map import DataMap
from ..ui import ErasurePanel
from ..workspace import open_workspace
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


def _execute(ws, plan_id: str, out: Path) -> ErasureResult:
    """Execute a plan a person approved beforehand (a headless run never approves: it has nobody to prove)."""
    plan = load_plan(ws, plan_id)
    if plan.status == PLANNED and ws.datamap.settings.four_eyes:
        raise ErasureError(f"plan {plan_id} is not approved: a headless run executes only a plan another person "
                           f"approved beforehand — they approve it (privacyops erase approve {plan_id}, or the panel, "
                           f"with their own key), then run again with plan_id; nothing was changed")
    print(plan.render())
    result = execute_plan(ws, plan_id)
    print(result.render())
    write_json(out / "result.json", result.to_dict())
    check = verify_certificate(result.certificate_path, ws)
    print(check)
    shutil.copy2(result.certificate_path, out / result.certificate_path.name)
    print(f"wrote {out / 'result.json'} and {out / result.certificate_path.name}")
    if not result.ok or not check.ok:
        raise ErasureError(f"erasure {plan_id} " + ("could not be verified: " + "; ".join(
            result.verification.problems[:5]) if not result.ok else f"certificate: {check}"))
    return result


def erasure(workspace: str | Path | None, subject: str | None, *, case_id: str | None = None,
            as_of: dt.date | str | None = None, plan_id: str | None = None, interactive: bool = True,
            output_dir: str | Path = "outputs/03_erasure") -> ErasureJob:
    """Notebook 03's job. Headless without `plan_id`: plans (plan.json) and changes nothing — the plan awaits
    another person's approval. Headless with `plan_id`: executes that plan, which a person approved beforehand
    (an unapproved plan is refused), verifies and certifies it. Raises when it cannot plan or the erasure fails."""
    ws = open_workspace(workspace)
    if interactive:
        panel = ErasurePanel(ws, subject=subject, case_id=case_id, as_of=as_of)
        return ErasureJob(ws.datamap, panel.plan, panel=panel)
    out = output_folder(output_dir)
    if plan_id:
        result = _execute(ws, plan_id, out)
        return ErasureJob(ws.datamap, result.plan, result)
    if case_id is None:  # a scheduled run on the demo: a new request, received today
        case_id = open_case(ws, "erasure", dt.date.today(), channel="notebook 03 (headless)", subject=subject).case_id
    plan = plan_erasure(ws, case_id, subject, as_of=as_of)
    write_json(out / "plan.json", plan.to_dict())
    print(plan.render())
    print(f"wrote {out / 'plan.json'}")
    print(f"Plan only: nothing was erased. Plan {plan.plan_id} awaits approval by another person (privacyops erase "
          f"approve {plan.plan_id}, with their own key); then run this notebook with plan_id=\"{plan.plan_id}\".")
    return ErasureJob(ws.datamap, plan)
