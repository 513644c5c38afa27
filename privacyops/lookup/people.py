"""From an identifier to people: the rows whose identity fields match (seeds), and the people they belong to.

From each seed the walk goes *up* to the top, following only the references that say whose the row is: the
reference of the party whose identity matched (a guest's e-mail never leads to the host), else the owner's; for a
dataset without named parties, a reference straight to a person decides when it is set (the owner wins), else
every belongs-to reference. An owned row (a customer's address) leads up to the rows that own it. A top row in a
dataset with `subject:` is a person. Two different people are never merged: they come back as candidates.
"""

from __future__ import annotations

from typing import Iterable

from ..map import EMAIL, NAME, PHONE, Dataset, Party, Reference
from ..sources import SCORE
from ..values import format_key
from .reader import Found, Reader, Row, RowKey, identity_groups
from .subject import Candidate

Seed = tuple[Party | None, float]  # the party the identity named in the row, and the match's score


def seeds(reader: Reader, kinds: list[str], value: str) -> tuple[Found, dict[RowKey, Seed], int]:
    """Rows whose identity columns of `kinds` match `value`, with the party they name and a score (1.0 for exact
    kinds); and how many rows a name matched in all (every exact match is among the rows, the rest are the best)."""
    found: Found = Found()
    matched: dict[RowKey, Seed] = {}
    name_total = 0
    for ds in reader.dm.datasets.values():
        for kind in kinds:
            for party, cols in identity_groups(ds, kind):
                if kind == NAME:
                    got = reader.name_matches(ds, cols, value)
                    name_total += got.total
                    scored = [(r, float(r.pop(SCORE))) for r in got.rows.dicts()]
                else:
                    scored = [(r, 1.0) for r in reader.identity_rows(ds, kind, [value], cols)]
                for r, score in scored:
                    rid = (ds.name, reader.key(ds, r))
                    if rid not in matched or (party is not None and party.owner):
                        matched[rid] = (party, max(score, matched.get(rid, (None, 0.0))[1]))
                found.add(ds, [r for r, _ in scored], f"identity: {kind}")
    return found, matched, name_total


def up_references(reader: Reader, ds: Dataset, row: Row, party: Party | None) -> tuple[Reference, ...]:
    """The references to follow up from `row`, seen as `party`'s row (None: as the owner's)."""
    if ds.named_parties:
        who = party or ds.owner_party
        ref = ds.reference(who.reference) if who is not None and who.reference else None
        return (ref,) if ref is not None else ()
    direct = [r for r in reader.dm.person_references(ds) if row.get(r.column) is not None]
    return tuple(direct) if direct else ds.owner_references


class Roots:
    """For every starting row, the topmost rows reached by walking up (see the module docstring)."""

    def __init__(self, reader: Reader, start: Found, parties: dict[RowKey, Party | None]):
        self.reader = reader
        self.rows_of: dict[RowKey, Row] = {}
        self.parents: dict[RowKey, set[RowKey]] = {}
        self._climb(start, parties)
        parents = self.parents
        self.tops = {(name, k): self._top((name, k), frozenset()) if (name, k) in parents else {(name, k)}
                     for name, rows in start.rows.items() for k in rows}

    def _climb(self, start: Found, parties: dict[RowKey, Party | None]) -> None:
        frontier = {name: dict(rows) for name, rows in start.rows.items()}
        seen: set[RowKey] = set()
        while frontier:
            nxt: dict[str, dict[tuple, Row]] = {}
            for name, rows in frontier.items():
                ds = self.reader.dm.datasets[name]
                ids = [(name, k) for k in rows]
                self.rows_of.update(zip(ids, rows.values()))
                seen.update(ids)
                for (target, gk, g), child in self._parents_of(ds, rows, parties):
                    self.parents.setdefault((name, child), set()).add((target, gk))
                    if (target, gk) not in seen:
                        nxt.setdefault(target, {})[gk] = g
            frontier = nxt

    def _parents_of(self, ds: Dataset, rows: dict[tuple, Row], parties: dict[RowKey, Party | None]):
        """((dataset, key, row), child key) for every parent of the rows: set-based, one query per reference."""
        reader = self.reader
        by_ref: dict[Reference, list[tuple]] = {}
        for k, r in (rows.items() if ds.named_parties or ds.owner_references else ()):  # else: nothing to follow
            for ref in up_references(reader, ds, r, parties.get((ds.name, k))):
                if r.get(ref.column) is not None:
                    by_ref.setdefault(ref, []).append(k)
        for ref, keys in by_ref.items():
            target = reader.dm.datasets[ref.to_dataset]
            by_value: dict[str, list[Row]] = {}
            for g in reader.select_in(target, ref.to_column, {rows[k][ref.column] for k in keys}):
                by_value.setdefault(str(g[ref.to_column]), []).append(g)
            for k in keys:
                for g in by_value.get(str(rows[k][ref.column]), []):
                    yield (target.name, reader.key(target, g), g), k
        for ref in reader.dm.owners_of(ds.name):  # an owned row leads up to the rows that own it
            owner = reader.dm.datasets[ref.dataset]
            values = {r[ref.to_column] for r in rows.values() if r.get(ref.to_column) is not None}
            if not values:
                continue
            for g in reader.select_in(owner, ref.column, values):
                for k, r in rows.items():
                    if str(r.get(ref.to_column)) == str(g[ref.column]):
                        yield (owner.name, reader.key(owner, g), g), k

    def _top(self, node: RowKey, trail: frozenset) -> set[RowKey]:
        ups = self.parents.get(node, set()) - trail
        if not ups:
            return {node}
        out: set[RowKey] = set()
        for p in ups:
            out |= self._top(p, trail | {node})
        return out


def candidate(reader: Reader, root: RowKey, row: Row | None, score: float, matched: Iterable[str]) -> Candidate:
    """A person as the user sees it among candidates: name, e-mails and phones, and the pick reference."""
    ds = reader.dm.datasets[root[0]]
    names, contacts = _label_columns(ds)
    parts: list[str] = []
    if row:  # (a common name makes thousands of candidates: the label is built without intermediate lists)
        name = " ".join([str(v) for v in map(row.get, names) if v is not None and v != ""])
        if name:
            parts.append(name)
        for v in map(row.get, contacts):
            if v is not None and v != "":
                v = str(v).strip()
                if v and v not in parts:
                    parts.append(v)
    key = format_key(root[1])
    return Candidate(ref=f"{ds.name}:{key}", dataset=ds.name, key=root[1], subject_type=ds.subject,
                     label=" · ".join(parts) or f"{ds.name} {key}", score=score, matched_on=sorted(set(matched)))


def _label_columns(ds: Dataset) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A candidate's label columns in `ds`: the name's, then the e-mails' and phones' (worked out once: a common
    name makes thousands of candidates)."""
    memo = ds.__dict__.get("_label_columns")
    if memo is None:
        memo = ds.__dict__["_label_columns"] = (
            ds.identity_columns(NAME), tuple(c for kind in (EMAIL, PHONE) for c in ds.identity_columns(kind)))
    return memo
