"""Planning an erasure request: find the subject (never shared reference data, not even picked), decide every
record (decide.py), hold what belongs to held rows (holds_cover.py), settle what belongs to what (settle.py), store
the plan; suppression for those who objected or withdrew consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..ledger import audit, cases, holds, ledger_exists, open_ledger, suppression
from ..ledger.people import PREPARER, acting_person, audit_signature, sign_as
from ..ledger.schedule import key_json
from ..ledger.keyring import workspace_key
from ..ledger.store import holding_ledger
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..map import EMAIL
from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash
from .canonical import no_collection
from .decide import Decider
from .holds_cover import cover_holds
from .holds_resolve import identity_values
from .parties import for_party
from .plan import (
    CONTEXT_NOTE,
    MENTION_NOTE,
    REQUEST,
    SHARED_NOTE,
    ErasureError,
    ErasurePlan,
    NotErased,
    PlannedRow,
    _as_date,
    _audit_summary,
    _new_plan_id,
    _ordered,
    row_key,
    save_plan,
)
from .settle import settle
from .verify import read_rows

# ---------------------------------------------------------------------------------------------------------------
# Planning a request.


def _subject_forms(ws: Workspace, records: SubjectRecords) -> tuple[set[str], set[str], set[str]]:
    """(hold forms, e-mails, other identity values) of the subject, from its records (`holds_resolve` computes the
    forms a hold stores the same way, so a hold on the person matches this plan)."""
    digits = ws.datamap.settings.phone_match_digits
    forms: set[str] = set()
    emails: set[str] = set()
    values: set[str] = set()
    if records.subject:
        forms.add("ref:" + records.subject.ref)
    for kind, v in identity_values(ws.datamap, records):
        if kind == EMAIL:
            emails.add(v.lower())
        else:
            values.add(v)
        forms |= holds.identifier_forms(v, digits)
    return forms, emails, values


def _reference_data(ws: Workspace, records: SubjectRecords) -> str | None:
    """Why the picked record is never erased for one person, or None. Shared reference data (a product catalogue)
    is a dataset of nobody's (no subject) that other records point at only through `shared` references; a row of
    nobody's that some record points at through a shared reference is shown as context in those people's lookups.
    Either is other people's data too: a pick of it is refused, not planned for deletion."""
    picked = records.subject
    dm = ws.datamap
    if picked is None or "pick" not in picked.matched_on or dm.datasets[picked.dataset].subject:
        return None
    ds = dm.datasets[picked.dataset]
    into = [r for d in dm.datasets.values() for r in d.references if r.to_dataset == ds.name]
    shown = False
    if into and not all(r.shared for r in into):
        row = next(iter(records.records[ds.name].rows), {}) if ds.name in records.records else {}
        for r in (r for r in into if r.shared and row.get(r.to_column) is not None):
            child = dm.datasets[r.dataset]
            if ws.connector(child.source).select_in(child, r.column, [row[r.to_column]]).dicts():
                shown = True
                break
    if not into or not (shown or all(r.shared for r in into)):
        return None
    return (f"{picked.ref} is shared reference data (other people's records point at it): it is never erased for "
            f"one person; pick the person instead")


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
    refused = _reference_data(ws, records)
    if refused:
        raise ErasureError(refused)
    return records


def stored_rows(ws: Workspace, decider: Decider, people: list[SubjectRecords]) -> dict[str, dict[str, dict]]:
    """For a batch: the stored rows (dataset -> key JSON -> row) of every dataset whose found rows have other
    people's fields withheld, for all subjects in one read per dataset; and the referenced anchor dates of every
    subject's rows, one query per dataset (so that deciding subject by subject never queries)."""
    dm = ws.datamap
    wanted: dict[str, list[tuple]] = {}
    for recs in people:
        for name, found in recs.records.items():
            if found.with_others:
                wanted.setdefault(name, []).extend(found.keys())
    stored = {name: read_rows(ws.connector(dm.datasets[name].source), dm.datasets[name], keys)
              for name, keys in wanted.items()}
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for recs in people:
        for name, found in recs.records.items():
            ds = dm.datasets[name]
            mine = stored.get(name, {})
            by_ds.setdefault(name, []).extend((mine.get(key_json(row_key(ds, r)), r) for r in found.rows) if mine
                                              else found.rows)
    for name, rows in by_ds.items():
        decider.anchor_dates(dm.datasets[name], rows)
    return stored


def subject_plan_rows(ws: Workspace, decider: Decider, records: SubjectRecords,
                      data_out: dict[tuple[str, str], dict[str, Any]] | None = None,
                      stored: dict[str, dict[str, dict]] | None = None,
                      ) -> tuple[list[PlannedRow], list[NotErased], dict[str, Any], set[str]]:
    """Decide every record of one looked-up subject. Returns (rows, not erased, subject entry, e-mails). With
    `data_out` the rows' content is put there and references are left to the caller's `Decider.settle` (a batch
    settles all subjects at once). `stored` (from `stored_rows`): the batch's rows as stored, read already."""
    forms, emails, _ = _subject_forms(ws, records)
    hold_hashes = holds.key_hashes(ws, forms)
    decider.set_holds(hold_hashes)
    ref = records.subject.ref if records.subject else None
    rows: dict[tuple[str, str], PlannedRow] = {}
    data: dict[tuple[str, str], dict[str, Any]] = {}
    not_erased: list[NotErased] = []
    refused = _reference_data(ws, records)  # a batch's pick of reference data: listed, never planned
    for name, recs in records.records.items():
        if refused:
            not_erased += [NotErased(name, k, f"not erased: {refused}", ref) for k in recs.keys()]
            continue
        ds = ws.datamap.datasets[name]
        # Rows with other people in them show their fields withheld: decide on the stored row (a retention anchor
        # may be another party's field); the plan keeps only the subject's part (masks, hashes).
        if not recs.with_others:
            mine: dict[str, dict[str, Any]] = {}
        elif stored is not None:
            mine = stored.get(name, {})
        else:
            mine = read_rows(ws.connector(ds.source), ds, recs.keys())
        rows_of = [mine.get(key_json(row_key(ds, shown)), shown) for shown in recs.rows] if mine else recs.rows
        decider.anchor_dates(ds, rows_of)  # dates through a reference: one query per dataset, not per row
        for i, r in enumerate(rows_of):
            pr = for_party(decider, decider.decide(ds, r, subject=ref), ds, r, recs, i)
            if isinstance(pr, NotErased):
                not_erased.append(pr)
                continue
            rows[pr.rid] = pr
            data[pr.rid] = r
    if data_out is None:
        cover_holds(decider, rows, data)  # what belongs to held rows is held with them; then settle around it
        settle(decider, rows, data)
    else:
        data_out.update(data)
    for name, recs in records.shared.items():
        not_erased += [NotErased(name, k, SHARED_NOTE, ref) for k in recs.keys()]
    for name, recs in records.context.items():
        not_erased += [NotErased(name, k, CONTEXT_NOTE, ref) for k in recs.keys()]
    for m in records.mentions:
        not_erased.append(NotErased(m.dataset, tuple(m.key), MENTION_NOTE, ref, m.field))
    secret = workspace_key(ws)
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


@holding_ledger  # one opening of an embedded ledger for the steps' reads and writes
def plan_erasure(ws: Workspace, case_id: str, identifier: str | None = None, *, pick: str | None = None,
                 as_of: dt.date | str | None = None, suppress: str | None = None, save: bool = True) -> ErasurePlan:
    """Look the subject up and decide every record (see the module docstring). The plan is stored in the ledger
    (status `planned`) unless `save=False`; nothing in the sources changes."""
    as_of = _as_date(as_of)
    _check_case(ws, case_id)
    acting = acting_person(ws, PREPARER, action="prepare an erasure plan") if save else None
    actor = current_actor()
    _check_preparer(ws, actor)
    # A subject of 70k rows makes about a million objects, none in cycles: the collector paused as for a batch.
    with no_collection():
        records = _find(ws, identifier, pick, case_id)
        try:
            decider = Decider(ws, as_of, datasets=records.records)
            rows, not_erased, entry, emails = subject_plan_rows(ws, decider, records)
        finally:
            # Readers closed now (another process may write next), or kept for the next step under keep_open
            # (the panels: the approve and execute that follow would reopen the ledger, index and sources).
            ws.release()
    plan = ErasurePlan(plan_id=_new_plan_id(REQUEST), kind=REQUEST, case_id=case_id, as_of=as_of,
                       map_fingerprint=ws.datamap.fingerprint, rows=_ordered(ws.datamap, rows), subjects=[entry],
                       not_erased=not_erased, prepared_by=actor,
                       prepared_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    plan.suppression = _suppression(ws, [entry], suppress, [emails])
    plan.plan_hash = plan.compute_hash()
    plan.signatures["prepared"] = sign_as(acting, actor, "erasure.prepare", plan_id=plan.plan_id,
                                          plan_hash=plan.plan_hash)
    if save:
        save_plan(ws, plan, {**_audit_summary(plan), **audit_signature(plan.signatures["prepared"])},
                  subject=identifier or pick)
    return plan


__all__ = ["Decider", "plan_erasure", "stored_rows", "subject_plan_rows"]
