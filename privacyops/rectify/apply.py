"""Applying a rectification plan (Art. 16): one transaction per source, rows addressed by primary key.

`apply_rectification(ws, plan)` first re-reads every affected row and refuses if anything changed since planning,
then writes, then re-reads and verifies. The audit entry holds counts and keyed hashes of the old and new values —
never the values.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, NoReturn

from ..errors import SourceError
from ..ledger import audit, people
from ..ledger.keyring import workspace_key
from ..map import FILE_SOURCE_KINDS, Dataset
from ..values import format_key, json_safe
from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash
from ..workspace.lookup_index import refresh_lookup_index
from .model import PlannedChange, RectificationError, RectificationPlan, RectificationResult
from .plan import check_case
from .values import same_value

HASH_PURPOSE = "rectify"

# source -> dataset -> key -> {field: change}
_BySource = dict[str, dict[str, dict[tuple, dict[str, PlannedChange]]]]


@contextmanager
def _transaction(con, source: str, committed: list[str]) -> Iterator[None]:
    with con.transaction():
        yield
    committed.append(source)  # reached only when the commit succeeded


def _read(con, ds: Dataset, keys: list[Any]) -> dict[tuple, dict[str, Any]]:
    """The rows with these primary key values, by key tuple."""
    rows = con.select_in(ds, ds.primary_key[0], keys).dicts()
    return {tuple(r[c] for c in ds.primary_key): r for r in rows}


def _hash(secret: bytes, value: Any) -> str | None:
    if value is None:
        return None
    return keyed_hash(secret, str(json_safe(value)), HASH_PURPOSE)


def apply_rectification(ws: Workspace, plan: RectificationPlan) -> RectificationResult:
    """Write a plan: one transaction per source (all or nothing each), rows addressed by primary key; refused when
    any affected value changed since planning; verified by reading back; audited with counts and keyed hashes."""
    t0 = time.perf_counter()
    dm = ws.datamap
    if plan.applied:
        raise RectificationError("this plan was already applied; plan again for further changes")
    if plan.map_fingerprint != dm.fingerprint:
        raise RectificationError("the data map changed since planning; plan again")
    if not plan.changes:
        raise RectificationError("the plan changes nothing")
    if getattr(dm.settings, "four_eyes_rectify", False) and not plan.approval:
        raise RectificationError("the data map asks for four-eyes on rectification (settings.four_eyes_rectify): "
                                 "submit the plan for approval; another person approves it, which applies it")
    check_case(ws, plan.case_id)
    workspace_key(ws)  # the audit entry at the end is keyed: a lost or foreign key stops the change before it starts
    # Under four-eyes the approver applies what another person submitted; otherwise the preparer applies it.
    role = people.APPROVER if plan.approval else people.PREPARER
    acting = people.acting_person(ws, role, action="apply a rectification")
    sig = people.sign_as(acting, current_actor(), "rectify.apply", case_id=plan.case_id,
                         planned_at=plan.planned_at, map_fingerprint=plan.map_fingerprint, changes=len(plan.changes))

    by_source: _BySource = {}
    for c in plan.changes:
        by_source.setdefault(c.source, {}).setdefault(c.dataset, {}).setdefault(c.key, {})[c.field] = c
    # File sources are entered last, so they commit first: a failed file rewrite still rolls the databases back.
    order = sorted(by_source, key=lambda s: dm.sources[s].kind in FILE_SOURCE_KINDS)

    with ws.session():
        _write(ws, plan, by_source, order)
        plan.applied = True
        mismatches = _verify(ws, by_source, order)
    # The lookup index must not keep the old values (nor miss the new ones): refresh the rows just written.
    refresh_lookup_index(ws, _changed_rows(c for c in plan.changes))

    entry = _audit(ws, plan, order, mismatches, t0, sig)
    if mismatches:
        raise RectificationError(f"written, but reading back found {len(mismatches)} place(s) not holding the new "
                                 f"value: {', '.join(mismatches[:10])}; check the source (audit entry {entry.seq})")
    return RectificationResult(case_id=plan.case_id, subject_ref=plan.subject_ref, changes=list(plan.changes),
                               counts=plan.counts(), sources=order, verified=True, audit_seq=entry.seq,
                               elapsed_ms=(time.perf_counter() - t0) * 1000)


def _write(ws: Workspace, plan: RectificationPlan, by_source: _BySource, order: list[str]) -> None:
    """All sources' transactions open at once, the stale check, the updates, then the commits (in reverse `order`);
    a failure says exactly what was and was not changed."""
    dm = ws.datamap
    committed: list[str] = []
    try:
        with ExitStack() as stack:
            writers = {}
            for src in order:
                writers[src] = ws.writer(src)
                stack.enter_context(_transaction(writers[src], src, committed))
            _refuse_stale(ws, writers, by_source, order)
            for src in order:
                for name, rows in by_source[src].items():
                    ds = dm.datasets[name]
                    items = [(k[0], {f: c.proposed for f, c in fields.items()}) for k, fields in rows.items()]
                    n = writers[src].update_rows(ds, ds.primary_key[0], items)
                    if n != len(items):
                        raise RectificationError(f"{name}: {n} row(s) updated where {len(items)} were planned "
                                                 f"(is {ds.primary_key[0]} unique?); nothing was changed")
    except BaseException as exc:
        if committed:  # a later commit failed after an earlier one succeeded: say exactly what happened
            _partial(ws, plan, order, committed, exc)
        if isinstance(exc, RectificationError) or not isinstance(exc, Exception):
            raise
        note = "nothing was changed (every source rolled back)"
        if isinstance(exc, SourceError):  # keep its type (and exit code), say what it means here
            raise type(exc)(f"{exc}; {note}") from exc
        raise RectificationError(f"writing failed, {note}: {type(exc).__name__}: {exc}") from exc


def _refuse_stale(ws: Workspace, writers: dict[str, Any], by_source: _BySource, order: list[str]) -> None:
    """Stale check: every affected row must still hold what the plan saw."""
    stale = []
    for src in order:
        for name, rows in by_source[src].items():
            ds = ws.datamap.datasets[name]
            now = _read(writers[src], ds, [k[0] for k in rows])
            for k, fields in rows.items():
                row = now.get(k)
                for f, c in fields.items():
                    if row is None:
                        stale.append(f"{name}[{format_key(k)}] is gone")
                    elif not same_value(row.get(f), c.current):
                        stale.append(c.place)
    if stale:
        raise RectificationError(f"changed since planning; plan again ({len(stale)} place(s): "
                                 f"{', '.join(stale[:10])}{' ...' if len(stale) > 10 else ''}); "
                                 f"nothing was changed")


def _partial(ws: Workspace, plan: RectificationPlan, order: list[str], committed: list[str],
             exc: BaseException) -> NoReturn:
    """Some sources committed, a later one failed: audit what was changed, mark the plan used, and say so."""
    failed = [s for s in order if s not in committed]
    done = RectificationPlan(**{**plan.__dict__, "changes": [c for c in plan.changes if c.source in committed]})
    audit.record(ws, "rectify", {
        "status": "partial", "committed_sources": committed, "failed_sources": failed,
        "datasets": done.counts(), "rows": done.rows(), "verified": False,
        "map_fingerprint": ws.datamap.fingerprint[:16],
        "subject_ref_hash": audit.subject_hash(ws, plan.subject_ref)}, case_id=plan.case_id,
        subject=plan.query)
    plan.applied = True
    raise RectificationError(f"source(s) {', '.join(committed)} were changed but {', '.join(failed)} "
                             f"failed ({type(exc).__name__}: {exc}); plan again to finish") from exc


def _changed_rows(changes: Any) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for c in changes:
        out.setdefault(c.dataset, []).append(tuple(c.key))
    return out


def _verify(ws: Workspace, by_source: _BySource, order: list[str]) -> list[str]:
    """Read every changed row back: the places not holding the new value."""
    mismatches = []
    for src in order:
        con = ws.connector(src)
        for name, rows in by_source[src].items():
            now = _read(con, ws.datamap.datasets[name], [k[0] for k in rows])
            for k, fields in rows.items():
                for f, c in fields.items():
                    row = now.get(k)
                    if row is None or not same_value(row.get(f), c.proposed):
                        mismatches.append(c.place)
    return mismatches


def _audit(ws: Workspace, plan: RectificationPlan, order: list[str], mismatches: list[str],
           t0: float, sig: dict | None = None) -> audit.AuditEntry:
    """The audit entry: counts and keyed hashes of the old and new values, never the values."""
    dm = ws.datamap
    secret = workspace_key(ws)
    values = []
    for c in plan.changes:
        item = {"dataset": c.dataset, "field": c.field, "old_hash": _hash(secret, c.current),
                "new_hash": _hash(secret, c.proposed), "propagated": not c.requested}
        if item not in values:
            values.append(item)
    return audit.record(ws, "rectify", {
        "status": "applied" if not mismatches else "unverified", "datasets": plan.counts(),
        "rows": plan.rows(), "changes": len(plan.changes), "propagated": len(plan.propagated),
        "sources": order, "verified": not mismatches, "values": values,
        "untouched": len(plan.untouched), "map_fingerprint": dm.fingerprint[:16],
        "subject_ref_hash": audit.subject_hash(ws, plan.subject_ref),
        "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1), **plan.approval,
        **people.audit_signature(sig, mark=False),  # who applied it, signed (or: identity not proven)
    }, case_id=plan.case_id, subject=plan.query)
