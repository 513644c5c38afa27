"""Subject lookup: from one identifier to every record about that person, across every dataset.

The walk (see docs/datamap.md): seeds through identity fields -> up the belongs-to references to the person
(people.py) -> down again to everything that belongs to that person -> rows of subject-less datasets holding the
person's e-mails/phones -> one step along shared references for context (records.py) -> free-text mentions elsewhere
(mentions.py). Every step is one set-based query per dataset and reference, never one per row. Two different people
are never merged: they come back as candidates.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import LookupInputError
from ..ledger import audit, get_case
from ..map import EMAIL
from ..workspace import Workspace
from .identify import AUTO, parse_ref, search_kinds
from .mentions import find_mentions
from .people import Roots, candidate, seeds
from .reader import Found, Reader, Row, RowKey
from .records import context, expand_by_identity, identity_values, walk_down
from .subject import AMBIGUOUS, FOUND, NOT_FOUND, DatasetRecords, SubjectRecords


def dataset_records(reader: Reader, found: Found) -> dict[str, DatasetRecords]:
    """The found rows per dataset, in map order, with what the map says about them."""
    dm = reader.dm
    out = {}
    for name in dm.datasets:  # map order: stable, readable output
        rows = found.rows.get(name)
        if not rows:
            continue
        ds = dm.datasets[name]
        rule = dm.retention.get(ds.retention) if ds.retention else None
        out[name] = DatasetRecords(
            dataset=name, source=ds.source, location=dm.sources[ds.source].location,
            columns=list(next(iter(rows.values())).keys()), rows=list(rows.values()),
            categories={f.name: list(f.categories) for f in ds.fields.values()},
            purposes=[{"name": p, "description": dm.purposes[p].description,
                       "legal_basis": dm.purposes[p].legal_basis} for p in ds.purposes],
            retention={"name": rule.name, "keep": str(rule.keep), "from": str(rule.anchor),
                       "ground": rule.ground} if rule else None,
            via=found.via.get(name, []), description=ds.description, primary_key=ds.primary_key,
        )
    return out


def _start_from_pick(reader: Reader, result: SubjectRecords, found: Found, pick: str) -> dict[str, dict[tuple, Row]]:
    ds, key = parse_ref(pick, reader.dm)
    rows = reader.fetch_keys(ds, [key])
    if not rows:
        raise LookupInputError(f"pick '{pick}': no such row in {ds.name}")
    found.add(ds, rows, "picked")
    root = (ds.name, reader.key(ds, rows[0]))
    result.subject = candidate(reader, root, rows[0], 1.0, ["pick"])
    return {ds.name: {root[1]: rows[0]}}


def _start_from_seeds(reader: Reader, result: SubjectRecords, found: Found, text: str,
                      kinds: list[str]) -> dict[str, dict[tuple, Row]] | None:
    """The person (or the subject-less rows) the identifier leads to; None when nothing matched or the user must
    pick one of several candidates (then `result` says so)."""
    dm = reader.dm
    start_rows, scores = seeds(reader, kinds, text)
    if not start_rows.rows:
        return None
    matched = [k for k in kinds if any(v == f"identity: {k}" for vs in start_rows.via.values() for v in vs)]
    result.kind = matched[0] if len(matched) == 1 else "/".join(matched)
    roots = Roots(reader, start_rows)
    people: dict[RowKey, tuple[float, set[str]]] = {}
    orphans: dict[str, dict[tuple, Row]] = {}
    for seed, tops in roots.tops.items():
        for top in tops:
            if dm.datasets[top[0]].subject:
                best, via = people.get(top, (0.0, set()))
                people[top] = (max(best, scores.get(seed, 1.0)), via | {seed[0]})
            else:
                orphans.setdefault(top[0], {})[top[1]] = roots.rows_of[top]
    ranked = sorted((candidate(reader, top, roots.rows_of.get(top), s, via) for top, (s, via) in people.items()),
                    key=lambda c: (-c.score, c.ref))
    by_name = any(via.startswith("identity: name") for vias in start_rows.via.values() for via in vias)
    if by_name or len(ranked) > 1:  # names are fuzzy: the user always picks
        result.status, result.candidates = AMBIGUOUS, ranked
        return None
    start: dict[str, dict[tuple, Row]] = {}
    if ranked:
        top = result.subject = ranked[0]
        start = {top.dataset: {top.key: roots.rows_of[(top.dataset, top.key)]}}
        found.add(dm.datasets[top.dataset], start[top.dataset].values(), f"identity: {result.kind}")
    for name, rows in orphans.items():  # rows that belong to no person (e.g. a newsletter list)
        found.add(dm.datasets[name], rows.values(), f"identity: {result.kind}")
        start.setdefault(name, {}).update(rows)
    return start


def _run(reader: Reader, result: SubjectRecords, text: str, kinds: list[str], pick: str | None,
         mentions: bool) -> None:
    """Fill `result` in place."""
    found = Found()
    if pick:
        start = _start_from_pick(reader, result, found, pick)
    else:
        start = _start_from_seeds(reader, result, found, text, kinds)
        if start is None:
            return
    walk_down(reader, found, start)
    emails, phones = identity_values(reader, found)
    if kinds and kinds[0] == EMAIL:
        emails.add(text.lower())
    apart = expand_by_identity(reader, found, emails, phones)
    result.records = dataset_records(reader, found)
    result.shared = dataset_records(reader, apart)
    result.context = dataset_records(reader, context(reader, found))
    if mentions:
        result.mentions = find_mentions(reader, found, emails, phones)
    result.status = FOUND if result.records else NOT_FOUND


def lookup(ws: Workspace, identifier: str | None = None, *, kind: str = AUTO, pick: str | None = None,
           case_id: str | None = None, mentions: bool = True, audit_log: bool = True) -> SubjectRecords:
    """Find every record about one person from one identifier (or a picked candidate `DATASET:KEY`).

    Returns a SubjectRecords with status `found`, `ambiguous` (pick one of `.candidates`; name queries always
    answer this way) or `not_found`. Writes one audit entry (counts and a keyed hash, never the data).
    """
    t0 = time.perf_counter()
    dm = ws.datamap
    text = (identifier or "").strip()
    if not text and not pick:
        raise LookupInputError("give an identifier to look up (an e-mail, phone number, id or name) or a pick")
    kinds = search_kinds(text, kind, dm)
    if case_id:
        get_case(ws, case_id)  # raises CaseError for an unknown case, before any data is read
    result = SubjectRecords(query=text or pick or "", kind=kinds[0] if text and kinds else "pick",
                            status=NOT_FOUND, map_fingerprint=dm.fingerprint)
    try:
        _run(Reader(ws), result, text, kinds, pick, mentions)
    finally:
        ws.close()
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    if audit_log:
        _audit(ws, result, text or pick, case_id)
    return result


def _audit(ws: Workspace, result: SubjectRecords, subject: str | None, case_id: str | None) -> None:
    s = result.summary()
    details: dict[str, Any] = {
        "status": s["status"], "query_kind": result.kind, "datasets": s["datasets"],
        "total_rows": s["total_rows"], "context_rows": sum(s["context"].values()), "mentions": s["mentions"],
        "candidates": s["candidates"], "elapsed_ms": s["elapsed_ms"], "map_fingerprint": ws.datamap.fingerprint[:16],
        "subject_ref_hash": audit.subject_hash(ws, result.subject.ref) if result.subject else None,
    }
    audit.record(ws, "lookup", details, case_id=case_id, subject=subject)
