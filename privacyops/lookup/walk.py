"""Subject lookup: from one identifier to every record about that person, across every dataset.

The walk (see docs/datamap.md): seeds through identity fields -> up the belongs-to references to the person ->
down again to everything that belongs to that person -> rows of subject-less datasets holding the person's
e-mails/phones -> one step along shared references for context -> free-text mentions elsewhere. Every step is one
set-based query per dataset and reference, never one per row. Two different people are never merged: they come back
as candidates.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import LookupInputError
from ..ledger import audit, cases
from ..map import EMAIL, NAME, PHONE, DataMap, Dataset
from ..sources import SCORE, digits_of
from ..values import format_key
from ..workspace import Workspace
from .subject import AMBIGUOUS, FOUND, NOT_FOUND, Candidate, DatasetRecords, Mention, SubjectRecords

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]+$")
_ID_RE = re.compile(r"^[\w\-.:/#]+$")
AUTO = "auto"

RowKey = tuple  # (dataset, pk tuple)


@dataclass
class _Found:
    """Rows gathered during one lookup, per dataset, keyed by primary key."""

    rows: dict[str, dict[tuple, dict[str, Any]]]
    via: dict[str, list[str]]

    @classmethod
    def empty(cls) -> "_Found":
        return cls({}, {})

    def add(self, ds: Dataset, rows: Iterable[dict[str, Any]], via: str) -> dict[tuple, dict[str, Any]]:
        """Add rows; return the ones that were new."""
        bucket = self.rows.setdefault(ds.name, {})
        new = {}
        for r in rows:
            k = tuple(r[c] for c in ds.primary_key)
            if k not in bucket:
                bucket[k] = r
                new[k] = r
        if new:
            vias = self.via.setdefault(ds.name, [])
            if via not in vias:
                vias.append(via)
        return new

    def has(self, ds: str, key: tuple) -> bool:
        return key in self.rows.get(ds, {})


def detect_kinds(text: str, dm: DataMap) -> list[str]:
    """Which identity kinds an identifier may be: an e-mail; a phone number and/or an id; else a name."""
    t = text.strip()
    exact = [k for k in dm.identity_kinds() if k not in (EMAIL, PHONE, NAME)]
    if _EMAIL_RE.match(t):
        return [EMAIL] + exact  # some systems key on e-mail-like usernames
    kinds = []
    phone_like = bool(_PHONE_RE.match(t)) and len(digits_of(t)) >= 7
    if phone_like:
        kinds.append(PHONE)
    if _ID_RE.match(t):
        kinds.extend(exact)
    if not phone_like and (not kinds or " " in t or not any(ch.isdigit() for ch in t)):
        kinds.append(NAME)
    return list(dict.fromkeys(kinds))


def parse_ref(ref: str, dm: DataMap) -> tuple[Dataset, tuple[str, ...]]:
    """'DATASET:KEY' (composite keys comma-separated) -> dataset and key values."""
    if ":" not in ref:
        raise LookupInputError(f"pick '{ref}' is not DATASET:KEY (e.g. crm.customers:42)")
    name, _, key = ref.rpartition(":")
    if name not in dm.datasets:
        raise LookupInputError(f"pick '{ref}': unknown dataset '{name}'; datasets: {', '.join(dm.datasets)}")
    ds = dm.datasets[name]
    parts = tuple(key.split(",")) if len(ds.primary_key) > 1 else (key,)
    if len(parts) != len(ds.primary_key) or not all(p.strip() for p in parts):
        raise LookupInputError(f"pick '{ref}': {name} has primary key ({', '.join(ds.primary_key)}); "
                               f"give {len(ds.primary_key)} value(s)")
    return ds, parts


class _Lookup:
    """One lookup run over an open workspace."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.dm = ws.datamap
        self._identity_memo: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def con(self, ds: Dataset):
        return self.ws.connector(ds.source)

    def identity_rows(self, ds: Dataset, kind: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Rows matching identity values, each (dataset, kind, value) queried once per lookup: the expansion
        step asks again for the values the seed step already searched."""
        values = sorted({self._norm(kind, v) if kind in (EMAIL, PHONE) else v.strip() for v in values})
        todo = [v for v in values if (ds.name, kind, v) not in self._identity_memo]
        if todo:
            rows = self.con(ds).select_identity(ds, kind, ds.identity_columns(kind), todo,
                                                self.dm.settings).dicts()
            if len(todo) == 1:
                self._identity_memo[(ds.name, kind, todo[0])] = rows
            else:  # several values in one scan: the result is kept for the set, not per value
                self._identity_memo[(ds.name, kind, "\x00".join(todo))] = rows
                values = [v for v in values if v not in todo] + ["\x00".join(todo)]
        out, seen = [], set()
        for v in values:
            for r in self._identity_memo.get((ds.name, kind, v), []):
                k = self.key(ds, r)
                if k not in seen:
                    seen.add(k)
                    out.append(r)
        return out

    def key(self, ds: Dataset, row: dict[str, Any]) -> tuple:
        return tuple(row[c] for c in ds.primary_key)

    def fetch_keys(self, ds: Dataset, keys: list[tuple]) -> list[dict[str, Any]]:
        if len(ds.primary_key) == 1:
            return self.con(ds).select_in(ds, ds.primary_key[0], [k[0] for k in keys]).dicts()
        wanted = {tuple(str(v) for v in k) for k in keys}
        first = self.con(ds).select_in(ds, ds.primary_key[0], [k[0] for k in keys]).dicts()
        return [r for r in first if tuple(str(r[c]) for c in ds.primary_key) in wanted]

    # -- seeds ----------------------------------------------------------------------------------------------------
    def seeds(self, kinds: list[str], value: str) -> tuple[_Found, dict[RowKey, float]]:
        found, scores = _Found.empty(), {}
        for ds in self.dm.datasets.values():
            for kind in kinds:
                cols = ds.identity_columns(kind)
                if not cols:
                    continue
                con = self.con(ds)
                if kind == NAME:
                    rows = con.name_candidates(ds, cols, value, self.dm.settings.name_match_threshold).dicts()
                    for r in rows:
                        scores[(ds.name, self.key(ds, r))] = float(r.pop(SCORE))
                    found.add(ds, rows, f"identity: {kind}")
                else:
                    rows = self.identity_rows(ds, kind, [value])
                    for r in rows:
                        scores[(ds.name, self.key(ds, r))] = 1.0
                    found.add(ds, rows, f"identity: {kind}")
        return found, scores

    # -- up: from rows to the people they belong to ---------------------------------------------------------------
    def roots(self, start: _Found) -> dict[RowKey, set[RowKey]]:
        """For every starting row, the topmost rows reached by walking belongs-to references up."""
        parents: dict[RowKey, set[RowKey]] = {}
        rows_of: dict[RowKey, dict[str, Any]] = {}
        frontier = {name: dict(rows) for name, rows in start.rows.items()}
        seen: set[RowKey] = set()
        while frontier:
            nxt: dict[str, dict[tuple, dict[str, Any]]] = {}
            for name, rows in frontier.items():
                ds = self.dm.datasets[name]
                for k, r in rows.items():
                    rows_of[(name, k)] = r
                    seen.add((name, k))
                for ref in ds.owner_references:
                    target = self.dm.datasets[ref.to_dataset]
                    values = {r[ref.column] for r in rows.values() if r.get(ref.column) is not None}
                    if not values:
                        continue
                    got = self.con(target).select_in(target, ref.to_column, values).dicts()
                    by_value: dict[str, list[dict[str, Any]]] = {}
                    for g in got:
                        by_value.setdefault(str(g[ref.to_column]), []).append(g)
                    for k, r in rows.items():
                        for g in by_value.get(str(r.get(ref.column)), []):
                            gk = (target.name, self.key(target, g))
                            parents.setdefault((name, k), set()).add(gk)
                            if gk not in seen:
                                nxt.setdefault(target.name, {})[gk[1]] = g
            frontier = nxt

        def top(node: RowKey, trail: frozenset) -> set[RowKey]:
            ups = parents.get(node, set()) - trail
            if not ups:
                return {node}
            out: set[RowKey] = set()
            for p in ups:
                out |= top(p, trail | {node})
            return out

        self._rows_of = rows_of
        return {(name, k): top((name, k), frozenset()) for name, rows in start.rows.items() for k in rows}

    def candidate(self, root: RowKey, score: float, matched: Iterable[str]) -> Candidate:
        ds = self.dm.datasets[root[0]]
        row = self._rows_of.get(root) or {}
        name = " ".join(str(row[c]) for c in ds.identity_columns(NAME) if row.get(c) not in (None, ""))
        label_parts = [name] + [str(row[c]).strip() for kind in (EMAIL, PHONE) for c in ds.identity_columns(kind)
                                if row.get(c) not in (None, "")]
        label_parts = [x for x in label_parts if x]
        label = " · ".join(dict.fromkeys(label_parts)) or f"{ds.name} {format_key(root[1])}"
        return Candidate(ref=f"{ds.name}:{format_key(root[1])}", dataset=ds.name, key=root[1],
                         subject_type=ds.subject, label=label, score=score, matched_on=sorted(set(matched)))

    # -- down: everything that belongs to the person --------------------------------------------------------------
    def walk_down(self, found: _Found, start: dict[str, dict[tuple, dict[str, Any]]]) -> None:
        frontier = start
        while frontier:
            nxt: dict[str, dict[tuple, dict[str, Any]]] = {}
            for name, rows in frontier.items():
                for ref in self.dm.children(name):
                    child = self.dm.datasets[ref.dataset]
                    values = {r[ref.to_column] for r in rows.values() if r.get(ref.to_column) is not None}
                    if not values:
                        continue
                    got = self.con(child).select_in(child, ref.column, values).dicts()
                    new = found.add(child, got, f"belongs to {name}")
                    if new:
                        nxt.setdefault(child.name, {}).update(new)
            frontier = nxt

    def identity_values(self, found: _Found) -> tuple[set[str], set[str]]:
        emails, phones = set(), set()
        for name, rows in found.rows.items():
            ds = self.dm.datasets[name]
            for r in rows.values():
                for c in ds.identity_columns(EMAIL):
                    if r.get(c):
                        emails.add(str(r[c]).strip().lower())
                for c in ds.identity_columns(PHONE):
                    if r.get(c) and len(digits_of(str(r[c]))) >= 7:
                        phones.add(str(r[c]))
        return emails, phones

    def _norm(self, kind: str, value: Any) -> str:
        if kind == EMAIL:
            return str(value).strip().lower()
        return digits_of(str(value))[-self.dm.settings.phone_match_digits:]

    def expand_by_identity(self, found: _Found, emails: set[str], phones: set[str]) -> _Found:
        """Rows of subject-less datasets that hold the person's e-mails/phones and belong to no one else.

        A value the person shares with someone else (a family e-mail) proves nothing about whose row it is: rows
        matched only through shared values are returned apart (the second result), not as the person's records.
        """
        person = {EMAIL: {self._norm(EMAIL, e) for e in emails}, PHONE: {self._norm(PHONE, p) for p in phones}}
        matches = []
        for ds in self.dm.datasets.values():
            for kind, values in ((EMAIL, emails), (PHONE, phones)):
                cols = ds.identity_columns(kind)
                if cols and values:
                    rows = self.identity_rows(ds, kind, values)
                    matches.append((ds, kind, cols, rows))

        def held(ds, kind, cols, row) -> set[str]:
            return {self._norm(kind, row[c]) for c in cols if row.get(c)} & person[kind]

        # Values that rows of other people also hold.
        shared: set[str] = set()
        for ds, kind, cols, rows in matches:
            for r in rows:
                if found.has(ds.name, self.key(ds, r)):
                    continue
                if ds.subject or any(r.get(ref.column) is not None for ref in ds.owner_references):
                    shared |= held(ds, kind, cols, r)
        apart = _Found.empty()
        added: dict[str, dict[tuple, dict[str, Any]]] = {}
        for ds, kind, cols, rows in matches:
            if ds.subject:
                continue  # another row of a subject dataset is another person: never merged
            orphans = [r for r in rows if not found.has(ds.name, self.key(ds, r))
                       and all(r.get(ref.column) is None for ref in ds.owner_references)]
            mine = [r for r in orphans if not held(ds, kind, cols, r) <= shared]
            apart.add(ds, [r for r in orphans if held(ds, kind, cols, r) <= shared],
                      f"identity: {kind} shared with another person")
            new = found.add(ds, mine, f"identity: {kind} of the subject")
            if new:
                added.setdefault(ds.name, {}).update(new)
        if added:
            self.walk_down(found, added)
        return apart

    def context(self, found: _Found) -> _Found:
        ctx = _Found.empty()
        for name, rows in found.rows.items():
            for ref in self.dm.datasets[name].shared_references:
                target = self.dm.datasets[ref.to_dataset]
                values = {r[ref.column] for r in rows.values() if r.get(ref.column) is not None}
                if values:
                    got = self.con(target).select_in(target, ref.to_column, values).dicts()
                    ctx.add(target, [g for g in got if not found.has(target.name, self.key(target, g))],
                            f"shared reference from {name}.{ref.column}")
        return ctx

    def mentions(self, found: _Found, emails: set[str], phones: set[str]) -> list[Mention]:
        digits = self.dm.settings.phone_match_digits
        phone_needles = sorted({digits_of(p)[-digits:] for p in phones})
        email_res = [(e, re.compile(r"(?<![\w.+-])" + re.escape(e) + r"(?![\w-])", re.I)) for e in sorted(emails)]
        out: list[Mention] = []
        for ds in self.dm.datasets.values():
            fields = ds.free_text_fields
            if not fields or not (emails or phone_needles):
                continue
            rows = self.con(ds).select_mentions(ds, fields, sorted(emails), phone_needles).dicts()
            for r in rows:
                k = self.key(ds, r)
                if found.has(ds.name, k):
                    continue  # the subject's own rows are records, not mentions
                for f in fields:
                    text = str(r.get(f) or "")
                    hit = next(((m, "email") for e, rx in email_res if (m := rx.search(text))), None)
                    if not hit:
                        only_digits = re.sub(r"\D", "", text)
                        hit = next(((None, "phone") for n in phone_needles if n in only_digits), None)
                    if hit:
                        m, what = hit
                        start = m.start() if m else 0
                        snippet = text[max(0, start - 40): start + 60]
                        out.append(Mention(ds.name, k, f, what, snippet))
                        break
        return out

    # -- assembling the result ------------------------------------------------------------------------------------
    def records(self, found: _Found) -> dict[str, DatasetRecords]:
        out = {}
        for name in self.dm.datasets:  # map order: stable, readable output
            rows = found.rows.get(name)
            if not rows:
                continue
            ds = self.dm.datasets[name]
            src = self.dm.sources[ds.source]
            rule = self.dm.retention.get(ds.retention) if ds.retention else None
            first = next(iter(rows.values()))
            out[name] = DatasetRecords(
                dataset=name, source=ds.source, location=src.location, columns=list(first.keys()),
                rows=list(rows.values()),
                categories={f.name: list(f.categories) for f in ds.fields.values()},
                purposes=[{"name": p, "description": self.dm.purposes[p].description,
                           "legal_basis": self.dm.purposes[p].legal_basis} for p in ds.purposes],
                retention={"name": rule.name, "keep": str(rule.keep), "from": str(rule.anchor),
                           "ground": rule.ground} if rule else None,
                via=found.via.get(name, []), description=ds.description, primary_key=ds.primary_key,
            )
        return out

    def run(self, result: SubjectRecords, text: str, kinds: list[str], pick: str | None, mentions: bool) -> None:
        """Fill `result` in place."""
        dm, run = self.dm, self
        found = _Found.empty()
        if pick:
            ds, key = parse_ref(pick, dm)
            rows = run.fetch_keys(ds, [key])
            if not rows:
                raise LookupInputError(f"pick '{pick}': no such row in {ds.name}")
            found.add(ds, rows, "picked")
            root_key = (ds.name, run.key(ds, rows[0]))
            run._rows_of = {root_key: rows[0]}
            result.subject = run.candidate(root_key, 1.0, ["pick"])
            start = {ds.name: {root_key[1]: rows[0]}}
        else:
            seeds, scores = run.seeds(kinds, text)
            if not seeds.rows:
                return
            matched = [k for k in kinds if any(v == f"identity: {k}" for vs in seeds.via.values() for v in vs)]
            result.kind = matched[0] if len(matched) == 1 else "/".join(matched)
            roots = run.roots(seeds)
            people: dict[RowKey, tuple[float, set[str]]] = {}
            orphans: dict[str, dict[tuple, dict[str, Any]]] = {}
            for seed, tops in roots.items():
                for top in tops:
                    if dm.datasets[top[0]].subject:
                        best, via = people.get(top, (0.0, set()))
                        people[top] = (max(best, scores.get(seed, 1.0)), via | {seed[0]})
                    else:
                        orphans.setdefault(top[0], {})[top[1]] = run._rows_of[top]
            ranked = sorted((run.candidate(top, s, via) for top, (s, via) in people.items()),
                            key=lambda c: (-c.score, c.ref))
            by_name = any(via.startswith("identity: name") for vias in seeds.via.values() for via in vias)
            if by_name or len(ranked) > 1:  # names are fuzzy: the user always picks
                result.status, result.candidates = AMBIGUOUS, ranked
                return
            start = {}
            if ranked:
                result.subject = ranked[0]
                top = ranked[0]
                start = {top.dataset: {top.key: run._rows_of[(top.dataset, top.key)]}}
                found.add(dm.datasets[top.dataset], start[top.dataset].values(), f"identity: {result.kind}")
            for name, rows in orphans.items():  # rows that belong to no person (e.g. a newsletter list)
                found.add(dm.datasets[name], rows.values(), f"identity: {result.kind}")
                start.setdefault(name, {}).update(rows)
        run.walk_down(found, start)
        emails, phones = run.identity_values(found)
        if kinds and kinds[0] == EMAIL:
            emails.add(text.lower())
        apart = run.expand_by_identity(found, emails, phones)
        result.records = run.records(found)
        result.shared = run.records(apart)
        result.context = run.records(run.context(found))
        if mentions:
            result.mentions = run.mentions(found, emails, phones)
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
    if kind != AUTO and kind != "id" and kind not in dm.identity_kinds():
        raise LookupInputError(f"unknown identity kind '{kind}'; this map has: "
                               f"{', '.join(dm.identity_kinds())} (or auto, id)")
    if kind == AUTO:
        kinds = detect_kinds(text, dm) if text else []
    elif kind == "id":
        kinds = [k for k in dm.identity_kinds() if k not in (EMAIL, PHONE, NAME)]
    else:
        kinds = [kind]

    if case_id:
        cases.get_case(ws, case_id)  # raises CaseError for an unknown case, before any data is read
    run = _Lookup(ws)
    result = SubjectRecords(query=text or pick or "", kind=kinds[0] if text and kinds else "pick",
                            status=NOT_FOUND, map_fingerprint=dm.fingerprint)
    try:
        run.run(result, text, kinds, pick, mentions)
    finally:
        ws.close()
    result.elapsed_ms = (time.perf_counter() - t0) * 1000
    if audit_log:
        s = result.summary()
        audit.record(ws, "lookup", {
            "status": s["status"], "query_kind": result.kind, "datasets": s["datasets"],
            "total_rows": s["total_rows"], "context_rows": sum(s["context"].values()), "mentions": s["mentions"],
            "candidates": s["candidates"], "elapsed_ms": s["elapsed_ms"], "map_fingerprint": dm.fingerprint[:16],
            "subject_ref_hash": audit.subject_hash(ws, result.subject.ref) if result.subject else None,
        }, case_id=case_id, subject=text or pick)
    return result
