"""Reading planned rows again: before executing (is the plan stale?) and after (did it do what it said?)."""

from __future__ import annotations

import datetime as dt
import uuid
from contextlib import nullcontext
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Sequence

import pyarrow as pa
from tqdm.auto import tqdm

from ..errors import LookupInputError
from ..ledger.schedule import key_json
from ..lookup import AMBIGUOUS, FOUND, lookup, rows_holding_each
from ..map import EMAIL, DataMap, Dataset, Reference
from ..sources import CHUNK, Rows, type_family
from ..values import format_key
from ..workspace import Workspace
from .decide import map_place
from .plan import (
    BATCH,
    BLOCKED,
    DELETE,
    DUE,
    REQUEST,
    RETENTION,
    ErasurePlan,
    PlannedRow,
    fingerprint,
    row_key,
)
from .result import Verification

# ---------------------------------------------------------------------------------------------------------------
# Reading planned rows again.


def _same(a: Any, b: Any) -> bool:
    """Whether a stored value is the one the plan wrote (the plan's values come back from the ledger as JSON)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.rstrip() == b.rstrip()  # CHAR(n) pads
    if a == b:
        return True
    if isinstance(b, str) and a is not None:
        return _as_written(a, b)
    if isinstance(a, str) and b is not None:
        return _as_written(b, a)
    return False


def _as_written(stored: Any, text: str) -> bool:
    """A typed value the store holds against the text the plan wrote (a placeholder date, a decimal)."""
    try:
        if isinstance(stored, bool):
            return str(stored).lower() == text.strip().lower()
        if isinstance(stored, dt.datetime):
            written = dt.datetime.fromisoformat(text.strip())
            if stored.tzinfo is not None and written.tzinfo is None:
                stored = stored.replace(tzinfo=None)  # the store read the text in its session's time zone
            elif written.tzinfo is not None and stored.tzinfo is None:
                written = written.replace(tzinfo=None)
            return stored == written
        if isinstance(stored, dt.date):
            return stored == dt.date.fromisoformat(text.strip())
        if isinstance(stored, (int, float, Decimal)):
            return Decimal(str(stored)) == Decimal(text.strip())
    except (ValueError, InvalidOperation):
        return False
    return str(stored) == text


def _kept_same(cur: dict[str, Any], pr: PlannedRow, ignored: Callable[[], Iterable[str]]) -> bool:
    """Whether the columns a planned row keeps still hold what they held at planning, leaving out the columns the
    store writes itself (`ignored()`: asked only when needed). A plan made before maintained columns were left out
    compared them all."""
    base = [*pr.masks, *pr.withheld]
    if fingerprint(cur, skip=base) == pr.kept_fingerprint:
        return True
    return fingerprint(cur, skip=[*base, *ignored()]) == pr.kept_fingerprint


def not_compared(con, ds: Dataset) -> list[str]:
    """Columns verification does not compare: the map's `maintained` ones and the store's generated ones."""
    try:
        live = con.column_info(ds)
    except Exception:
        live = {}
    return sorted(set(ds.maintained) | {c for c, lc in live.items() if lc.generated})


def _update_triggers(con, ds: Dataset) -> list[str]:
    """The names of the enabled triggers that fire when a row of `ds` is updated."""
    try:
        return [t.name for t in con.triggers(ds) if t.enabled and "UPDATE" in t.events]
    except Exception:
        return []


def read_rows(con, ds: Dataset, keys: Iterable[tuple], columns: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Current rows by key (JSON) — set-based on the first key column, filtered for composite keys. `columns`:
    only these (with the key's), for a check that needs no more (whether a deleted row is still there)."""
    keys = list(keys)
    if not keys:
        return {}
    firsts = [k[0] for k in keys]
    got = (con.select_in(ds, ds.primary_key[0], firsts) if columns is None else
           select_columns(con, ds, ds.primary_key[0], firsts, [*ds.primary_key, *columns])).dicts()
    if len(ds.primary_key) == 1:  # every row read has one of the keys asked for: nothing to filter
        pk = ds.primary_key[0]
        return {key_json((r[pk],)): r for r in got}
    wanted = {key_json(k) for k in keys}
    out = {}
    for r in got:
        kj = key_json(row_key(ds, r))
        if kj in wanted:
            out[kj] = r
    return out


def select_columns(con, ds: Dataset, column: str, values: Iterable[Any], columns: Sequence[str]) -> Rows:
    """`select_in` reading only `columns` (distinct, in order): rows whose `column` holds one of `values`. Many
    values on a DuckDB engine travel as one Arrow table in one semi-join (as the connector's select_in), else
    IN lists of CHUNK values. Narrow rows are what checks of presence and references need: reading every column
    of tens of thousands of rows costs most of the time."""
    cols = list(dict.fromkeys(columns))
    vals = con.coerce(ds, column, values)
    out = Rows(cols, [])
    if not vals:
        return out
    head = f"SELECT {', '.join(con.quote(c) for c in cols)} FROM {con.relation(ds)} WHERE {con.quote(column)} IN "
    if con.source.kind in ("duckdb", "parquet", "csv") and len(vals) > CHUNK and \
            type_family(con.columns(ds).get(column, "")) in ("integer", "text"):
        try:
            table = pa.table({"v": vals})
        except (pa.ArrowException, TypeError, ValueError):
            table = None  # values Arrow cannot type alike: the IN lists below
        if table is not None:
            name = f"_privacyops_keys_{uuid.uuid4().hex[:8]}"
            con.con.register(name, table)
            try:
                return con.execute(f"{head}(SELECT v FROM {name})")
            finally:
                con.con.unregister(name)
    for i in range(0, len(vals), CHUNK):
        part = vals[i:i + CHUNK]
        out.rows.extend(con.execute(f"{head}({con._placeholders(len(part))})", part).rows)
    return out


def _state(pr: PlannedRow, cur: dict[str, Any] | None, ignored: Callable[[], Iterable[str]] = lambda: ()) -> str:
    """pre (as planned), post (as the plan leaves it), or what is wrong. `ignored()`: the columns the store writes
    itself, not compared in a row the plan left."""
    if pr.action == DELETE:
        if cur is None:
            return "post"
        return "pre" if fingerprint(cur, skip=pr.withheld) == pr.fingerprint else "changed"
    if cur is None:
        return "gone"
    if fingerprint(cur, skip=pr.withheld) == pr.fingerprint:
        return "pre"
    if all(_same(cur.get(c), m["value"]) for c, m in pr.masks.items()) and _kept_same(cur, pr, ignored):
        return "post"
    return "changed"


def _check_source(ws: Workspace, plan: ErasurePlan, src: str, con) -> tuple[dict[str, list[PlannedRow]], list[str],
                                                                             dict[str, dict[str, Any]]]:
    """(rows to apply per dataset, problems, current rows by rid) for one source, read through `con`."""
    dm = ws.datamap
    todo: dict[str, list[PlannedRow]] = {}
    problems: list[str] = []
    current: dict[str, dict[str, Any]] = {}
    by_ds: dict[str, list[PlannedRow]] = {}
    for pr in plan.rows:
        if pr.source == src and pr.action != BLOCKED:
            by_ds.setdefault(pr.dataset, []).append(pr)
    for name, prs in by_ds.items():
        ds = dm.datasets[name]
        now = read_rows(con, ds, [p.key for p in prs])
        ignored = _once(lambda ds=ds: not_compared(con, ds))
        for pr in prs:
            cur = now.get(pr.rid[1])
            st = _state(pr, cur, ignored)
            if cur is not None:  # other parties' fields are not the subject's (their e-mails are never searched)
                current[f"{name}\x00{pr.rid[1]}"] = {c: v for c, v in cur.items() if c not in pr.withheld} \
                    if pr.withheld else cur
            if st == "pre":
                todo.setdefault(name, []).append(pr)
            elif st != "post":
                problems.append(f"{pr.ref} {st} since planning")
    if plan.kind != DUE:
        problems += _new_children(ws, plan, src, con)
    return todo, problems, current


def _new_children(ws: Workspace, plan: ErasurePlan, src: str, con) -> list[str]:
    """Rows in `src` that belong to a planned row but are not in the plan (they appeared after planning)."""
    dm = ws.datamap
    planned = set(_planned_rids(plan))
    if plan.kind == RETENTION:  # rows listed as not erased (held) were known at planning
        planned |= {(n.dataset, key_json(n.key)) for n in plan.not_erased}
    keys_by_ds: dict[str, list[tuple]] = {}
    for pr in plan.rows:
        if pr.owner:  # what belongs to a row the subject only appears in is its owner's, not theirs
            keys_by_ds.setdefault(pr.dataset, []).append(pr.key)
    firsts = {name: {str(k[0]) for k in keys} for name, keys in keys_by_ds.items()}  # once, not once per row
    found: dict[str, int] = {}
    for child in dm.datasets.values():
        if child.source != src or (plan.kind == RETENTION and child.retention):
            continue  # a retention sweep leaves records with a rule of their own to that rule
        for ref in child.owner_references:
            parent = dm.datasets[ref.to_dataset]
            keys = keys_by_ds.get(parent.name)
            if not keys or parent.primary_key != (ref.to_column,):
                continue
            # the key and the references only: whether the row is planned, and whose it is (`_someone_elses`)
            for g in select_columns(con, child, ref.column, [k[0] for k in keys],
                                    [*child.primary_key, *(r.column for r in child.references)]).dicts():
                if (child.name, key_json(row_key(child, g))) not in planned and \
                        not _someone_elses(dm, child, ref, g, firsts):
                    found[child.name] = found.get(child.name, 0) + 1
    return [f"{n} new record(s) in {name} belong to planned records" for name, n in found.items()]


def _planned_rids(plan: ErasurePlan) -> frozenset[tuple[str, str]]:
    """The plan's rows as (dataset, key JSON): worked out once per plan (each source's check asks for them)."""
    got = plan.__dict__.get("_planned_rids")
    if got is None or got[0] is not plan.rows or got[1] != len(plan.rows):
        got = (plan.rows, len(plan.rows), frozenset(pr.rid for pr in plan.rows))
        plan.__dict__["_planned_rids"] = got
    return got[2]


def _someone_elses(dm: DataMap, child: Dataset, via: Reference, row: dict[str, Any],
                   firsts: dict[str, set[str]]) -> bool:
    """Whether `row`, reached through `via` from a planned row, is another person's: the reference that says whose
    it is (the owner party's, or one straight to a person) points at a row the plan is not about (the owner wins,
    as in the lookup). `firsts`: the planned rows' first key values (as text) per dataset."""
    if child.named_parties:
        if child.party_of_reference(via.column) is not None:
            return False  # the subject is a party of the row: a new row of theirs
        owner = child.owner_party
        deciding = [child.reference(owner.reference)] if owner is not None and owner.reference else []
    else:
        deciding = [d for d in dm.person_references(child) if d != via]
    for d in deciding:
        value = row.get(d.column)
        if value is not None and dm.datasets[d.to_dataset].primary_key == (d.to_column,) and \
                str(value) not in firsts.get(d.to_dataset, ()):
            return True
    return False


def _orphans_by_email(ws: Workspace, emails: Iterable[str], known: set[tuple[str, str]], *,
                      session: bool = True) -> dict[str, int]:
    """Rows of datasets without a subject that hold one of `emails` and belong to no one (as the lookup adds them
    to a person's records), other than `known` ones: one set-based query per dataset. `session=False`: inside the
    caller's session (its open write transactions stay open)."""
    emails = sorted(set(emails))
    out: dict[str, int] = {}
    if not emails:
        return out
    with ws.session() if session else nullcontext():
        held = rows_holding_each(ws, [ds for ds in ws.datamap.datasets.values()  # the lookup index's one probe
                                      if ds.identity_columns(EMAIL) and not ds.subject], EMAIL, emails)
        for name, rows in held.items():
            ds = ws.datamap.datasets[name]
            for r in rows:
                if any(r.get(ref.column) is not None for ref in ds.owner_references):
                    continue  # it belongs to a person: the key checks and the children's walk cover it
                if (ds.name, key_json(row_key(ds, r))) not in known:
                    out[ds.name] = out.get(ds.name, 0) + 1
    return out


def _new_by_lookup(ws: Workspace, plan: ErasurePlan) -> list[str]:
    """Records the lookup now finds for the plan's subject that the plan does not list (single requests; batches
    rely on the set-based checks: every planned parent's children, and e-mail holders without an owner)."""
    if plan.kind != REQUEST:
        return []
    planned = {pr.rid for pr in plan.rows} | {(n.dataset, key_json(n.key)) for n in plan.not_erased}
    out: dict[str, int] = {}
    for s in plan.subjects:
        if not s.get("ref"):
            continue
        try:
            got = lookup(ws, pick=s["ref"], mentions=False, audit_log=False)
        except LookupInputError:
            continue  # the person row is gone (an earlier run of this plan deleted it)
        for name, recs in got.records.items():
            for k in recs.keys():
                if (name, key_json(k)) not in planned:
                    out[name] = out.get(name, 0) + 1
    return [f"{n} record(s) in {name} of the subject are not in the plan (new since planning)"
            for name, n in out.items()]


# ---------------------------------------------------------------------------------------------------------------
# Verification.


def _once(ask: Callable[[], Any]) -> Callable[[], Any]:
    """`ask`, run at most once (a catalog question asked only when a row needs the answer)."""
    got: list[Any] = []

    def answer() -> Any:
        if not got:
            got.append(ask())
        return got[0]

    return answer


def _row_problems(dm: DataMap, ds: Dataset, pr: PlannedRow, cur: dict[str, Any], ignored: Callable[[], Any],
                  triggers: Callable[[], list[str]]) -> list[str]:
    """What is wrong with a row the plan left: a masked field not holding its masked value (a trigger rewrote it:
    said so), kept fields changed (a trigger keeping a column current: the map can say so with `maintained`)."""
    out = []
    for c, m in pr.masks.items():
        if _same(cur.get(c), m["value"]):
            continue
        if triggers():
            out.append(f"the store changed {ds.name}.{c} after it was masked: a trigger ({', '.join(triggers())}) "
                       f"rewrites it; erasure cannot keep it masked — check the trigger ({pr.ref})")
        else:
            out.append(f"{pr.ref} field {c} does not hold its masked value ({m['strategy']})")
    if pr.kept_fingerprint and not _kept_same(cur, pr, ignored):
        if triggers():
            where = map_place(dm, f"datasets.{ds.name}.maintained", f"datasets.{ds.name}")
            out.append(f"{pr.ref}: the fields it keeps changed after erasure wrote it; the store runs trigger(s) "
                       f"({', '.join(triggers())}) when {ds.name} is updated: if they keep a column current (a "
                       f"last_update stamp), list it under maintained: in the map ({where}), e.g. maintained: "
                       f"[last_update], so that verification does not compare it")
        else:
            out.append(f"{pr.ref}: the fields it keeps changed")
    return out


def verify_plan(ws: Workspace, plan: ErasurePlan, emails: Iterable[str] = (), *,
                progress: bool = False) -> Verification:
    """Read every planned row back, then look the subject(s) up again: only planned rows that stay may remain,
    deleted ones must be gone, masked fields must hold their masked values."""
    dm = ws.datamap
    problems: list[str] = []
    remaining: dict[str, int] = {}
    checked = 0
    stays = {pr.rid for pr in plan.rows if pr.stays}
    with ws.session():
        by_ds: dict[str, list[PlannedRow]] = {}
        for pr in plan.rows:
            by_ds.setdefault(pr.dataset, []).append(pr)
        for name, prs in by_ds.items():
            ds = dm.datasets[name]
            con = ws.connector(ds.source)
            # rows that all go: whether they are still there is the check, read by key alone
            gone = all(pr.action == DELETE for pr in prs)
            now = read_rows(con, ds, [p.key for p in prs], [] if gone else None)
            ignored = _once(lambda con=con, ds=ds: not_compared(con, ds))
            triggers = _once(lambda con=con, ds=ds: _update_triggers(con, ds))
            for pr in prs:
                checked += 1
                cur = now.get(pr.rid[1])
                if pr.action == DELETE:
                    if cur is not None:
                        problems.append(f"{pr.ref} should be deleted but is still there")
                    continue
                if cur is None:
                    problems.append(f"{pr.ref} should remain ({pr.action}) but is gone")
                    continue
                remaining[name] = remaining.get(name, 0) + 1
                if pr.action == BLOCKED:
                    continue
                problems += _row_problems(dm, ds, pr, cur, ignored, triggers)
    lookups = 0
    if plan.kind not in (DUE, RETENTION):  # no subjects: the rows read back are the check
        emails = sorted(set(emails))
        refs = {s.get("ref") for s in plan.subjects if s.get("ref")}
        if plan.kind == BATCH:  # many subjects: the lookup by reference where the person row stays, and one
            # set-based scan for rows still holding their e-mail addresses instead of one lookup per address
            known = stays | {(n.dataset, key_json(n.key)) for n in plan.not_erased}
            for name, n in _orphans_by_email(ws, emails, known).items():
                problems.append(f"{n} record(s) in {name} still hold an erased subject's e-mail address")
            refs = {pr.subject for pr in plan.rows if pr.subject and pr.stays and
                    pr.ref == pr.subject}
            emails = []
        queries = [("pick", r) for r in sorted(refs)] + [("id", e) for e in emails]
        for how, q in tqdm(queries, desc="verifying", unit="lookup", disable=not progress):
            try:
                got = lookup(ws, pick=q, mentions=False, audit_log=False) if how == "pick" else \
                    lookup(ws, q, mentions=False, audit_log=False)
            except LookupInputError:
                continue  # the person row is gone: nothing to find by it
            lookups += 1
            if got.status == AMBIGUOUS:
                gone = [c.ref for c in got.candidates if c.ref in refs and
                        (c.dataset, key_json(c.key)) not in stays]
                problems += [f"{r} is still found by one of the subject's e-mail addresses" for r in gone]
                continue
            if got.status != FOUND or (got.subject and got.subject.ref not in refs):
                continue  # nothing, or another person holding the same address
            for name, recs in got.records.items():
                extra = [k for k in recs.keys() if (name, key_json(k)) not in stays]
                if extra:
                    problems.append(f"the lookup still finds {len(extra)} record(s) in {name} that the plan "
                                    f"did not keep ({', '.join(format_key(k) for k in extra[:5])})")
    return Verification(not problems, checked, remaining, lookups, problems)
