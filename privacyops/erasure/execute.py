"""Executing erasure plans: per source all or nothing, stale plans refused, verified, certified, scheduled.

`execute_plan(ws, plan_id)` runs an approved plan (`erasure_plan`):

1. **Refuses a stale plan.** Before anything changes, every planned row is read again and must either still hold
   what the plan saw (its fingerprint) or already be in the state the plan leads to (deleted; masked, with its
   other fields unchanged — a source an interrupted run committed); and the subject must have no record the plan
   does not know (for a single request the lookup is run again; for every plan each planned parent's children
   are listed again, and rows without an owner holding the subject's e-mail are searched for). Otherwise nothing
   changes: plan again.
2. **One transaction per source**, in an order that respects references (sources holding children first; inside
   a source, children's rows are deleted before their parents'). Inside the transaction the rows are checked once
   more, then deleted / masked set-based (one statement per dataset and chunk). After each commit the ledger
   records it (`erasure_sources`) with an audit entry, so re-running the same plan skips the committed sources and
   completes the rest; a commit the ledger missed (a kill between the two) is recognised by the rows' state.
3. **Schedules** the records kept under retention (`schedule`), enters them in the restriction register, adds or
   keeps suppression entries.
4. **Verifies**: every planned row is read back (deleted rows absent, masked fields holding their masked values,
   kept fields unchanged) and the lookup is run again by the subject's reference and e-mails (a batch: by the
   references of person rows that stay, and one set-based search for rows still holding the e-mails): only the
   planned retained / restricted rows may remain.
5. Writes a signed **certificate** (`certificate`) into `<workspace>/certificates/`.

The module is also the public face of erasure: `plan_erasure` (erasure_decide), `approve_plan`, `load_plan`,
`list_plans` (erasure_plan), `erase_due`, `plan_due`, `plan_batch` (erasure_due: what has come due, and batches
from a CSV file) are importable from here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

from tqdm.auto import tqdm

from ..ledger import audit, open_ledger, schedule
from ..ledger.schedule import key_json
from ..map import EMAIL, Dataset
from ..sources import CHUNK
from ..workspace import Workspace, current_actor
from .certificate import issue
from .plan import (
    APPROVED,
    BLOCKED,
    DELETE,
    DONE,
    DUE,
    EXECUTING,
    MASK,
    PLANNED,
    REFUSED,
    RETAIN,
    RETENTION,
    UNVERIFIED,
    ErasureError,
    ErasurePlan,
    PlannedRow,
    StalePlanError,
    _audit_summary,
    dataset_order,
    load_plan,
    set_status,
    source_order,
)
from .result import ErasureResult, SourceResult
from .verify import _check_source, _new_by_lookup, _orphans_by_email, verify_plan

PAUSE_ENV = "PRIVACYOPS_TEST_PAUSE_BETWEEN_SOURCES"  # test hook: seconds to sleep after each committed source
UPDATE_CHUNK = 200  # rows per per-row UPDATE statement (CASE ... WHEN key THEN value)


# ---------------------------------------------------------------------------------------------------------------
# Writing one source.


def _key_where(con, ds: Dataset, keys: list[tuple]) -> tuple[str, list[Any]]:
    """WHERE for composite keys: (a = ? AND b = ?) OR ..."""
    p = con.param
    one = "(" + " AND ".join(f"{con.quote(c)} = {p}" for c in ds.primary_key) + ")"
    return " OR ".join([one] * len(keys)), [v for k in keys for v in k]


def _delete(con, ds: Dataset, keys: list[tuple]) -> int:
    if len(ds.primary_key) == 1:
        return con.delete_in(ds, ds.primary_key[0], [k[0] for k in keys])
    if con.source.kind in ("parquet", "csv"):
        raise ErasureError(f"{ds.name}: rows of file sources with a composite primary key cannot be erased yet")
    n = 0
    for i in range(0, len(keys), 200):
        where, params = _key_where(con, ds, keys[i:i + 200])
        n += con._count_of(con.execute(f"DELETE FROM {con.relation(ds)} WHERE {where}", params))
    return n


def _update_each(con, ds: Dataset, key: str, items: list[tuple[Any, dict[str, Any]]]) -> int:
    """Per-row values. DuckDB and file sources join an Arrow table (the connector's update_rows); PostgreSQL and
    SQLite get one UPDATE per chunk with a CASE per column, instead of one statement per row."""
    if con.source.kind not in ("postgres", "sqlite") or len(items) == 1:
        return con.update_rows(ds, key, items)
    groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
    for k, vals in items:
        groups.setdefault(tuple(sorted(vals)), []).append((k, vals))
    p, qk, n = con.param, con.quote(key), 0
    for cols, group in groups.items():
        for i in range(0, len(group), UPDATE_CHUNK):
            part = group[i:i + UPDATE_CHUNK]
            keys = con.coerce(ds, key, [k for k, _ in part])
            if len(keys) != len(part):
                raise ErasureError(f"{ds.name}: key values of {key} do not fit the column")
            sets, params = [], []
            for c in cols:
                whens = " ".join([f"WHEN {p} THEN {p}"] * len(part))
                sets.append(f"{con.quote(c)} = CASE {qk} {whens} ELSE {con.quote(c)} END")
                for kv, (_, vals) in zip(keys, part):
                    params += [kv, vals[c]]
            sql = (f"UPDATE {con.relation(ds)} SET {', '.join(sets)} WHERE {qk} IN "
                   f"({', '.join([p] * len(part))})")
            n += con._count_of(con.execute(sql, params + keys))
    return n


def _mask(con, ds: Dataset, prs: list[PlannedRow]) -> int:
    """Masks grouped: rows getting the same values share one UPDATE per chunk; per-row values (pseudonyms) go
    through `_update_each`."""
    if len(ds.primary_key) != 1:
        if con.source.kind in ("parquet", "csv"):
            raise ErasureError(f"{ds.name}: rows of file sources with a composite primary key cannot be masked yet")
        n = 0
        for pr in prs:
            assignments = {c: m["value"] for c, m in pr.masks.items()}
            where, params = _key_where(con, ds, [pr.key])
            sets = ", ".join(f"{con.quote(c)} = {con.param}" for c in assignments)
            n += con._count_of(con.execute(f"UPDATE {con.relation(ds)} SET {sets} WHERE {where}",
                                           [*assignments.values(), *params]))
        return n
    key = ds.primary_key[0]
    same: dict[str, list[PlannedRow]] = {}
    for pr in prs:
        same.setdefault(json.dumps({c: m["value"] for c, m in sorted(pr.masks.items())}, sort_keys=True),
                        []).append(pr)
    n, single = 0, []
    for assignment, group in same.items():
        if len(group) == 1:
            single.append(group[0])
            continue
        n += con.update_in(ds, key, [pr.key[0] for pr in group], json.loads(assignment))
    if single:
        n += _update_each(con, ds, key, [(pr.key[0], {c: m["value"] for c, m in pr.masks.items()}) for pr in single])
    return n


def _apply(ws: Workspace, con, todo: dict[str, list[PlannedRow]]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for name in dataset_order(ws.datamap):  # children first
        prs = todo.get(name)
        if not prs:
            continue
        ds = ws.datamap.datasets[name]
        masks = [pr for pr in prs if pr.action in (MASK, RETAIN) and pr.masks]
        deletes = [pr for pr in prs if pr.action == DELETE]
        c = counts.setdefault(name, {"deleted": 0, "masked": 0})
        if masks:
            n = _mask(con, ds, masks)
            if n != len(masks):
                raise ErasureError(f"{name}: {n} row(s) masked where {len(masks)} were planned (is the primary key "
                                   f"unique?); this source was rolled back")
            c["masked"] += n
        if deletes:
            for i in range(0, len(deletes), CHUNK * 10):
                part = deletes[i:i + CHUNK * 10]
                n = _delete(con, ds, [pr.key for pr in part])
                if n != len(part):
                    raise ErasureError(f"{name}: {n} row(s) deleted where {len(part)} were planned (is the primary "
                                       f"key unique?); this source was rolled back")
                c["deleted"] += n
    return counts


def _committed(ws: Workspace, plan_id: str) -> dict[str, tuple[dt.datetime, dict]]:
    with open_ledger(ws) as con:
        rows = con.execute("SELECT source, committed_at, counts FROM erasure_sources WHERE plan_id = ?",
                           [plan_id]).fetchall()
    return {s: (at, json.loads(c)) for s, at, c in rows}


def _record_commit(ws: Workspace, plan: ErasurePlan, src: str, counts: dict, recovered: bool) -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with open_ledger(ws) as con:
        con.execute("INSERT INTO erasure_sources VALUES (?, ?, ?, ?) ON CONFLICT (plan_id, source) DO NOTHING",
                    [plan.plan_id, src, now, json.dumps(counts, sort_keys=True)])
    audit.record(ws, "erasure.source", {"plan_id": plan.plan_id, "source": src, "datasets": counts,
                                        "recovered": recovered}, case_id=plan.case_id)
    return now


# ---------------------------------------------------------------------------------------------------------------
# Executing.


def execute_plan(ws: Workspace, plan: ErasurePlan | str, *, progress: bool = False) -> ErasureResult:
    """Execute an approved plan (see the module docstring). Re-running a plan that was interrupted completes it."""
    t0 = time.perf_counter()
    dm = ws.datamap
    plan = load_plan(ws, plan if isinstance(plan, str) else plan.plan_id)
    actor = current_actor()
    if plan.status in (DONE, UNVERIFIED):
        raise ErasureError(f"plan {plan.plan_id} was already executed ({plan.executed_at:%Y-%m-%d %H:%M}); "
                           f"certificate: {plan.certificate}")
    if plan.status == REFUSED:
        raise ErasureError(f"plan {plan.plan_id} was refused as stale; plan again")
    if plan.status == PLANNED:
        if dm.settings.four_eyes:
            raise ErasureError(f"plan {plan.plan_id} is not approved: another person approves it first "
                               f"(privacyops erase approve {plan.plan_id}, as a different PRIVACYOPS_ACTOR)")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        set_status(ws, plan.plan_id, APPROVED, approved_by=actor, approved_at=now,
                   approval_note="four-eyes is off (settings.four_eyes: false): executed without a second approval")
        plan = load_plan(ws, plan.plan_id)
    if plan.map_fingerprint != dm.fingerprint:
        raise StalePlanError(f"the data map changed since plan {plan.plan_id} was made; plan again")
    set_status(ws, plan.plan_id, EXECUTING, executed_by=actor)
    committed = _committed(ws, plan.plan_id)
    order = source_order(dm, {pr.source for pr in plan.rows if pr.action != BLOCKED})
    pending = [s for s in order if s not in committed]

    # 1. Stale? Checked for every source before any changes (so a stale plan changes nothing).
    identities: set[str] = set()
    problems = _new_by_lookup(ws, plan) if pending else []
    with ws.session():
        for src in pending:
            _, probs, current = _check_source(ws, plan, src, ws.connector(src))
            problems += probs
            identities |= _emails(ws, current)
    if pending and plan.kind not in (DUE, RETENTION):
        planned = {pr.rid for pr in plan.rows} | {(n.dataset, key_json(n.key)) for n in plan.not_erased}
        problems += [f"{n} new record(s) in {name} hold the subject's e-mail address"
                     for name, n in _orphans_by_email(ws, identities, planned).items()]
    if problems:
        _refuse(ws, plan, problems, committed)

    # 2. One transaction per source.
    results = [SourceResult(s, "skipped (committed by an earlier run)", committed[s][1], committed[s][0])
               for s in order if s in committed]
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    for src in tqdm(pending, desc="erasing", unit="source", disable=not progress):
        stale: list[str] = []
        try:
            with ws.session():
                con = ws.writer(src)
                with con.transaction():
                    todo, stale, current = _check_source(ws, plan, src, con)
                    if stale:
                        raise StalePlanError("changed while executing")  # rolls this source back
                    identities |= _emails(ws, current)
                    counts = _apply(ws, con, todo)
        except StalePlanError:
            _refuse(ws, plan, stale, {r.source: None for r in results})
        except Exception as exc:
            # The failed source rolled back; the ones before it stay committed (the ledger has them). Say so.
            audit.record(ws, "erasure.interrupted", {
                "plan_id": plan.plan_id, "source": src, "error": type(exc).__name__,
                "committed_sources": [r.source for r in results]}, case_id=plan.case_id)
            raise
        recovered = not any(c.get("deleted") or c.get("masked") for c in counts.values())
        at = _record_commit(ws, plan, src, counts, recovered and bool(_planned_in(plan, src)))
        results.append(SourceResult(src, "committed", counts, at))
        if pause:
            time.sleep(pause)

    # 3. Ledger: schedule, restrictions, suppression.
    scheduled, restricted, suppressed = _finalise(ws, plan)

    # 4. Verify; 5. certify.
    verification = verify_plan(ws, plan, identities, progress=progress)
    plan.status = DONE if verification.ok else UNVERIFIED
    plan.executed_by, plan.executed_at = actor, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    result = ErasureResult(plan, results, verification, None, scheduled, restricted, suppressed)
    path, cert_hash = issue(ws, result)
    result.certificate_path = path
    plan.certificate = str(path)
    set_status(ws, plan.plan_id, plan.status, executed_at=plan.executed_at, certificate=str(path))
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    audit.record(ws, "erasure.execute", {
        **_audit_summary(plan), "status": plan.status, "verified": verification.ok,
        "problems": len(verification.problems), "remaining": verification.remaining,
        "sources": [s.source for s in results], "scheduled": scheduled, "restricted": restricted,
        "suppression_added": suppressed, "certificate_sha256": cert_hash,
        "elapsed_ms": round(result.elapsed_ms, 1)}, case_id=plan.case_id)
    return result


def _planned_in(plan: ErasurePlan, src: str) -> list[PlannedRow]:
    return [pr for pr in plan.rows if pr.source == src and pr.action != BLOCKED]


def _emails(ws: Workspace, current: dict[str, dict[str, Any]]) -> set[str]:
    out = set()
    for rid, row in current.items():
        ds = ws.datamap.datasets[rid.split("\x00")[0]]
        for c in ds.identity_columns(EMAIL):
            if row.get(c):
                out.add(str(row[c]).strip().lower())
    return out


def _refuse(ws: Workspace, plan: ErasurePlan, problems: list[str], committed: dict) -> None:
    set_status(ws, plan.plan_id, REFUSED)
    audit.record(ws, "erasure.refused", {"plan_id": plan.plan_id, "why": "stale", "problems": len(problems),
                                         "committed_sources": sorted(committed)}, case_id=plan.case_id)
    done = (f" Sources {', '.join(sorted(committed))} were already erased by this plan and stay so; a new plan "
            f"covers the rest.") if committed else " Nothing was changed."
    raise StalePlanError(f"plan {plan.plan_id} is stale — the data changed since planning ({len(problems)} "
                         f"finding(s): {'; '.join(problems[:8])}{' …' if len(problems) > 8 else ''}). Plan again "
                         f"(privacyops erase SUBJECT --case {plan.case_id}).{done}")


def _finalise(ws: Workspace, plan: ErasurePlan) -> tuple[int, int, int]:
    """Schedule kept rows, register restrictions, lift the restrictions of erased rows, suppression. Idempotent."""
    kept = [pr for pr in plan.rows if pr.scheduled and pr.action in (RETAIN, BLOCKED)]
    restricted = [pr for pr in plan.rows if pr.restricted and pr.action == RETAIN]
    erased = [pr for pr in plan.rows if pr.action in (DELETE, MASK)]
    add = plan.suppression.get("add") or []
    reason = plan.suppression.get("reason") or "withdrawal"
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    added = 0
    with open_ledger(ws) as con:
        with con.transaction(lock=True):
            schedule.schedule(con, [(pr.dataset, key_json(pr.key), pr.due_on, pr.until, pr.basis or pr.reason)
                                    for pr in kept], plan.plan_id, plan.case_id)
            schedule.restrict(con, [(pr.dataset, key_json(pr.key), pr.basis or pr.reason, pr.until)
                                    for pr in restricted], plan.plan_id, plan.case_id)
            if plan.kind in (DUE, RETENTION):
                schedule.finish(con, [(pr.dataset, key_json(pr.key)) for pr in erased], plan.plan_id)
            schedule.lift(con, [(pr.dataset, key_json(pr.key)) for pr in erased if pr.action == DELETE],
                          plan.plan_id)
            for h in add:
                if not con.execute("SELECT 1 FROM suppression WHERE email_hash = ?", [h]).fetchone():
                    con.execute("INSERT INTO suppression VALUES (?, ?, ?, ?, ?)",
                                [h, reason, now, current_actor(), plan.case_id])
                    added += 1
    return len(kept), len(restricted), added
