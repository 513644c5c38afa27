"""From an identifier to people: the rows whose identity fields match (seeds), and the people they belong to.

From each seed the walk goes *up* the belongs-to references to the top; a top row in a dataset with `subject:` is
a person. Two different people are never merged: they come back as candidates.
"""

from __future__ import annotations

from typing import Iterable

from ..map import EMAIL, NAME, PHONE
from ..sources import SCORE
from ..values import format_key
from .reader import Found, Reader, Row, RowKey
from .subject import Candidate


def seeds(reader: Reader, kinds: list[str], value: str) -> tuple[Found, dict[RowKey, float]]:
    """Rows whose identity columns of `kinds` match `value`, with a score (1.0 for exact kinds)."""
    found, scores = Found(), {}
    for ds in reader.dm.datasets.values():
        for kind in kinds:
            cols = ds.identity_columns(kind)
            if not cols:
                continue
            if kind == NAME:
                rows = reader.con(ds).name_candidates(ds, cols, value,
                                                      reader.dm.settings.name_match_threshold).dicts()
                for r in rows:
                    scores[(ds.name, reader.key(ds, r))] = float(r.pop(SCORE))
            else:
                rows = reader.identity_rows(ds, kind, [value])
                for r in rows:
                    scores[(ds.name, reader.key(ds, r))] = 1.0
            found.add(ds, rows, f"identity: {kind}")
    return found, scores


class Roots:
    """For every starting row, the topmost rows reached by walking belongs-to references up."""

    def __init__(self, reader: Reader, start: Found):
        self.reader = reader
        self.rows_of: dict[RowKey, Row] = {}
        self.parents: dict[RowKey, set[RowKey]] = {}
        self._climb(start)
        self.tops = {(name, k): self._top((name, k), frozenset()) for name, rows in start.rows.items() for k in rows}

    def _climb(self, start: Found) -> None:
        dm, reader = self.reader.dm, self.reader
        frontier = {name: dict(rows) for name, rows in start.rows.items()}
        seen: set[RowKey] = set()
        while frontier:
            nxt: dict[str, dict[tuple, Row]] = {}
            for name, rows in frontier.items():
                ds = dm.datasets[name]
                for k, r in rows.items():
                    self.rows_of[(name, k)] = r
                    seen.add((name, k))
                for ref in ds.owner_references:
                    target = dm.datasets[ref.to_dataset]
                    values = {r[ref.column] for r in rows.values() if r.get(ref.column) is not None}
                    if not values:
                        continue
                    by_value: dict[str, list[Row]] = {}
                    for g in reader.select_in(target, ref.to_column, values):
                        by_value.setdefault(str(g[ref.to_column]), []).append(g)
                    for k, r in rows.items():
                        for g in by_value.get(str(r.get(ref.column)), []):
                            gk = (target.name, reader.key(target, g))
                            self.parents.setdefault((name, k), set()).add(gk)
                            if gk not in seen:
                                nxt.setdefault(target.name, {})[gk[1]] = g
            frontier = nxt

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
    row = row or {}
    name = " ".join(str(row[c]) for c in ds.identity_columns(NAME) if row.get(c) not in (None, ""))
    label_parts = [name] + [str(row[c]).strip() for kind in (EMAIL, PHONE) for c in ds.identity_columns(kind)
                            if row.get(c) not in (None, "")]
    label_parts = [x for x in label_parts if x]
    label = " · ".join(dict.fromkeys(label_parts)) or f"{ds.name} {format_key(root[1])}"
    return Candidate(ref=f"{ds.name}:{format_key(root[1])}", dataset=ds.name, key=root[1],
                     subject_type=ds.subject, label=label, score=score, matched_on=sorted(set(matched)))
