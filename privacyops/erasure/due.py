"""Due erasures and batches.

`erase_due(ws, as_of)` erases what has come due on `as_of` (default today): records whose retention has ended,
records a released hold no longer blocks, records whose retention anchor has now been reached (records kept while
their anchor is empty, `keep_while_empty`, are decided afresh on every run: still empty, they stay as they are);
rows that vanished meanwhile are marked gone. It is the function a scheduled notebook calls. Each originating plan
gets one due plan, executed through the same steps as any plan (stale check, one transaction per source,
verification, certificate).

Approval: the originating plan decided "keep until D, then erase" and was approved as such (four-eyes), so a due
erasure needs no second approval — requiring one would let records outlive their retention whenever nobody approves
(Art. 5(1)(e)). Holds still block, every row is re-read and re-decided, and the due plan and its certificate name
the plan and the approver the decision came from. For the same reason neither a due run nor a retention sweep runs
ahead of the calendar: an `as_of` later than today is refused before anything is written.

`plan_batch(ws, file, case_id)` plans every subject of a CSV file as one plan (executed set-based after approval).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import LookupInputError
from ..ledger import cases, holds, open_ledger, schedule
from ..ledger.schedule import key_json
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup_many
from ..map import NAME, Dataset
from ..sources import batch_reads
from ..ledger.people import APPROVER, PREPARER, acting_person, audit_signature, sign_as
from ..workspace import Workspace, current_actor
from .decide import B_WHILE_EMPTY, Decider
from .execute import execute_plan
from .holds_cover import cover_holds
from .plan import (
    APPROVED,
    B_ANCHOR,
    B_HOLD,
    B_REFERENCED,
    BATCH,
    BLOCKED,
    DELETE,
    DUE,
    MASK,
    RETAIN,
    RETENTION,
    ErasureError,
    ErasurePlan,
    NotErased,
    PlannedRow,
    _as_date,
    _audit_summary,
    _new_plan_id,
    _ordered,
    fingerprint,
    load_plan,
    no_collection,
    refuse_future,
    row_key,
    save_plan,
)
from .request import _check_case, _check_preparer, _suppression, stored_rows, subject_plan_rows
from .result import ErasureResult
from .retention_sql import overdue_keys
from .settle import settle
from .verify import read_rows

# ---------------------------------------------------------------------------------------------------------------
# Due erasures.


def plan_due(ws: Workspace, as_of: dt.date | str | None = None) -> list[ErasurePlan]:
    """Plans for what has come due on `as_of` (one per originating plan), saved as approved (see the module
    docstring); rows still kept get their dates updated; rows that vanished are marked gone. Set-based across the
    originating plans: every dataset's due rows are read in one query, decided, held and settled together."""
    with no_collection():  # a batch's due rows are many objects, none in cycles (see `no_collection`)
        return _plan_due(ws, as_of)


def _plan_due(ws: Workspace, as_of: dt.date | str | None) -> list[ErasurePlan]:
    as_of = _as_date(as_of)
    refuse_future(as_of, "erase --due")  # before anything is written: no second approval guards it
    entries = schedule.due(ws, as_of)
    by_plan: dict[str, list[schedule.ScheduleEntry]] = {}
    for e in entries:
        by_plan.setdefault(e.plan_id, []).append(e)
    if not by_plan:
        return []
    acting = acting_person(ws, PREPARER, APPROVER, action="run due erasures")
    actor = current_actor()
    origins = {plan_id: load_plan(ws, plan_id) for plan_id in by_plan}
    rows, data, kinds, gone = _decide_all_due(ws, as_of, by_plan, origins)
    if gone:
        with open_ledger(ws) as con:
            with con.transaction():
                schedule.finish(con, gone, "(gone before due)", status=schedule.GONE)
    plans, waiting = [], []
    for plan_id, group in by_plan.items():
        mine = {rid: rows[rid] for rid in dict.fromkeys((e.dataset, e.row_key) for e in group) if rid in rows}
        if not mine:
            continue
        for rid, pr in mine.items():  # kept before and kept still: already masked, nothing to write again
            kept_before = not kinds[rid].startswith((B_HOLD, B_ANCHOR)) or B_WHILE_EMPTY in kinds[rid]
            if pr.action == RETAIN and kept_before:
                pr.masks, pr.kept = {}, list(data[rid])
                pr.kept_fingerprint = pr.fingerprint
                pr.restricted = False  # already in the register
        if not any(pr.action in (DELETE, MASK) or (pr.action == RETAIN and pr.masks) for pr in mine.values()):
            waiting += mine.values()  # nothing to do yet: keep the dates current
            continue
        plans.append(_due_plan(ws, origins[plan_id], as_of, list(mine.values()), acting, actor))
    if waiting:
        with open_ledger(ws) as con:
            with con.transaction():
                for pr in waiting:
                    schedule.reschedule(con, pr.dataset, key_json(pr.key), pr.due_on, pr.until)
    return plans


def _decide_all_due(ws: Workspace, as_of: dt.date, by_plan: dict[str, list[schedule.ScheduleEntry]],
                    origins: dict[str, ErasurePlan]) -> tuple[dict, dict, dict, list]:
    """Every due row of every originating plan: read (one query per dataset), decided under its plan's subject
    holds, then held and settled together. Returns (rows, row data, each row's scheduled basis, rows gone)."""
    rows: dict[tuple[str, str], PlannedRow] = {}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    kinds: dict[tuple[str, str], str] = {}
    gone: list[tuple[str, str]] = []
    by_ds: dict[str, list[schedule.ScheduleEntry]] = {}
    for group in by_plan.values():
        for e in group:
            by_ds.setdefault(e.dataset, []).append(e)
    try:
        decider = Decider(ws, as_of, datasets=by_ds)
        now: dict[str, dict[str, dict[str, Any]]] = {}
        for name, es in by_ds.items():
            ds = ws.datamap.datasets[name]
            now[name] = read_rows(ws.connector(ds.source), ds, [e.key for e in es])
            decider.anchor_dates(ds, now[name].values())  # referenced anchors: one query per dataset, not per row
        for plan_id, group in by_plan.items():
            origin = origins[plan_id]
            decider.set_holds({h for s in origin.subjects for h in s.get("hold_hashes", [])})
            subject_of = {pr.rid: pr.subject for pr in origin.rows}
            for e in group:
                ds = ws.datamap.datasets[e.dataset]
                row = now[e.dataset].get(e.row_key)
                if row is None:
                    gone.append((e.dataset, e.row_key))
                    continue
                pr = _decide_due(decider, ds, row, e, as_of, subject_of.get((e.dataset, e.row_key)))
                rows[pr.rid], data[pr.rid] = pr, row
                kinds[pr.rid] = e.basis
        decider.set_holds(())
        cover_holds(decider, rows, data)  # rows belonging to held rows stay held with them
        settle(decider, rows, data)
    finally:
        ws.close()
    return rows, data, kinds, gone


def _due_plan(ws: Workspace, origin: ErasurePlan, as_of: dt.date, rows: list[PlannedRow], acting: Any,
              actor: str) -> ErasurePlan:
    """The due plan of one originating plan, saved as approved (see the module docstring)."""
    now_ts = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    plan = ErasurePlan(plan_id=_new_plan_id(DUE), kind=DUE, case_id=origin.case_id, as_of=as_of,
                       map_fingerprint=ws.datamap.fingerprint, rows=_ordered(ws.datamap, rows),
                       subjects=origin.subjects, origin={
                           "plan_id": origin.plan_id, "kind": origin.kind, "prepared_by": origin.prepared_by,
                           "approved_by": origin.approved_by,
                           "approved_at": origin.approved_at.isoformat() if origin.approved_at else None,
                           "plan_hash": origin.plan_hash},
                       status=APPROVED, prepared_by=actor, prepared_at=now_ts,
                       approved_by=origin.approved_by, approved_at=now_ts,
                       approval_note=f"scheduled erasure decided and approved with plan {origin.plan_id} "
                                     f"(approved by {origin.approved_by}); no second approval needed")
    plan.plan_hash = plan.compute_hash()
    plan.signatures["prepared"] = sign_as(acting, actor, "erasure.prepare", plan_id=plan.plan_id,
                                          plan_hash=plan.plan_hash)
    save_plan(ws, plan, {**_audit_summary(plan), "origin": origin.plan_id,
                         **audit_signature(plan.signatures["prepared"])})
    return plan


def _decide_due(decider: Decider, ds: Dataset, row: dict[str, Any], e: schedule.ScheduleEntry, as_of: dt.date,
                subject: str | None) -> PlannedRow:
    pr = decider.decide(ds, row, subject=subject)  # holds first; a fresh decision for held / anchor rows
    if pr.action == BLOCKED and pr.hold_id:
        return pr
    if e.basis.startswith((B_HOLD, B_ANCHOR)) or B_WHILE_EMPTY in e.basis:
        return pr  # anchors (kept while empty, directly or with the record it belongs to) are decided afresh
    fresh = PlannedRow(ds.name, ds.source, row_key(ds, row), DELETE, "", subject=subject,
                       fingerprint=fingerprint(row))
    if e.basis.startswith(B_REFERENCED):
        fresh.reason = "no longer needed: nothing that stays references it"  # settle() keeps it if still needed
        return fresh
    if e.retain_until and as_of > e.retain_until:
        fresh.reason = f"retention ended {e.retain_until} ({e.basis})"
        fresh.until = e.retain_until
        return fresh
    fresh.action, fresh.until, fresh.due_on, fresh.basis = RETAIN, e.retain_until, e.due_on, e.basis
    fresh.reason = f"still retained until {e.retain_until} ({e.basis})"
    fresh.scheduled = True
    return fresh


def erase_due(ws: Workspace, as_of: dt.date | str | None = None, *, progress: bool = False) -> list[ErasureResult]:
    """Erase every scheduled record whose day has come (`as_of`, default today): plan, execute, verify, certify.
    The function a scheduled notebook calls."""
    return [execute_plan(ws, p, progress=progress) for p in plan_due(ws, as_of)]


# ---------------------------------------------------------------------------------------------------------------
# Retention sweeps (storage limitation).

RULES_APPROVER = "the data map's retention rules"


def _overdue_keys(ws: Workspace, ds: Dataset, as_of: dt.date) -> list[tuple]:
    """Keys of the records whose own retention rule ended before `as_of`, selected in the store (the same dates
    as the retention report: `retention_sql.overdue_keys`, which joins or fetches a referenced anchor; a record
    kept while its anchor is empty is never overdue)."""
    return overdue_keys(ws, ds, as_of)


def plan_retention(ws: Workspace, as_of: dt.date | str | None = None, *, datasets: list[str] | None = None,
                   case_id: str | None = None, save: bool = True) -> ErasurePlan:
    """One plan (kind "retention") for the records whose own retention rule ended before `as_of` (default today),
    in `datasets` (default: every dataset with a rule). Overdue keys are selected in each store; the rows are read
    by key and decided by the same `Decider` as any erasure (holds block, mask policy, an ended legal obligation
    deletes); rows belonging to them without a rule of their own follow them; `settle` keeps what a staying row
    still needs. Records not overdue are never part of the plan.

    Approval: the plan is saved as approved by the data map's retention rules (see `RULES_APPROVER` and the
    approval note), like a due run; the preparer is recorded."""
    as_of = _as_date(as_of)
    if save:  # a saved sweep is approved by the map's rules and executed: never ahead of the calendar
        refuse_future(as_of, "the retention sweep")
    dm = ws.datamap
    acting = acting_person(ws, PREPARER, APPROVER, action="run the retention sweep") if save else None
    actor = current_actor()
    _check_preparer(ws, actor)
    if case_id:
        cases.get_case(ws, case_id)
    names = list(datasets) if datasets is not None else [n for n, d in dm.datasets.items() if d.retention]
    for n in names:
        if n not in dm.datasets:
            raise ErasureError(f"unknown dataset '{n}'")
        if not dm.datasets[n].retention or dm.datasets[n].retention not in dm.retention:
            raise ErasureError(f"dataset '{n}' has no retention rule: a retention sweep cannot erase it")
    rows: dict[tuple[str, str], PlannedRow] = {}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    hashes: dict[tuple[str, str], set[str]] = {}
    try:
        decider = Decider(ws, as_of)
        on_subjects = any(h.scope == holds.SUBJECT for h, _ in decider._active)
        digits = dm.settings.phone_match_digits

        def own_hashes(ds: Dataset, row: dict[str, Any]) -> set[str]:
            if not on_subjects:
                return set()
            forms: set[str] = set()
            for kind, cols in ds.identities.items():
                if kind != NAME:
                    for c in cols:
                        if row.get(c) not in (None, ""):
                            forms |= holds.identifier_forms(str(row[c]), digits)
            return holds.key_hashes(ws, forms) if forms else set()

        def add(ds: Dataset, got: dict[str, dict[str, Any]], inherited: dict[str, set[str]]) -> list:
            new = []
            decider.anchor_dates(ds, got.values())  # referenced anchors of all these rows in one query
            for kj, row in got.items():
                rid = (ds.name, kj)
                if rid in rows:
                    continue
                hashes[rid] = own_hashes(ds, row) | inherited.get(kj, set())
                decider.set_holds(hashes[rid])
                pr = decider.decide(ds, row)
                rows[rid], data[rid] = pr, row
                new.append(rid)
            return new

        frontier = []
        for n in names:  # 1. the overdue records themselves, by their own rule
            ds = dm.datasets[n]
            keys = _overdue_keys(ws, ds, as_of)
            frontier += add(ds, read_rows(ws.connector(ds.source), ds, keys), {})
        while frontier:  # 2. rows belonging to them, without a rule of their own, follow them
            nxt = []
            by_parent: dict[str, list[tuple[str, str]]] = {}
            for rid in frontier:
                by_parent.setdefault(rid[0], []).append(rid)
            for child in dm.datasets.values():
                if child.retention:
                    continue  # its own rule decides (and `settle` keeps what it still references)
                for ref in child.owner_references:
                    parents = by_parent.get(ref.to_dataset, [])
                    values = {data[p].get(ref.to_column) for p in parents} - {None}
                    if not values:
                        continue
                    inherited: dict[str, set[str]] = {}
                    par_hashes: dict[str, set[str]] = {}
                    for p in parents:
                        par_hashes.setdefault(str(data[p].get(ref.to_column)), set()).update(hashes[p])
                    got = {}
                    for g in ws.connector(child.source).select_in(child, ref.column, values).dicts():
                        kj = key_json(row_key(child, g))
                        got[kj] = g
                        inherited.setdefault(kj, set()).update(par_hashes.get(str(g.get(ref.column)), set()))
                    nxt += add(child, got, inherited)
            frontier = nxt
        decider.set_holds(())
        cover_holds(decider, rows, data)  # rows belonging to held rows (or to a held person) stay held with them
        settle(decider, rows, data)
    finally:
        ws.close()
    not_erased = []
    kept_rows = []
    for pr in rows.values():
        if pr.action == BLOCKED:  # held (or not started): untouched, listed, not scheduled by the sweep
            not_erased.append(NotErased(pr.dataset, pr.key, f"not erased: {pr.reason}"))
        else:
            kept_rows.append(pr)
    now_ts = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    note = (f"approved by {RULES_APPROVER} (map {dm.fingerprint[:12]}), prepared by {actor}: storage limitation "
            f"(Art. 5(1)(e)) requires erasing records once the period the map's reviewed retention rules set has "
            f"ended, so those rules are the approved decision and a second approval would only let records outlive "
            f"their retention whenever nobody approves; holds still block and every row is re-read and re-decided")
    plan = ErasurePlan(plan_id=_new_plan_id(RETENTION), kind=RETENTION, case_id=case_id, as_of=as_of,
                       map_fingerprint=dm.fingerprint, rows=_ordered(dm, kept_rows), not_erased=not_erased,
                       origin={"approved_by": RULES_APPROVER, "prepared_by": actor,
                               "map_fingerprint": dm.fingerprint, "datasets": names},
                       notes=[note], status=APPROVED, prepared_by=actor, prepared_at=now_ts,
                       approved_by=RULES_APPROVER, approved_at=now_ts, approval_note=note)
    plan.plan_hash = plan.compute_hash()
    plan.signatures["prepared"] = sign_as(acting, actor, "erasure.prepare", plan_id=plan.plan_id,
                                          plan_hash=plan.plan_hash)
    if save:
        save_plan(ws, plan, {**_audit_summary(plan), **audit_signature(plan.signatures["prepared"])})
    return plan


def erase_retention(ws: Workspace, as_of: dt.date | str | None = None, *, datasets: list[str] | None = None,
                    case_id: str | None = None, progress: bool = False) -> ErasureResult:
    """Plan the retention sweep and execute it (verified, certified)."""
    return execute_plan(ws, plan_retention(ws, as_of, datasets=datasets, case_id=case_id), progress=progress)


# ---------------------------------------------------------------------------------------------------------------
# Batches.

SUBJECT_COLUMNS = ("subject", "identifier", "email", "id")


def read_subjects(path: str | Path) -> list[tuple[int, str | None, str | None]]:
    """(line, identifier, pick) from a CSV file: a `subject` (or identifier/email/id) column and an optional
    `pick` column (DATASET:KEY); a file without a known header is read as one identifier per line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ErasureError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ErasureError(f"{path} has no subjects")
    header = [c.strip().lower() for c in rows[0]]
    col = next((header.index(c) for c in SUBJECT_COLUMNS if c in header), None)
    pick = header.index("pick") if "pick" in header else None
    out = []
    if col is None and pick is None:
        return [(i, r[0].strip(), None) for i, r in enumerate(rows, start=1)]
    for i, r in enumerate(rows[1:], start=2):
        ident = r[col].strip() if col is not None and col < len(r) and r[col].strip() else None
        p = r[pick].strip() if pick is not None and pick < len(r) and r[pick].strip() else None
        if ident or p:
            out.append((i, ident, p))
    return out


def plan_batch(ws: Workspace, path: str | Path, case_id: str, *, as_of: dt.date | str | None = None,
               suppress: str | None = None, progress: bool = False) -> ErasurePlan:
    """One plan for every subject in a CSV file (see `read_subjects`). Lines that find no single person are listed
    as skipped. Executed like any plan: after approval, set-based per dataset across all subjects."""
    with no_collection(), batch_reads():  # millions of objects made, none in cycles: a third of the time went to
        return _plan_batch(ws, path, case_id, as_of, suppress, progress)  # the collector; reads: half the limit


def _plan_batch(ws: Workspace, path: str | Path, case_id: str, as_of: dt.date | str | None, suppress: str | None,
                progress: bool) -> ErasurePlan:
    as_of = _as_date(as_of)
    _check_case(ws, case_id)
    acting = acting_person(ws, PREPARER, action="prepare an erasure plan")
    actor = current_actor()
    _check_preparer(ws, actor)
    items = read_subjects(path)
    rows: dict[tuple[str, str], PlannedRow] = {}
    not_erased: list[NotErased] = []
    subjects: list[dict[str, Any]] = []
    emails_by: list[set[str]] = []
    skipped: list[dict[str, Any]] = []
    strength = {DELETE: 0, MASK: 1, RETAIN: 2, BLOCKED: 3}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    seen: set[str | None] = set()
    decider = Decider(ws, as_of)
    try:
        with tqdm(total=len(items), desc="planning", unit="subject", disable=not progress) as bar:
            found = lookup_many(ws, [(ident, pick) for _, ident, pick in items], mentions=True, done=bar.update)
        people: list[SubjectRecords] = []
        for (line, _, _), recs in zip(items, found):
            if isinstance(recs, LookupInputError):
                skipped.append({"line": line, "why": str(recs)})
                continue
            if recs.status == AMBIGUOUS:
                skipped.append({"line": line, "why": f"{len(recs.candidates)} people match; give a pick column "
                                                     f"(DATASET:KEY): " + ", ".join(c.ref for c in recs.candidates)})
                continue
            if recs.status != FOUND:
                skipped.append({"line": line, "why": "no records found"})
                continue
            ref = recs.subject.ref if recs.subject else None
            if ref is not None and ref in seen:
                continue  # the same person twice
            seen.add(ref)
            people.append(recs)
        stored = stored_rows(ws, decider, people)  # one read per dataset for all subjects, anchors with them
        for recs in people:
            prs, ne, entry, emails = subject_plan_rows(ws, decider, recs, data_out=data, stored=stored)
            subjects.append(entry)
            emails_by.append(emails)
            not_erased += ne
            for pr in prs:
                old = rows.get(pr.rid)
                if old is None or strength[pr.action] > strength[old.action]:
                    rows[pr.rid] = pr
        cover_holds(decider, rows, data)  # rows belonging to held rows stay held with them, set-based
        settle(decider, rows, data)  # references across every subject's rows, set-based
    finally:
        ws.close()
    plan = ErasurePlan(plan_id=_new_plan_id(BATCH), kind=BATCH, case_id=case_id, as_of=as_of,
                       map_fingerprint=ws.datamap.fingerprint, rows=_ordered(ws.datamap, list(rows.values())),
                       subjects=subjects, not_erased=not_erased, skipped=skipped, prepared_by=actor,
                       prepared_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    plan.suppression = _suppression(ws, subjects, suppress, emails_by)
    plan.plan_hash = plan.compute_hash()
    plan.signatures["prepared"] = sign_as(acting, actor, "erasure.prepare", plan_id=plan.plan_id,
                                          plan_hash=plan.plan_hash)
    save_plan(ws, plan, {**_audit_summary(plan), **audit_signature(plan.signatures["prepared"])})
    return plan


__all__ = ["plan_due", "erase_due", "plan_retention", "erase_retention", "plan_batch", "read_subjects"]
