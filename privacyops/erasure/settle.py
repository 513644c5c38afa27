"""Rows of a plan together: what belongs to a kept record stays with it, what belongs to a deleted one goes, and a
row that staying rows still reference through an enforced foreign key is kept, minimised to its key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..ledger.schedule import key_json
from ..map import Dataset
from . import retention
from .decide import Decider
from .plan import (
    B_REFERENCED,
    B_WITH,
    BLOCKED,
    DELETE,
    MASK,
    RETAIN,
    PlannedRow,
    dataset_order,
    row_key,
)


def settle(decider: Decider, rows: dict[tuple[str, str], PlannedRow], data: dict[tuple[str, str], dict[str, Any]],
           inherit: bool = True) -> None:
    """Top-down: rows that belong to a kept record and serve its obligation stay with it; rows of a deleted
    record go with it. Bottom-up: a row to be deleted that rows staying behind reference through an enforced
    foreign key is kept, minimised."""
    dm = decider.dm
    order = dataset_order(dm)  # children first
    by_ds: dict[str, list[PlannedRow]] = {}
    for pr in rows.values():
        by_ds.setdefault(pr.dataset, []).append(pr)
    index: dict[tuple[str, str], dict[str, list[PlannedRow]]] = {}

    def parents_of(ds: Dataset, row: dict[str, Any]) -> list[PlannedRow]:
        out = []
        for ref in ds.owner_references:
            idx = index.get((ref.to_dataset, ref.to_column))
            if idx is None:
                idx = {}
                for p in by_ds.get(ref.to_dataset, []):
                    idx.setdefault(str(data[p.rid].get(ref.to_column)), []).append(p)
                index[(ref.to_dataset, ref.to_column)] = idx
            if row.get(ref.column) is not None:
                out += idx.get(str(row[ref.column]), [])
        return out

    if inherit:
        for name in reversed(order):  # parents first
            ds = dm.datasets[name]
            for pr in by_ds.get(name, []):
                if pr.action in (RETAIN, BLOCKED) and (pr.hold_id or pr.rule):
                    continue  # decided by its own hold or rule
                if not pr.owner:
                    continue  # the subject only appears in the row: it follows its owner, not them
                row = data[pr.rid]
                parents = parents_of(ds, row)
                kept = [p for p in parents if p.action in (RETAIN, BLOCKED)]
                same_duty = retention.is_binding(dm, ds) and not ds.retention
                if kept and same_duty:
                    p = max(kept, key=lambda p: (p.action == BLOCKED, p.until or dt.date.max))
                    if p.action == BLOCKED:  # the parent's kind of basis: looked at again with it
                        decider._block(pr, f"kept with {p.ref}, which is blocked ({p.reason})",
                                    f"{p.basis} (kept with {p.dataset})")
                    else:
                        pr.rule, pr.ground = p.rule, p.ground
                        until = f"until {p.until}" if p.until else "as long as it is kept"
                        decider.retain(pr, ds, row, p.until, f"kept with {p.ref} {until} ({p.rule}: "
                                                          f"{p.ground}); restricted (Art. 18)",
                                    f"{B_WITH} {p.dataset}: {p.basis}", why=f"not needed by {p.rule}")
                elif pr.action == MASK and any(p.action == DELETE for p in parents):
                    gone = next(p for p in parents if p.action == DELETE)
                    pr.action, pr.masks, pr.kept = DELETE, {}, []
                    pr.reason = f"belongs to {gone.ref}, which is deleted"

    # Bottom-up: references that would dangle.
    for name in order:
        deletes = [pr for pr in by_ds.get(name, []) if pr.action == DELETE]
        if not deletes:
            continue
        ds = dm.datasets[name]
        pointing = _referencing(decider, ds, [data[pr.rid] for pr in deletes], rows)
        for pr in deletes:
            row = data[pr.rid]
            refs = [(ref, rid, other) for ref, value, rid, other in pointing
                    if str(row.get(ref.to_column)) == value]
            if not refs:
                continue
            enforced = [(ref, rid, other) for ref, rid, other in refs if decider.enforced(ref)]
            if not enforced:
                where = sorted({f"{ref.dataset}.{ref.column}" for ref, _, _ in refs})
                pr.notes.append(f"{len(refs)} record(s) that stay still hold its key ({', '.join(where)}); "
                                f"the store does not enforce the link")
                continue
            others = [o for _, _, o in enforced]
            until = None if any(o is None or o.until is None for o in others) else max(o.until for o in others)
            fk = sorted({f"{ref.dataset}.{ref.column}" for ref, _, _ in enforced})
            extra = {ref.to_column for ref, _, _ in enforced}
            pr.rule = pr.ground = None
            outside = sum(1 for o in others if o is None)
            what = (f"{len(others) - outside} record(s) kept by this plan" if not outside else
                    f"{outside} other record(s) not part of this erasure" if outside == len(others) else
                    f"{len(others)} record(s) that stay")
            decider.retain(pr, ds, row, until, f"kept, minimised to its key: {what} reference it and the store "
                                            f"enforces the link ({', '.join(fk)}); restricted (Art. 18)",
                        f"{B_REFERENCED}: by {', '.join(fk)}", why="minimised",
                        keep=set(ds.primary_key) | extra)  # the key and what the references need, nothing more

def _referencing(decider: Decider, ds: Dataset, deleted: list[dict[str, Any]], rows: dict[tuple[str, str], PlannedRow]):
    """Rows that reference `deleted` rows of `ds` and are not themselves deleted by the plan:
    [(reference, referenced value as text, (dataset, key json), planned row or None)]."""
    out = []
    for other in decider.dm.datasets.values():
        for ref in other.references:
            if ref.to_dataset != ds.name:
                continue
            values = {r.get(ref.to_column) for r in deleted if r.get(ref.to_column) is not None}
            if not values:
                continue
            got = decider.ws.connector(other.source).select_in(other, ref.column, values).dicts()
            for g in got:
                rid = (other.name, key_json(row_key(other, g)))
                planned = rows.get(rid)
                if planned is not None and (planned.action == DELETE or ref.column in planned.masks):
                    continue  # gone, or no longer pointing at the row (the plan masks the reference)
                out.append((ref, str(g.get(ref.column)), rid, planned))
    return out


