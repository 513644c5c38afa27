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
5. Writes a signed **certificate** (`certificate`) into `<workspace>/certificates/`. The signing key is checked
   before step 1: a damaged or lost key stops the erasure before anything changes.

**Failures.** When the store refuses (a foreign key the map does not know, a grant missing, a timeout, the server
down) the source being written rolls back, the sources committed before stay recorded, the plan becomes `failed`
(audited: `erasure.failed`) and the error says what went wrong — the constraint, the row by dataset and key, the
map setting to look at — and what to do. `retry_plan` runs it again after the fix (reading the map again);
`cancel_plan` (erasure_plan) stops it. An interruption (a kill, a crash) is not a failure: the plan stays
`executing` and running it again completes it. A plan as of a later day than today is a preview: never executed.

The module is also the public face of erasure: `plan_erasure` (erasure_decide), `approve_plan`, `load_plan`,
`list_plans` (erasure_plan), `erase_due`, `plan_due`, `plan_batch` (erasure_due: what has come due, and batches
from a CSV file) are importable from here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any, NoReturn

from tqdm.auto import tqdm

from ..errors import PrivacyOpsError
from ..ledger import audit, open_ledger, schedule
from ..ledger.people import APPROVER, PREPARER, acting_person, audit_signature, sign_as
from ..ledger.schedule import key_json
from ..map import EMAIL
from ..sources import batch_reads
from ..workspace import Workspace, current_actor, open_workspace
from ..workspace.lookup_index import index_applies, index_path, key_checksum, refresh_lookup_index
from .apply import _apply
from .canonical import no_collection
from .certificate import check_signing_key, issue
from .decide import Decider
from .plan import (
    APPROVED,
    BATCH,
    BLOCKED,
    CANCELLED,
    DELETE,
    DONE,
    DUE,
    EXECUTING,
    FAILED,
    MASK,
    PLANNED,
    REFUSED,
    RETAIN,
    RETENTION,
    UNVERIFIED,
    ErasureError,
    ErasurePlan,
    ExecutionFailed,
    PlannedRow,
    StalePlanError,
    _audit_summary,
    committed_sources,
    load_plan,
    preview_message,
    set_status,
    source_order,
)
from .result import CERTIFY, CHECK, FINISH, VERIFY, WRITE, ErasureResult, SourceResult, describe_failure
from .settle import settle
from .signing import APPROVE, EXECUTE, check_execution
from .verify import _check_source, _new_by_lookup, _orphans_by_email, verify_plan

PAUSE_ENV = "PRIVACYOPS_TEST_PAUSE_BETWEEN_SOURCES"  # test hook: seconds to sleep after each committed source


def _record_commit(ws: Workspace, plan: ErasurePlan, src: str, counts: dict, recovered: bool) -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with open_ledger(ws) as con, con.transaction(lock=True):  # the commit row and its audit entry, together
        con.execute("INSERT INTO erasure_sources VALUES (?, ?, ?, ?) ON CONFLICT (plan_id, source) DO NOTHING",
                    [plan.plan_id, src, now, json.dumps(counts, sort_keys=True)])
        audit.record(ws, "erasure.source", {"plan_id": plan.plan_id, "source": src, "datasets": counts,
                                            "recovered": recovered}, case_id=plan.case_id, con=con)
    return now


# ---------------------------------------------------------------------------------------------------------------
# Executing.


def execute_plan(ws: Workspace, plan: ErasurePlan | str, *, progress: bool = False) -> ErasureResult:
    """Execute an approved plan (see the module docstring). Re-running a plan that was interrupted (killed)
    completes it; a plan the store refused is `failed`, and `retry_plan` runs it again after the fix."""
    with no_collection():  # a run holds a plan's rows and the rows read back, none in cycles
        plan = load_plan(ws, plan if isinstance(plan, str) else plan.plan_id)
        with batch_reads(plan.kind in (BATCH, DUE, RETENTION)):  # many subjects: half the read limit
            return _run(ws, plan, progress=progress, map_changed=_may_execute(ws, plan))


def retry_plan(ws: Workspace, plan_id: str, *, progress: bool = False) -> ErasureResult:
    """Run a `failed` plan again after fixing what its failure said: the map is read again (a timeout raised, a
    source's DSN moved), the plan re-checked for staleness against it (with a changed map, also whether the map now
    says rows that stay still need rows the plan deletes: then the plan is refused, plan again), and the sources not
    yet committed are erased, verified and certified."""
    plan = load_plan(ws, plan_id)
    acting_person(ws, PREPARER, APPROVER, action=f"retry erasure plan {plan_id}")  # before the retry is audited
    if plan.status != FAILED:
        what = {EXECUTING: "an interrupted run resumes with privacyops erase execute", APPROVED: "execute it",
                PLANNED: "approve it, then execute it"}.get(plan.status, "nothing to retry")
        raise ErasureError(f"plan {plan_id} is {plan.status}; only a failed plan is retried ({what})")
    ws.close()
    fresh = open_workspace(ws.root)  # the map as it is now: "after fixing the map"
    dm = fresh.datamap
    missing = sorted({pr.dataset for pr in plan.rows if pr.dataset not in dm.datasets} |
                     {pr.source for pr in plan.rows if pr.source not in dm.sources})
    if missing:
        raise ErasureError(f"plan {plan_id} names {', '.join(missing)}, which the map no longer has: cancel it "
                           f"(privacyops erase cancel {plan_id} --reason R) and plan again")
    changed = plan.map_fingerprint != dm.fingerprint
    audit.record(fresh, "erasure.retry", {"plan_id": plan_id, "map_changed": changed,
                                          "map_fingerprint": dm.fingerprint[:16]}, case_id=plan.case_id)
    with no_collection(), batch_reads(plan.kind in (BATCH, DUE, RETENTION)):  # (see execute_plan)
        return _run(fresh, plan, progress=progress, map_changed=changed)


def _may_execute(ws: Workspace, plan: ErasurePlan) -> bool:
    """The refusals that change nothing: a preview, an executed / refused / failed / cancelled plan, an unapproved
    one (four-eyes), a changed map. True when the map differs from the plan's but a retry accepted this very map
    (the retry was interrupted: running the plan again resumes it)."""
    pid = plan.plan_id
    if plan.preview:
        raise ErasureError(preview_message(pid, plan.as_of))
    if plan.status in (DONE, UNVERIFIED):
        raise ErasureError(f"plan {pid} was already executed ({plan.executed_at:%Y-%m-%d %H:%M}); "
                           f"certificate: {plan.certificate}")
    if plan.status == REFUSED:
        raise ErasureError(f"plan {pid} was refused as stale; plan again")
    if plan.status == FAILED:
        raise ErasureError(f"plan {pid} failed: {plan.failure or 'see privacyops erase show ' + pid}\nAfter fixing "
                           f"it: privacyops erase retry {pid}; or privacyops erase cancel {pid} --reason R")
    if plan.status == CANCELLED:
        raise ErasureError(f"plan {pid} was cancelled; plan again (privacyops erase SUBJECT --case "
                           f"{plan.case_id or 'ID'})")
    if plan.status == PLANNED and ws.datamap.settings.four_eyes:
        raise ErasureError(f"plan {pid} is not approved: another person approves it first "
                           f"(privacyops erase approve {pid}, with their own key; docs/people.md)")
    if plan.map_fingerprint == ws.datamap.fingerprint:
        return False
    retries = [e.details for e in audit.entries(ws, action="erasure.retry") if e.details.get("plan_id") == pid]
    if plan.status == EXECUTING and retries and retries[-1].get("map_fingerprint") == ws.datamap.fingerprint[:16]:
        return True
    raise StalePlanError(f"the data map changed since plan {pid} was made; plan again")


def _run(ws: Workspace, plan: ErasurePlan, *, progress: bool, map_changed: bool = False) -> ErasureResult:
    """Check, erase source by source, finish, verify, certify (the module docstring). A refusal of the store (or
    the ledger, or the signing key) makes the plan `failed` with what to do; an interruption leaves it `executing`
    for a re-run to complete."""
    t0 = time.perf_counter()
    check_signing_key(ws)  # a certificate that could not be signed at the end stops the erasure before it starts
    acting = check_execution(ws, plan)  # who runs it, and the plan's signatures, before anything changes
    actor, signed = current_actor(), {"plan_id": plan.plan_id, "plan_hash": plan.plan_hash}
    if plan.status == PLANNED:  # four-eyes is off (`_may_execute`)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        set_status(ws, plan.plan_id, APPROVED, approved_by=actor, approved_at=now,
                   approval_note="four-eyes is off (settings.four_eyes: false): executed without a second approval",
                   approved_sig=json.dumps(sign_as(acting, actor, APPROVE, **signed), sort_keys=True))
        plan = load_plan(ws, plan.plan_id)
    plan.signatures["executed"] = sign_as(acting, actor, EXECUTE, **signed)
    set_status(ws, plan.plan_id, EXECUTING, executed_by=actor,
               executed_sig=json.dumps(plan.signatures["executed"], sort_keys=True))
    committed = committed_sources(ws, plan.plan_id)
    order = source_order(ws.datamap, {pr.source for pr in plan.rows if pr.action != BLOCKED})
    pending = [s for s in order if s not in committed]
    results = [SourceResult(s, "skipped (committed by an earlier run)", committed[s][1], committed[s][0])
               for s in order if s in committed]
    pause = float(os.environ.get(PAUSE_ENV, "0") or 0)
    opened: dict[str, _Opened] = {}
    # One session: the transactions opened by the check stay open until each source's commit. Its end closes the
    # writers (a DuckDB file is checkpointed: reading it back through a fresh reader is faster than through the
    # writer that changed it); with keep_open the ledger and the other readers stay open for the steps after.
    with ws.session(keep_readers=True):
        try:
            try:
                identities = _check_stale(ws, plan, pending, committed, map_changed, opened)
            except StalePlanError:
                raise
            except PrivacyOpsError as exc:
                _fail(ws, plan, CHECK, exc, getattr(exc, "source", None), committed=sorted(committed))
            for src in tqdm(pending, desc="erasing", unit="source", disable=not progress):
                _stop_if_cancelled(ws, plan, results)
                results.append(_erase_source(ws, plan, src, identities, results, opened.pop(src, None)))
                if pause:
                    time.sleep(pause)
        finally:
            _roll_back(opened)
    with ws.session(keep_readers=True):  # schedule, index, verification, certificate: one set of readers
        return _complete(ws, plan, results, identities, actor, t0, progress)


class _Opened:
    """A source's transaction opened by the stale check (its rows read inside it), kept open until the source's
    writes commit in it: the rows are read once, and what was checked is what is written."""

    def __init__(self, con, todo: dict[str, list[PlannedRow]], current: dict[str, dict[str, Any]]):
        self.con, self.todo, self.current = con, todo, current

    def alive(self, ws: Workspace, src: str) -> bool:
        """Whether the transaction is still the open one (nothing closed the workspace's connectors since)."""
        return ws.writing(src) and ws.writer(src) is self.con


def _roll_back(opened: dict[str, _Opened]) -> None:
    """Transactions the check opened that were not used (a refusal, a failure, an interruption): rolled back."""
    for o in opened.values():
        try:
            o.con.rollback()
        except Exception:  # noqa: BLE001 - already closed (closing rolled it back)
            pass
    opened.clear()


def _check_stale(ws: Workspace, plan: ErasurePlan, pending: list[str], committed: dict, map_changed: bool,
                 opened: dict[str, "_Opened"]) -> set[str]:
    """Every pending source's planned rows read, and the subject's records looked for again, before anything
    changes (so a stale plan changes nothing); returns the subject's e-mail addresses found in the rows. The rows
    are read inside each source's write transaction (`opened`: kept open for its writes), so they are read once.
    Runs inside the caller's session."""
    identities: set[str] = set()
    problems = _new_by_lookup(ws, plan) if pending else []
    todo_all: dict[str, list[PlannedRow]] = {}
    current_all: dict[str, dict[str, Any]] = {}
    for src in pending:
        con = ws.writer(src)
        if hasattr(con, "limit_reads") and con.source.kind == "duckdb":
            con.limit_reads()  # reading only, until `_apply`: what it reads need not stay in memory
        con.begin()
        con.unwritten = True  # nothing written in it yet: the lookup index still answers for the source
        opened[src] = _Opened(con, {}, {})
        todo, probs, current = _check_source(ws, plan, src, con)
        opened[src].todo, opened[src].current = todo, current
        problems += probs
        identities |= _emails(ws, current)
        todo_all.update(todo)
        current_all.update(current)
    if pending and plan.kind not in (DUE, RETENTION):
        planned = {pr.rid for pr in plan.rows} | {(n.dataset, key_json(n.key)) for n in plan.not_erased}
        problems += [f"{n} new record(s) in {name} hold the subject's e-mail address"
                     for name, n in _orphans_by_email(ws, identities, planned, session=False).items()]
        ws.forget_kept("lookup-index")  # its buffers need not stay resident while the sources commit
    if map_changed and not problems:
        problems += _needed_now(ws, plan, todo_all, current_all)
        if problems:
            _roll_back(opened)
            _refuse(ws, plan, problems, committed, "the map changed since planning and the plan does not hold under "
                                                   "it")
    if problems:
        _roll_back(opened)
        _refuse(ws, plan, problems, committed)
    return identities


def _needed_now(ws: Workspace, plan: ErasurePlan, todo: dict[str, list[PlannedRow]],
                current: dict[str, dict[str, Any]]) -> list[str]:
    """A retry after the map changed: rows the plan deletes that the map now says rows staying behind still need
    (planning with this map would keep them, minimised): the plan no longer holds."""
    rows: dict[tuple[str, str], PlannedRow] = {}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    for prs in todo.values():
        for pr in prs:
            row = current.get(f"{pr.dataset}\x00{key_json(pr.key)}")
            if row is not None:
                rows[pr.rid], data[pr.rid] = PlannedRow.from_dict(pr.to_dict()), row
    deletes = {rid for rid, pr in rows.items() if pr.action == DELETE}
    try:
        settle(Decider(ws, plan.as_of), rows, data, inherit=False)
    except StalePlanError:
        raise
    except ErasureError as exc:  # planning with this map would refuse: the plan certainly no longer holds
        return [str(exc)]
    finally:
        ws.close()
    changed: dict[str, int] = {}
    for rid in deletes:
        if rows[rid].action != DELETE:
            changed[rid[0]] = changed.get(rid[0], 0) + 1
    return [f"{n} record(s) of {name} that it deletes are, with the map as it is now, still needed by records that "
            f"stay" for name, n in sorted(changed.items())]


def _stop_if_cancelled(ws: Workspace, plan: ErasurePlan, results: list[SourceResult]) -> None:
    """Someone cancelled the plan while it ran: stop before the next source (the ledger says so, not this run)."""
    with open_ledger(ws) as con:
        row = con.execute("SELECT status FROM erasure_plans WHERE plan_id = ?", [plan.plan_id]).fetchone()
    if row and row[0] == CANCELLED:
        done = [r.source for r in results]
        raise ErasureError(f"plan {plan.plan_id} was cancelled while it ran; it stopped before the next source"
                           + (f" (sources {', '.join(done)} stay erased)" if done else " (nothing was changed)"))


def _erase_source(ws: Workspace, plan: ErasurePlan, src: str, identities: set[str],
                  results: list[SourceResult], opened: "_Opened | None" = None) -> SourceResult:
    """One source in one transaction: the one the stale check read its rows in (`opened`), else (it was closed
    meanwhile) a new one in which they are checked once more; then written, and the commit recorded."""
    stale: list[str] = []
    todo: dict[str, list[PlannedRow]] = {}
    current: dict[str, dict[str, Any]] = {}
    done = [r.source for r in results]
    try:
        if opened is not None and opened.alive(ws, src):
            con, todo, current = opened.con, opened.todo, opened.current
        else:
            if opened is not None:
                _roll_back({src: opened})
            con = ws.writer(src)
            con.begin()
            todo, stale, current = _check_source(ws, plan, src, con)
            identities |= _emails(ws, current)
        try:
            if stale:
                raise StalePlanError("changed while executing")  # rolls this source back
            con.split_commits = plan.kind in (BATCH, DUE, RETENTION)  # many subjects: see apply._commit_dataset
            tracked = _index_tracked(ws, con, plan, src)
            before = _checksums(ws, con, tracked)
            counts = _apply(ws, con, todo)
            after = _checksums(ws, con, tracked)
        except BaseException:
            try:
                con.rollback()
            except Exception:  # noqa: BLE001 - the connection is gone (which rolled it back): the first error stands
                pass
            raise
        con.commit()
    except StalePlanError:
        _refuse(ws, plan, stale, {s: None for s in done})
    except PrivacyOpsError as exc:  # the store refused (a constraint, a grant, a timeout): this source rolled back
        _fail(ws, plan, WRITE, exc, src, todo, current, done)
    except Exception as exc:
        # Interrupted (not a refusal of the store): the source rolled back; the ones before it stay committed (the
        # ledger has them) and the plan stays executing, so running it again completes it. Say so.
        audit.record(ws, "erasure.interrupted", {"plan_id": plan.plan_id, "source": src,
                                                 "error": type(exc).__name__, "committed_sources": done},
                     case_id=plan.case_id)
        raise
    recovered = not any(c.get("deleted") or c.get("masked") for c in counts.values())
    at = _record_commit(ws, plan, src, counts, recovered and bool(_planned_in(plan, src)))
    return SourceResult(src, "committed", counts, at, {n: (before[n], after[n]) for n in tracked})


def _written(plan: ErasurePlan, src: str | None = None) -> dict[str, list[tuple]]:
    """The keys of the rows `_apply` writes (deleted, masked, kept with masks) by dataset; of one source's alone."""
    changed: dict[str, list[tuple]] = {}
    for r in plan.rows:
        if (src is None or r.source == src) and (r.action in (DELETE, MASK) or (r.action == RETAIN and r.masks)):
            changed.setdefault(r.dataset, []).append(tuple(r.key))
    return changed


def _index_tracked(ws: Workspace, con: Any, plan: ErasurePlan, src: str) -> dict[str, list[list[str]]]:
    """The rows of a DuckDB source whose lookup-index checksum is read before and after the writes (the refresh then
    moves the datasets' fingerprints by the difference instead of scanning them); none without an index."""
    if con.source.kind != "duckdb" or not index_path(ws).exists():
        return {}
    return {name: [[str(v) for v in k] for k in keys] for name, keys in _written(plan, src).items()
            if index_applies(ws, ws.datamap.datasets[name])}


def _checksums(ws: Workspace, con: Any, tracked: dict[str, list[list[str]]]) -> dict[str, tuple[int, int]]:
    return {name: key_checksum(con, ws.datamap.datasets[name], keys) for name, keys in tracked.items()}


def _refresh_index(ws: Workspace, plan: ErasurePlan, results: list[SourceResult]) -> None:
    """An erased identifier leaves the lookup index too (deleted rows drop out, masked rows hold the mask). Sources
    written by this run pass their rows' checksums (a source committed by an earlier run has none: scanned)."""
    refresh_lookup_index(ws, _written(plan), {n: c for r in results for n, c in r.checksums.items()})


def _complete(ws: Workspace, plan: ErasurePlan, results: list[SourceResult], identities: set[str], actor: str,
              t0: float, progress: bool) -> ErasureResult:
    """Ledger (schedule, restrictions, suppression), verification, certificate; a failure here leaves every source
    erased and the plan `failed`: a retry finishes these steps."""
    phase = FINISH
    try:
        scheduled, restricted, suppressed = _finalise(ws, plan)
        _refresh_index(ws, plan, results)
        phase = VERIFY
        verification = verify_plan(ws, plan, identities, progress=progress)
        phase = CERTIFY
        plan.status = DONE if verification.ok else UNVERIFIED
        plan.executed_by, plan.executed_at = actor, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        result = ErasureResult(plan, results, verification, None, scheduled, restricted, suppressed)
        path, cert_hash = issue(ws, result)
    except PrivacyOpsError as exc:
        plan.status = EXECUTING
        _fail(ws, plan, phase, exc, getattr(exc, "source", None), committed=[r.source for r in results])
    result.certificate_path = path
    plan.certificate = str(path)
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    set_status(ws, plan.plan_id, plan.status, ("erasure.execute", {
        **_audit_summary(plan), "status": plan.status, "verified": verification.ok,
        "problems": len(verification.problems), "remaining": verification.remaining,
        "sources": [s.source for s in results], "scheduled": scheduled, "restricted": restricted,
        "suppression_added": suppressed, "certificate_sha256": cert_hash,
        "elapsed_ms": round(result.elapsed_ms, 1), **audit_signature(plan.signatures.get("executed"))},
        plan.case_id), executed_at=plan.executed_at, certificate=str(path))
    return result


def _fail(ws: Workspace, plan: ErasurePlan, phase: str, exc: Exception, src: str | None = None,
          todo: dict[str, list[PlannedRow]] | None = None, current: dict[str, dict[str, Any]] | None = None,
          committed: list[str] = ()) -> NoReturn:
    """The plan becomes `failed` (audited: `erasure.failed`, names only) and the error says what to do."""
    failure = describe_failure(ws, plan, phase, exc, src, todo, current, list(committed))
    try:
        set_status(ws, plan.plan_id, FAILED, ("erasure.failed", failure.details, plan.case_id))
    except PrivacyOpsError:
        pass  # the ledger itself is out of reach: the plan stays executing (a re-run resumes); the message stands
    raise ExecutionFailed(failure.message) from None


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


def _refuse(ws: Workspace, plan: ErasurePlan, problems: list[str], committed: dict,
            why: str = "the data changed since planning") -> NoReturn:
    set_status(ws, plan.plan_id, REFUSED, ("erasure.refused", {"plan_id": plan.plan_id, "why": "stale",
                                                               "problems": len(problems),
                                                               "committed_sources": sorted(committed)}, plan.case_id))
    done = (f" Sources {', '.join(sorted(committed))} were already erased by this plan and stay so; a new plan "
            f"covers the rest.") if committed else " Nothing was changed."
    raise StalePlanError(f"plan {plan.plan_id} is stale — {why} ({len(problems)} "
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
