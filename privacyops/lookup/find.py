"""Subject lookup: from one identifier to every record about that person, across every dataset.

The walk (see docs/datamap.md): seeds through identity fields -> up the belongs-to references to the person
(people.py) -> down again to everything that belongs to that person -> rows of subject-less datasets holding the
person's e-mails/phones -> one step along shared references for context (records.py) -> free-text mentions elsewhere
(mentions.py). Every step is one set-based query per dataset and reference, never one per row. Two different people
are never merged: they come back as candidates.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, wait
from typing import Any, Callable

from ..errors import LookupInputError
from ..ledger import audit, get_case, open_ledger
from ..ledger.inbox import remember_subject
from ..map import EMAIL, IMPLICIT_PARTY, NAME, DataMap, Party
from ..workspace import Workspace
from .identify import AUTO, parse_ref, search_kinds
from .kept import erasures_on_record
from .mentions import find_mentions, mention_probe
from .people import Roots, candidate, seeds
from .prefetch import run_aside
from .reader import Found, Person, Reader, Row, RowKey, identity_groups
from .records import context, context_asks, context_columns, expand_by_identity, identity_values, walk_down
from .subject import AMBIGUOUS, FOUND, NOT_FOUND, WITHHELD, DatasetRecords, SubjectRecords


def dataset_records(reader: Reader, found: Found, context: bool = False) -> dict[str, DatasetRecords]:
    """The found rows per dataset, in map order, with what the map says about them. Other parties' fields are
    withheld (WITHHELD); context rows show only their key, non-personal and context fields."""
    dm = reader.dm
    out = {}
    for name in dm.datasets:  # map order: stable, readable output
        rows = found.rows.get(name)
        if not rows:
            continue
        ds = dm.datasets[name]
        rule = dm.retention.get(ds.retention) if ds.retention else None
        columns = list(next(iter(rows.values())).keys())
        if context:
            columns = context_columns(ds, columns)
        shown, roles, withheld, co_owned, owner = [], [], [], [], []
        for k, r in rows.items():
            role = found.role.get((name, k), IMPLICIT_PARTY)
            hidden = [c for c in ds.withheld_from(ds.party(role)) if c in r]
            shown.append({c: (WITHHELD if c in hidden and r[c] is not None else r[c]) for c in columns})
            roles.append(role)
            withheld.append(hidden)
            co_owned.append((name, k) in found.co_owned)
            owner.append(context or found.owns(name, k))
        out[name] = DatasetRecords(
            dataset=name, source=ds.source, location=dm.sources[ds.source].location, columns=columns, rows=shown,
            categories={f.name: list(f.categories) for f in ds.fields.values() if f.name in columns},
            purposes=[{"name": p, "description": dm.purposes[p].description,
                       "legal_basis": dm.purposes[p].legal_basis} for p in ds.purposes],
            retention={"name": rule.name, "keep": str(rule.keep), "from": str(rule.anchor), "ground": rule.ground,
                       **({"while_empty": True} if rule.keep_while_empty else {})} if rule else None,
            via=found.via.get(name, []), description=ds.description, primary_key=ds.primary_key,
            roles=roles, withheld=withheld, co_owned=co_owned, owner=owner,
        )
    return out


def _start_from_pick(reader: Reader, result: SubjectRecords, found: Found, pick: str) -> tuple[dict, Person]:
    ds, key = parse_ref(pick, reader.dm)
    rows = reader.fetch_keys(ds, [key])
    if not rows:
        raise LookupInputError(f"pick '{pick}': no such row in {ds.name}")
    found.add(ds, rows, "picked")
    root = (ds.name, reader.key(ds, rows[0]))
    result.subject = candidate(reader, root, rows[0], 1.0, ["pick"])
    return {ds.name: {root[1]: rows[0]}}, Person(ds.name if ds.subject else None, rows[0] if ds.subject else None)


def _start_from_seeds(reader: Reader, result: SubjectRecords, found: Found, text: str,
                      kinds: list[str]) -> tuple[dict[str, dict[tuple, Row]], Person] | None:
    """The person (or the rows of nobody's, e.g. a newsletter list) the identifier leads to; None when nothing
    matched or the user must pick one of several candidates (then `result` says so)."""
    dm = reader.dm
    if NAME not in kinds:  # one index probe for every kind the identifier may be, the seed rows read ahead
        reader.prime_identities([(ds, kind, cols, [text]) for ds in dm.datasets.values() for kind in kinds
                                 for _, cols in identity_groups(ds, kind)])
    start_rows, matched, name_total = seeds(reader, kinds, text)
    if not start_rows.rows:
        return None
    kinds_hit = [k for k in kinds if any(v == f"identity: {k}" for vs in start_rows.via.values() for v in vs)]
    if kinds_hit:  # else the kinds searched stay named (a miss says what it looked for)
        result.kind = kinds_hit[0] if len(kinds_hit) == 1 else "/".join(kinds_hit)
    roots = Roots(reader, start_rows, {rid: party for rid, (party, _) in matched.items()})
    people: dict[RowKey, tuple[float, set[str]]] = {}
    orphans: list[tuple[RowKey, Party | None]] = []
    for seed, tops in roots.tops.items():
        for top in tops:
            if dm.datasets[top[0]].subject:
                best, via = people.get(top, (0.0, set()))
                people[top] = (max(best, matched.get(seed, (None, 1.0))[1]), via | {seed[0]})
            else:  # a row of nobody's (a newsletter list), or one naming the person only by identity (a guest)
                orphans.append((top, matched.get(top, (None, 1.0))[0] if top == seed else None))
    ranked = sorted((candidate(reader, top, roots.rows_of.get(top), s, via) for top, (s, via) in people.items()),
                    key=lambda c: (-c.score, c.ref))
    by_name = any(via.startswith("identity: name") for vias in start_rows.via.values() for via in vias)
    if by_name or len(ranked) > 1:  # names are fuzzy: the user always picks
        result.status, result.candidates = AMBIGUOUS, ranked
        result.candidates_total = max(name_total, len(ranked))
        return None
    start: dict[str, dict[tuple, Row]] = {}
    person = Person()
    if ranked:
        top = result.subject = ranked[0]
        row = roots.rows_of[(top.dataset, top.key)]
        person = Person(top.dataset, row)
        start = {top.dataset: {top.key: row}}
        found.add(dm.datasets[top.dataset], [row], f"identity: {result.kind}")
    for (name, key), party in orphans:
        ds = dm.datasets[name]
        owns = party is None or party.owner
        found.add(ds, [roots.rows_of[(name, key)]], f"identity: {result.kind}",
                  party.name if party is not None else IMPLICIT_PARTY, owns)
        if owns:
            start.setdefault(name, {})[key] = roots.rows_of[(name, key)]
    return start, person


def _run(reader: Reader, result: SubjectRecords, text: str, kinds: list[str], pick: str | None,
         mentions: bool, started: Callable[[], None] | None = None) -> None:
    """Fill `result` in place; `started()` once the person (`result.subject`) is known, before their rows are
    read."""
    found = Found()
    if pick:
        start, person = _start_from_pick(reader, result, found, pick)
    else:
        got = _start_from_seeds(reader, result, found, text, kinds)
        if got is None:
            return
        start, person = got
    if started is not None:
        started()
    walk_down(reader, found, person, start)
    emails, phones = identity_values(reader, found)
    if kinds and kinds[0] == EMAIL:
        emails.add(text.lower())
    ask = mention_probe(reader, emails, phones) if mentions else None
    reader.mention_ask = (tuple(ask[0]), tuple(ask[1])) if ask else None  # asked with the expansion's probe
    reader.prefetch(context_asks(reader, found))  # read while the expansion probes (it seldom adds rows)
    apart = expand_by_identity(reader, found, person, emails, phones)
    result.records = dataset_records(reader, found)
    result.shared = dataset_records(reader, apart)
    result.context = dataset_records(reader, context(reader, found), context=True)
    if mentions:
        result.mentions = find_mentions(reader, found, emails, phones)
    result.status = FOUND if result.records else NOT_FOUND


def prepare(dm: DataMap, identifier: str | None, kind: str, pick: str | None) -> tuple[str, list[str], SubjectRecords]:
    """The identifier as searched, the kinds to search it as, and the empty answer (`lookup_many` shares it)."""
    text = (identifier or "").strip()
    if not text and not pick:
        raise LookupInputError("give an identifier to look up (an e-mail, phone number, id or name) or a pick")
    kinds = search_kinds(text, kind, dm)
    result = SubjectRecords(query=text or pick or "", kind="/".join(kinds) if text and kinds else "pick",
                            status=NOT_FOUND, map_fingerprint=dm.fingerprint)
    return text, kinds, result


def lookup(ws: Workspace, identifier: str | None = None, *, kind: str = AUTO, pick: str | None = None,
           case_id: str | None = None, mentions: bool = True, audit_log: bool = True,
           use_index: bool = True, erasures: bool | None = None) -> SubjectRecords:
    """Find every record about one person from one identifier (or a picked candidate `DATASET:KEY`).

    With a lookup index (`privacyops index`) seeds, identity matches and mentions are index probes; datasets the
    index cannot answer for (stale, not covered) are scanned and named in `.notes`. `use_index=False` scans all.

    Returns a SubjectRecords with status `found`, `ambiguous` (pick one of `.candidates`; name queries always
    answer this way) or `not_found`. Writes one audit entry (counts and a keyed hash, never the data).

    `.erasures` lists executed erasures of the person and what they still keep (kept.py: matched by keyed digests
    of the identifier, so found after the data forgot it); asked when `erasures` is true, by default for lookups
    that are audited (the ones people read), not for the engines' own checks (`audit_log=False`).
    """
    t0 = time.perf_counter()
    text, kinds, result = prepare(ws.datamap, identifier, kind, pick)
    if case_id:
        get_case(ws, case_id)  # raises CaseError for an unknown case, before any data is read
    check = audit_log if erasures is None else erasures
    early: list[Future] = []

    def started() -> None:  # the person is known: their erasures are read from the ledger while the walk reads
        early.append(run_aside(erasures_on_record, ws, text, None, (result.subject.ref,) if result.subject else ()))

    with ws.reading():  # connectors closed at the end, or kept for the next lookup (Workspace.keep_open)
        reader = Reader(ws, use_index=use_index)
        try:
            _run(reader, result, text, kinds, pick, mentions,
                 started if check and not pick and kinds != [NAME] else None)
        except LookupInputError:  # a picked row an erasure removed: say what the erasure kept, not "no such row"
            if not (pick and check and erasures_on_record(ws, None, pick)):
                raise
        finally:
            reader.close()  # before the connectors are closed or kept
            wait(early)  # (its ledger in use until then)
        result.notes = reader.notes
    if check and (kinds != [NAME] or pick):  # never by name
        result.erasures = early[0].result() if early else erasures_on_record(
            ws, text if kinds != [NAME] else None, pick, (result.subject.ref,) if result.subject else ())
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
    if not (case_id and result.subject is not None and result.status == FOUND):
        audit.record(ws, "lookup", details, case_id=case_id, subject=subject)
        return
    with open_ledger(ws) as con, con.transaction(lock=True):  # the inbox shows whom the case is about
        details["case_subject_recorded"] = remember_subject(con, case_id, result.subject.ref)
        audit.record(ws, "lookup", details, case_id=case_id, subject=subject, con=con)
