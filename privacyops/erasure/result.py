"""What an executed erasure gives back: per source, the verification, the certificate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .plan import BLOCKED, DELETE, MASK, RETAIN, ErasurePlan


@dataclass
class SourceResult:
    source: str
    status: str  # committed | skipped (committed by an earlier run)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset -> {deleted, masked, already}
    committed_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "status": self.status, "counts": self.counts,
                "committed_at": self.committed_at.isoformat() if self.committed_at else None}


@dataclass
class Verification:
    ok: bool
    checked_rows: int
    remaining: dict[str, int]
    lookups: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked_rows": self.checked_rows, "remaining": self.remaining,
                "lookups": self.lookups, "problems": self.problems}


@dataclass
class ErasureResult:
    plan: ErasurePlan
    sources: list[SourceResult]
    verification: Verification
    certificate_path: Path | None
    scheduled: int = 0
    restricted: int = 0
    suppression_added: int = 0
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verification.ok

    def to_dict(self) -> dict[str, Any]:
        return {"plan_id": self.plan.plan_id, "kind": self.plan.kind, "case_id": self.plan.case_id,
                "status": self.plan.status, "summary": self.plan.summary(),
                "sources": [s.to_dict() for s in self.sources], "verification": self.verification.to_dict(),
                "certificate": str(self.certificate_path) if self.certificate_path else None,
                "scheduled": self.scheduled, "restricted": self.restricted,
                "suppression_added": self.suppression_added, "elapsed_ms": round(self.elapsed_ms, 1)}

    def render(self) -> str:
        t = self.plan.totals()
        lines = [f"Erasure {self.plan.plan_id} executed ({self.elapsed_ms / 1000:.1f} s): {t[DELETE]} deleted, "
                 f"{t[MASK]} masked, {t[RETAIN]} retained (restricted), {t[BLOCKED]} blocked"]
        for s in self.sources:
            lines.append(f"  source {s.source}: {s.status}")
        v = self.verification
        lines.append(("Verified" if v.ok else "VERIFICATION FAILED") + f": {v.checked_rows} row(s) read back, "
                     f"{v.lookups} lookup(s); remaining: " + (", ".join(f"{d} ({n})" for d, n in v.remaining.items())
                                                               or "nothing"))
        for p in v.problems[:20]:
            lines.append(f"  problem: {p}")
        if self.scheduled:
            lines.append(f"Scheduled {self.scheduled} record(s) for erasure when their retention ends; "
                         f"{self.restricted} restricted (Art. 18).")
        if self.suppression_added:
            lines.append(f"Suppression list: {self.suppression_added} entry(ies) added.")
        if self.certificate_path:
            lines.append(f"Certificate: {self.certificate_path}")
        return "\n".join(lines)
