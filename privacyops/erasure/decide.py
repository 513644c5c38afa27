"""Deciding an erasure (Art. 17): for every record of a subject, the action and its reason — before anything
changes.

`plan_erasure(ws, case_id, identifier)` looks the person up (the same `lookup()` as everywhere) and decides, row
by row:

* **blocked** — an active legal hold covers the subject or the dataset; or a binding retention rule has not
  started counting (its anchor date is empty: `from: closed_at` while the contract runs). Untouched; scheduled to
  be looked at again.
* **retain** — a *binding* rule (the dataset serves a legal-obligation purpose, `retention.is_binding`) still
  runs: the record stays until the rule's date, keeping only `erasure.keep_fields` (and the primary key; all of it
  when the map names none), the other fields masked, and it is **restricted** (Art. 18) and scheduled for erasure
  the day after. Records that belong to a retained record and serve the same obligation without a rule of their
  own (invoice lines) are kept with it.
* **mask** — the dataset's erasure policy is `mask`: the row stays (other records point at it), the fields in
  `erasure.mask` get their strategy (null | redact | hmac), the rest stays.
* **delete** — everything else: the policy says delete, a non-binding rule is only a maximum storage period, or a
  binding rule has ended. Rows that belong to a deleted row go with it.

A row to be deleted that rows staying behind still reference, in a store that *enforces* that reference (a
declared foreign key), is kept instead, minimised to its key and restricted until the rows referencing it go.
Rows the lookup shows as shared with another person, reference data (context) and other people's rows mentioning
the subject are never touched; the plan lists them for review.

The plan (`erasure_plan.ErasurePlan`) is stored in the ledger; nothing changes until a second person approves it
(`erasure_plan.approve_plan`) and someone executes it (`erasure.execute_plan`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from ..ledger import audit, cases, holds, ledger_exists, open_ledger, suppression
from ..ledger.schedule import key_json
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..map import EMAIL, NAME, Dataset, Reference
from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash, workspace_secret
from . import masking, retention
from .plan import (
    B_ANCHOR,
    B_HOLD,
    B_REFERENCED,
    B_RETENTION,
    B_WITH,
    BLOCKED,
    CONTEXT_NOTE,
    DELETE,
    MASK,
    MENTION_NOTE,
    REQUEST,
    RETAIN,
    SHARED_NOTE,
    ErasureError,
    ErasurePlan,
    NotErased,
    PlannedRow,
    _as_date,
    _audit_summary,
    _new_plan_id,
    _ordered,
    dataset_order,
    fingerprint,
    row_key,
    save_plan,
)

# ---------------------------------------------------------------------------------------------------------------
# Deciding.


class Decider:
    """Decides rows of one plan: holds, binding retention, the dataset's policy, then references."""

    def __init__(self, ws: Workspace, as_of: dt.date, hold_hashes: Iterable[str] = (),
                 datasets: Iterable[str] | None = None):
        self.ws, self.dm, self.as_of = ws, ws.datamap, as_of
        self.secret = workspace_secret(ws.keys_dir)
        names = list(datasets) if datasets is not None else list(self.dm.datasets)
        self._active = holds.active_holds(ws)  # read once; subjects are matched in memory
        self.subject_holds, self.dataset_holds = holds.match(self._active, hold_hashes, names, as_of)
        self._infos: dict[str, dict[str, masking.ColumnInfo]] = {}
        self._fks: dict[str, list[masking.ForeignKey]] = {}

    def set_holds(self, hold_hashes: Iterable[str]) -> None:
        self.subject_holds, _ = holds.match(self._active, hold_hashes, [], self.as_of)

    def con(self, ds: Dataset):
        return self.ws.connector(ds.source)

    def info(self, ds: Dataset) -> dict[str, masking.ColumnInfo]:
        if ds.name not in self._infos:
            self._infos[ds.name] = masking.column_info(self.con(ds), ds)
        return self._infos[ds.name]

    def fks(self, ds: Dataset) -> list[masking.ForeignKey]:
        if ds.name not in self._fks:
            self._fks[ds.name] = masking.foreign_keys(self.con(ds), ds)
        return self._fks[ds.name]

    def enforced(self, ref: Reference) -> bool:
        """Whether the store enforces `ref` (a foreign key declared on the referencing column, same store)."""
        child, parent = self.dm.datasets[ref.dataset], self.dm.datasets[ref.to_dataset]
        if child.source != parent.source:
            return False
        con = self.con(child)
        return any(fk.column == ref.column and masking.fk_matches(fk, con, parent) for fk in self.fks(child))

    # -- masking --------------------------------------------------------------------------------------------------
    def apply_masks(self, pr: PlannedRow, ds: Dataset, row: dict[str, Any], keep: set[str] | None,
                    targets: set[str] | None = None, why: str = "") -> None:
        """Fill `pr.masks` / `pr.kept`: with `keep`, every other column is masked; with `targets`, only those."""
        info = self.info(ds)
        policy = ds.erasure.mask
        pk = set(ds.primary_key)
        pr.masks, pr.kept = {}, []
        for col in row:
            masked = (col not in keep) if keep is not None else (col in (targets or set()))
            if col in pk or not masked:
                pr.kept.append(col)
                continue
            ci = info.get(col, masking.ColumnInfo("other"))
            value, strategy, note = masking.masked_value(policy.get(col), row[col], ci, self.secret)
            if strategy == "kept":
                pr.kept.append(col)
                pr.notes.append(f"{col}: {note}")
                continue
            reason = f"map: {policy[col]}" if col in policy else why
            pr.masks[col] = {"value": value, "strategy": strategy, "reason": reason, **({"note": note} if note
                                                                                          else {})}
        pr.kept_fingerprint = fingerprint(row, skip=pr.masks)

    def keep_set(self, ds: Dataset, row: dict[str, Any]) -> set[str]:
        """Columns a retained record keeps: the primary key and `keep_fields`; all of them when none are named
        (the map does not say what the obligation needs, so the whole record is kept)."""
        if not ds.erasure.keep_fields:
            return set(row)
        return set(ds.primary_key) | set(ds.erasure.keep_fields)

    # -- one row on its own ---------------------------------------------------------------------------------------
    def decide(self, ds: Dataset, row: dict[str, Any], subject: str | None = None) -> PlannedRow:
        key = row_key(ds, row)
        pr = PlannedRow(ds.name, ds.source, key, DELETE, "", subject=subject, fingerprint=fingerprint(row))
        hold = self.dataset_holds.get(ds.name) or (self.subject_holds[0] if self.subject_holds else None)
        rule = retention.binding_rule(self.dm, ds)
        if hold is not None:
            self._block(pr, f"blocked by {hold.describe()}", f"{B_HOLD}: {hold.hold_id} {hold.reason}")
            pr.hold_id = hold.hold_id
            return pr
        if rule is not None:
            pr.rule, pr.ground = rule.name, rule.ground
            try:
                until = retention.retained_until(rule, row, self.dm.settings)
            except retention.AnchorError as exc:
                until = None
                pr.notes.append(f"{rule.anchor.field}: {exc}")
            if until is None:
                self._block(pr, f"blocked: retention anchor not reached — {rule.name} keeps {rule.keep} from "
                                f"{rule.anchor}, and {rule.anchor.field} is empty ({rule.ground})",
                            f"{B_ANCHOR}: {rule.name} from {rule.anchor} ({rule.ground})")
                return pr
            if self.as_of <= until:
                self.retain(pr, ds, row, until, f"retained until {until}: {rule.name} — {rule.keep} from "
                                                f"{rule.anchor} ({rule.ground}); restricted (Art. 18)",
                            f"{B_RETENTION}: {rule.name} — {rule.ground}", why=f"not needed by {rule.name}")
                return pr
            pr.until = until
            pr.reason = f"retention ended {until} ({rule.name}: {rule.ground})"
            return pr
        return self.by_policy(pr, ds, row)

    def by_policy(self, pr: PlannedRow, ds: Dataset, row: dict[str, Any]) -> PlannedRow:
        pr.action, pr.until, pr.due_on, pr.restricted, pr.scheduled = DELETE, None, None, False, False
        if ds.erasure.action == "mask":
            targets = set(ds.erasure.mask) - set(ds.primary_key) - set(ds.erasure.keep_fields)
            pr.action = MASK
            pr.reason = ("erasure policy: mask " + (", ".join(sorted(targets)) if targets else "(nothing to mask)")
                         + "; the row stays")
            self.apply_masks(pr, ds, row, keep=None, targets=targets, why="map")
            return pr
        pr.masks, pr.kept = {}, []
        pr.reason = "erasure policy: delete"
        if ds.retention and ds.retention in self.dm.retention:
            r = self.dm.retention[ds.retention]
            pr.reason += f" ({r.name}: {r.keep} from {r.anchor} is a maximum, not a legal obligation to keep)"
        return pr

    def retain(self, pr: PlannedRow, ds: Dataset, row: dict[str, Any], until: dt.date | None, reason: str,
               basis: str, why: str, keep: set[str] | None = None) -> None:
        pr.action, pr.until, pr.reason, pr.basis = RETAIN, until, reason, basis
        pr.due_on = retention.erasable_from(until) if until else None
        pr.restricted, pr.scheduled = True, True
        self.apply_masks(pr, ds, row, keep=self.keep_set(ds, row) if keep is None else keep, why=why)

    def _block(self, pr: PlannedRow, reason: str, basis: str) -> None:
        pr.action, pr.reason, pr.basis = BLOCKED, reason, basis
        pr.masks, pr.kept, pr.scheduled, pr.until, pr.due_on = {}, [], True, None, None

    # -- rows together: what belongs to what, what still points at what -------------------------------------------
    def settle(self, rows: dict[tuple[str, str], PlannedRow], data: dict[tuple[str, str], dict[str, Any]],
               inherit: bool = True) -> None:
        """Top-down: rows that belong to a kept record and serve its obligation stay with it; rows of a deleted
        record go with it. Bottom-up: a row to be deleted that rows staying behind reference through an enforced
        foreign key is kept, minimised."""
        dm = self.dm
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
                    row = data[pr.rid]
                    parents = parents_of(ds, row)
                    kept = [p for p in parents if p.action in (RETAIN, BLOCKED)]
                    same_duty = retention.is_binding(dm, ds) and not ds.retention
                    if kept and same_duty:
                        p = max(kept, key=lambda p: (p.action == BLOCKED, p.until or dt.date.max))
                        if p.action == BLOCKED:  # the parent's kind of basis: looked at again with it
                            self._block(pr, f"kept with {p.ref}, which is blocked ({p.reason})",
                                        f"{p.basis} (kept with {p.dataset})")
                        else:
                            pr.rule, pr.ground = p.rule, p.ground
                            self.retain(pr, ds, row, p.until, f"kept with {p.ref} until {p.until} ({p.rule}: "
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
            pointing = self.referencing(ds, [data[pr.rid] for pr in deletes], rows)
            for pr in deletes:
                row = data[pr.rid]
                refs = [(ref, rid, other) for ref, value, rid, other in pointing
                        if str(row.get(ref.to_column)) == value]
                if not refs:
                    continue
                enforced = [(ref, rid, other) for ref, rid, other in refs if self.enforced(ref)]
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
                self.retain(pr, ds, row, until, f"kept, minimised to its key: {what} reference it and the store "
                                                f"enforces the link ({', '.join(fk)}); restricted (Art. 18)",
                            f"{B_REFERENCED}: by {', '.join(fk)}", why="minimised",
                            keep=set(ds.primary_key) | extra)  # the key and what the references need, nothing more

    def referencing(self, ds: Dataset, deleted: list[dict[str, Any]], rows: dict[tuple[str, str], PlannedRow]):
        """Rows that reference `deleted` rows of `ds` and are not themselves deleted by the plan:
        [(reference, referenced value as text, (dataset, key json), planned row or None)]."""
        out = []
        for other in self.dm.datasets.values():
            for ref in other.references:
                if ref.to_dataset != ds.name:
                    continue
                values = {r.get(ref.to_column) for r in deleted if r.get(ref.to_column) is not None}
                if not values:
                    continue
                got = self.ws.connector(other.source).select_in(other, ref.column, values).dicts()
                for g in got:
                    rid = (other.name, key_json(row_key(other, g)))
                    planned = rows.get(rid)
                    if planned is not None and planned.action == DELETE:
                        continue
                    out.append((ref, str(g.get(ref.column)), rid, planned))
        return out


# ---------------------------------------------------------------------------------------------------------------
# Planning a request.


def _subject_forms(ws: Workspace, records: SubjectRecords) -> tuple[set[str], set[str], set[str]]:
    """(hold forms, e-mails, other identity values) of the subject, from its records."""
    dm = ws.datamap
    digits = dm.settings.phone_match_digits
    forms: set[str] = set()
    emails: set[str] = set()
    values: set[str] = set()
    if records.subject:
        forms.add("ref:" + records.subject.ref)
    for name, recs in records.records.items():
        ds = dm.datasets[name]
        for kind, cols in ds.identities.items():
            if kind == NAME:
                continue
            for r in recs.rows:
                for c in cols:
                    v = r.get(c)
                    if v in (None, ""):
                        continue
                    if kind == EMAIL:
                        emails.add(str(v).strip().lower())
                    else:
                        values.add(str(v).strip())
                    forms |= holds.identifier_forms(str(v), digits)
    return forms, emails, values


def _check_case(ws: Workspace, case_id: str) -> cases.Case:
    case = cases.get_case(ws, case_id)
    if case.type != "erasure":
        raise ErasureError(f"case {case_id} is a {case.type} case; erasure needs an erasure case "
                           f"(privacyops case open --type erasure ...)")
    if case.status != cases.OPEN:
        raise ErasureError(f"case {case_id} is {case.status}; erasure needs an open case")
    return case


def _check_preparer(ws: Workspace, actor: str) -> None:
    roles = ws.datamap.roles
    if roles.preparers and actor not in roles.preparers:
        raise ErasureError(f"{actor} may not prepare erasure plans; roles.preparers in the map: "
                           f"{', '.join(roles.preparers)}")


def _find(ws: Workspace, identifier: str | None, pick: str | None, case_id: str | None) -> SubjectRecords:

    records = lookup(ws, identifier, pick=pick, case_id=case_id, mentions=True)
    if records.status == AMBIGUOUS:
        raise ErasureError(f"{len(records.candidates)} people match {records.query!r}; pick one with --pick REF: "
                           + ", ".join(f"{c.ref} ({c.label})" for c in records.candidates[:10]))
    if records.status != FOUND:
        raise ErasureError(f"no records found for {records.query!r}: nothing to erase")
    return records


def subject_plan_rows(ws: Workspace, decider: Decider, records: SubjectRecords,
                      data_out: dict[tuple[str, str], dict[str, Any]] | None = None,
                      ) -> tuple[list[PlannedRow], list[NotErased], dict[str, Any], set[str]]:
    """Decide every record of one looked-up subject. Returns (rows, not erased, subject entry, e-mails). With
    `data_out` the rows' content is put there and references are left to the caller's `Decider.settle` (a batch
    settles all subjects at once)."""
    forms, emails, _ = _subject_forms(ws, records)
    hold_hashes = holds.key_hashes(ws, forms)
    decider.set_holds(hold_hashes)
    ref = records.subject.ref if records.subject else None
    rows: dict[tuple[str, str], PlannedRow] = {}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    for name, recs in records.records.items():
        ds = ws.datamap.datasets[name]
        for r in recs.rows:
            pr = decider.decide(ds, r, subject=ref)
            rows[pr.rid] = pr
            data[pr.rid] = r
    if data_out is None:
        decider.settle(rows, data)
    else:
        data_out.update(data)
    not_erased: list[NotErased] = []
    for name, recs in records.shared.items():
        not_erased += [NotErased(name, k, SHARED_NOTE, ref) for k in recs.keys()]
    for name, recs in records.context.items():
        not_erased += [NotErased(name, k, CONTEXT_NOTE, ref) for k in recs.keys()]
    for m in records.mentions:
        not_erased.append(NotErased(m.dataset, tuple(m.key), MENTION_NOTE, ref, m.field))
    secret = workspace_secret(ws.keys_dir)
    entry = {"ref": ref, "ref_hash": audit.subject_hash(ws, ref) if ref else None,
             "hold_hashes": sorted(hold_hashes),
             "email_hashes": sorted(keyed_hash(secret, e, "suppress") for e in emails)}
    return list(rows.values()), not_erased, entry, emails


def _suppression(ws: Workspace, subjects: list[dict[str, Any]], reason: str | None,
                 emails_by_subject: list[set[str]]) -> dict[str, Any]:
    """Which suppression entries the erasure keeps (already listed) and adds (withdrawal or objection recorded:
    `reason` given, or a consent-withdrawal / objection case on record for the subject). One ledger read."""

    if reason is not None and reason not in suppression.REASONS:
        raise ErasureError(f"suppression reason '{reason}' is not allowed; use: {', '.join(suppression.REASONS)}")
    listed: set[str] = set()
    cases_by_hash: dict[str, set[str]] = {}
    wanted = sorted({h for s in subjects for h in s["email_hashes"]})
    if ledger_exists(ws):
        with open_ledger(ws) as con:
            for i in range(0, len(wanted), 500):
                part = wanted[i:i + 500]
                listed |= {h for (h,) in con.execute(
                    f"SELECT email_hash FROM suppression WHERE email_hash IN ({', '.join('?' for _ in part)})",
                    part).fetchall()}
            for t, h in con.execute("SELECT type, subject_hash FROM cases WHERE type IN ('consent-withdrawal', "
                                    "'objection') AND subject_hash IS NOT NULL").fetchall():
                cases_by_hash.setdefault(h, set()).add(t)
    keep, add, auto_reason = set(), set(), None
    for s, emails in zip(subjects, emails_by_subject):
        mine = set(s["email_hashes"])
        keep |= mine & listed
        why = reason
        if why is None and cases_by_hash:
            hashes = {audit.subject_hash(ws, e) for e in emails} | ({audit.subject_hash(ws, s["ref"])}
                                                                      if s.get("ref") else set())
            types = set().union(*(cases_by_hash.get(h, set()) for h in hashes))
            why = "objection" if "objection" in types else "withdrawal" if types else None
        if why:
            auto_reason = auto_reason or why
            add |= mine - listed
    return {"reason": reason or auto_reason, "keep": sorted(keep), "add": sorted(add)}


def plan_erasure(ws: Workspace, case_id: str, identifier: str | None = None, *, pick: str | None = None,
                 as_of: dt.date | str | None = None, suppress: str | None = None, save: bool = True) -> ErasurePlan:
    """Look the subject up and decide every record (see the module docstring). The plan is stored in the ledger
    (status `planned`) unless `save=False`; nothing in the sources changes."""
    as_of = _as_date(as_of)
    _check_case(ws, case_id)
    actor = current_actor()
    _check_preparer(ws, actor)
    records = _find(ws, identifier, pick, case_id)
    try:
        decider = Decider(ws, as_of, datasets=records.records)
        rows, not_erased, entry, emails = subject_plan_rows(ws, decider, records)
    finally:
        ws.close()
    plan = ErasurePlan(plan_id=_new_plan_id(REQUEST), kind=REQUEST, case_id=case_id, as_of=as_of,
                       map_fingerprint=ws.datamap.fingerprint, rows=_ordered(ws.datamap, rows), subjects=[entry],
                       not_erased=not_erased, prepared_by=actor,
                       prepared_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    plan.suppression = _suppression(ws, [entry], suppress, [emails])
    plan.plan_hash = plan.compute_hash()
    if save:
        save_plan(ws, plan)
        audit.record(ws, "erasure.plan", _audit_summary(plan), case_id=case_id, subject=identifier or pick)
    return plan


__all__ = ["Decider", "plan_erasure", "subject_plan_rows"]
