"""What an executed erasure gives back: per source, the verification, the certificate — or, when the store refused
part of it, a `Failure`: what went wrong (the constraint, the row by dataset and key, never its values), what state
the sources are in, and what to do (the map setting to look at, then retry or cancel)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PrivacyOpsError
from ..ledger.schedule import key_json
from ..sources import store_errors as store
from ..workspace import Workspace
from .plan import BLOCKED, DELETE, MASK, RETAIN, ErasurePlan, PlannedRow


@dataclass
class SourceResult:
    source: str
    status: str  # committed | skipped (committed by an earlier run)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset -> {deleted, masked, already}
    committed_at: dt.datetime | None = None
    # dataset -> the written rows' lookup-index checksum before and after (refresh_lookup_index); not reported
    checksums: dict[str, tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=dict)

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


# ---------------------------------------------------------------------------------------------------------------
# Failures: the store's refusal turned into what to do.

CHECK, WRITE, FINISH, VERIFY, CERTIFY = "check", "write", "finish", "verify", "certify"  # where an execution failed
_WHERE = {CHECK: "while reading the planned rows again", WRITE: "while erasing", FINISH: "while recording the "
          "schedule and restrictions in the ledger", VERIFY: "while verifying", CERTIFY: "while signing the "
          "certificate"}


@dataclass
class Failure:
    """Why an execution failed and what to do: `message` for the person running it (the row by dataset and key),
    `details` for the audit log (names only, never a row)."""

    message: str
    details: dict[str, Any]


def _dataset_of(ws: Workspace, exc: Exception, src: str | None, todo: dict[str, list[PlannedRow]]) -> str | None:
    """The dataset the store refused: the one being written (set on the error), else the one whose table it names."""
    if getattr(exc, "dataset", None):
        return exc.dataset
    table = (getattr(exc, "table", None) or "").split(".")[-1].lower()
    names = [n for n in todo or ws.datamap.datasets if ws.datamap.datasets[n].source == src and table and
             ws.datamap.datasets[n].table.split(".")[-1].lower() == table]
    return names[0] if len(names) == 1 else None


def _row_of(exc: Exception, name: str | None, todo: dict[str, list[PlannedRow]],
            current: dict[str, dict[str, Any]]) -> PlannedRow | None:
    """The planned row the store named: its DETAIL's key values matched against the rows being written (the only
    row of the dataset in this write, else none)."""
    rows = (todo or {}).get(name or "", [])
    values = getattr(exc, "key_values", None)
    if values:
        hits = [pr for pr in rows if all(str((current.get(f"{pr.dataset}\x00{key_json(pr.key)}") or {}).get(c))
                                         == v for c, v in values.items())]
        return hits[0] if len(hits) == 1 else None
    return rows[0] if len(rows) == 1 else None


def _reference_fix(ws: Workspace, exc: Exception, src: str, name: str, plan_id: str) -> str:
    """For a foreign key the plan did not respect: the map setting that tells planning about it."""
    dm = ws.datamap
    constraint = getattr(exc, "constraint", None)
    table = getattr(exc, "referencing", None) or "the referring table"
    found, top = None, None
    try:
        con = ws.connector(src)
        parents = con.parents_of(table) if getattr(exc, "referencing", None) else []
        top = parents[-1] if parents else None  # a partition: a dataset names its partitioned table
        for ds in dm.datasets.values():
            if ds.source == src and constraint:
                fk = next((k for k in con.foreign_keys(ds) if k.name == constraint), None)
                if fk is not None:
                    found = (ds, fk)
                    break
    except PrivacyOpsError:
        pass  # the catalog cannot be read now: the general advice below still holds
    finally:
        ws.close()
    again = f"then cancel this plan (privacyops erase cancel {plan_id} --reason R) and plan again"
    store_side = (f"or, if the referring rows should go or let go, change them in the store (delete them, or give "
                  f"the key ON DELETE SET NULL / CASCADE) and run privacyops erase retry {plan_id}")
    if found is None:
        part = f" (part of {top})" if top else ""
        return (f"table {table}{part} is in no dataset of the map, so planning could not see that its rows need this "
                f"one: add {top or 'it'} as a dataset of source '{src}' with its reference to {name} "
                f"(datasets.<name>.references), {again} (the new plan keeps what the rows that stay still need); "
                f"{store_side}")
    ds, fk = found
    col = fk.columns[0] if fk.columns else "?"
    declared = next((r for r in ds.references if r.column == col and r.to_dataset == name), None)
    if declared is not None:
        return (f"the map declares it (datasets.{ds.name}.references.{col} → {name}), but a row of {ds.name} that "
                f"refers to it is not in the plan (added after planning, or another person's): {again}; "
                f"{store_side}")
    ref = f"{col}: {name}.{fk.ref_columns[0] if fk.ref_columns else '?'}"
    return (f"the map does not declare that {ds.name}.{col} refers to {name}: add `{ref}` under "
            f"datasets.{ds.name}.references (with shared: true if those rows are not the person's own), {again} — "
            f"the new plan keeps a row that rows staying behind still need; {store_side}")


def _fix(ws: Workspace, exc: Exception, src: str | None, name: str | None, plan_id: str) -> str:
    """What to do, by the kind of trouble."""
    kind = getattr(exc, "kind", None)
    retry = f"privacyops erase retry {plan_id}"
    cancel = f"cancel this plan (privacyops erase cancel {plan_id} --reason R) and plan again"
    if kind == store.FOREIGN_KEY and getattr(exc, "operation", None) == "DELETE" and name and src:
        return _reference_fix(ws, exc, src, name, plan_id)
    if kind in (store.NOT_NULL, store.CHECK, store.UNIQUE, store.EXCLUSION, store.FOREIGN_KEY):
        col = ", ".join(getattr(exc, "columns", ()) or ()) or "the field"
        return (f"the value the plan writes into {name or 'the dataset'} ({col}) does not fit the column: choose "
                f"another strategy under datasets.{name or '<dataset>'}.erasure.mask (redact or hmac instead of null; "
                f"hmac where values must stay unique) or keep the field (erasure.keep_fields), then {cancel}")
    if kind in (store.MISSING_TABLE, store.MISSING_COLUMN):
        return f"the map and the store disagree (privacyops check lists how): fix the map, then {cancel}"
    if kind in (store.AUTH, store.NO_DATABASE, store.PERMISSION):
        return f"fix the connection or the grants as said above (sources.{src} in the map), then {retry}"
    if kind in (store.LOCK_TIMEOUT, store.STATEMENT_TIMEOUT, store.FILE_LOCKED):
        return (f"when the other work is done (or after raising sources.{src}.lock_timeout / statement_timeout in "
                f"the map: a retry reads the map again), {retry}")
    if kind is not None:
        return f"when that is sorted out, {retry}"
    if type(exc).__name__ == "CertificateError":
        return f"restore the signing key, then {retry}: it verifies and signs (the erasure itself is complete)"
    return f"fix what it says, then {retry}; or {cancel}"


def _sentence(text: str) -> str:
    """The text ending as a sentence (the store's words run on into privacyops' own)."""
    return text if text.rstrip().endswith((".", "!", "?")) else text.rstrip() + "."


def describe_failure(ws: Workspace, plan: ErasurePlan, phase: str, exc: Exception, src: str | None = None,
                     todo: dict[str, list[PlannedRow]] | None = None, current: dict[str, dict[str, Any]] | None = None,
                     committed: list[str] = ()) -> Failure:
    """The store's (or the ledger's, or the key's) refusal as what to do. `todo` and `current` are the rows being
    written in `src` and their content, to name the row the store names."""
    todo = todo or {}
    name = _dataset_of(ws, exc, src, todo) if src else None
    pr = _row_of(exc, name, todo, current or {}) if name else None
    where = _WHERE[phase] + (f" in source '{src}'" if src else "")
    if name:
        where += f" (dataset {name}" + (f", row {pr.ref}" if pr else "") + ")"
    if phase in (CHECK, WRITE) and src:
        state = ("Nothing was changed by this run." if phase == CHECK else
                 f"Source '{src}' was rolled back: nothing in it changed.")
    else:
        state = "Every source was erased as planned; what failed comes after."
    if committed:
        state += f" Sources already erased by this plan stay so: {', '.join(committed)}."
    fix = _fix(ws, exc, src, name, plan.plan_id)
    said = _sentence(str(exc).removeprefix(f"source '{src}': ") if src else str(exc))
    message = f"erasure plan {plan.plan_id} failed {where}: {said}\n{state}\nWhat to do: {fix}."
    # The audit keeps names, never a row: the store's words only when they are privacyops' own (known kinds).
    quiet = said if getattr(exc, "kind", store.OTHER) != store.OTHER or not isinstance(exc, store.StoreError) \
        else f"the store refused ({type(exc).__name__})."
    where_quiet = _WHERE[phase] + (f" in source '{src}'" if src else "") + (f" (dataset {name})" if name else "")
    details = {"plan_id": plan.plan_id, "phase": phase, "source": src, "dataset": name,
               "kind": getattr(exc, "kind", None), "constraint": getattr(exc, "constraint", None),
               "table": getattr(exc, "table", None), "referencing": getattr(exc, "referencing", None),
               "error": type(exc).__name__, "committed_sources": list(committed),
               "message": f"failed {where_quiet}: {quiet} What to do: {fix}."}
    return Failure(message, details)
