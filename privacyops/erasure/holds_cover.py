"""Holds cover what belongs to the held records, in every kind of plan.

`Decider.decide` blocks a row under a hold on its own dataset, or of a subject whose identifiers the plan knows.
That is not all a hold keeps: the rows that belong to a held row — down the belongs-to references, transitively:
a held ticket's messages, a held order's lines and their events — are part of the same record, and erasing them
would destroy what the hold preserves. A plan may reach such rows without their parents (a retention sweep of
ticket messages, a due erasure of one line) or without knowing whose they are (a sweep reads a message, not its
person), so the decision cannot be made row by row. `cover_holds` makes it for a whole plan at once, after every
row is decided and before the plan is settled: from the plan's rows up the belongs-to references to the rows they
belong to (one query per dataset, reference and level, never one per row), then down again from every held row —
a row of a dataset under a dataset hold, or a row of a person under a subject hold (their `DATASET:KEY` or an
identifier of theirs matches the hold's keys) — to the plan's rows that belong to it. Those are blocked, naming the
hold and the held row ("blocked with support.tickets:17, held by HOLD-…").

A row only *appears* in a record of another party (the recipient of a message: a party of the row that is not its
owner) does not belong to them: only the owner's reference, or a reference that names no party, is followed.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..ledger import holds
from ..ledger.schedule import key_json
from ..lookup import WITHHELD
from ..map import NAME, DataMap, Dataset, Reference
from ..values import format_key
from ..workspace.keys import keyed_hash
from .decide import Decider
from .plan import B_HOLD, BLOCKED, PlannedRow, row_key

Node = tuple[str, str]  # (dataset, key as JSON), like PlannedRow.rid


def belongs_to(ds: Dataset) -> tuple[Reference, ...]:
    """The references that say which rows `ds`'s rows belong to: belongs-to references, but not those of a party
    that only appears in the row (not its owner)."""
    if not ds.named_parties:
        return ds.owner_references
    owner = ds.owner_party
    out = []
    for ref in ds.owner_references:
        party = ds.party_of_reference(ref.column)
        if party is None or (owner is not None and party.name == owner.name):
            out.append(ref)
    return tuple(out)


def _worth_walking(dm: DataMap, held: set[str], subjects: bool) -> set[str]:
    """Datasets whose rows may be held or lead up to held rows: held datasets, with subject holds every dataset
    with a subject or identities, and every dataset with a belongs-to reference to one of those."""
    out = set(held) | ({n for n, d in dm.datasets.items() if d.subject or d.identities} if subjects else set())
    grown = True
    while grown:
        grown = False
        for name, ds in dm.datasets.items():
            if name not in out and any(r.to_dataset in out for r in belongs_to(ds)):
                out.add(name)
                grown = True
    return out


class _Ancestry:
    """The plan's rows and the rows they belong to, transitively: rows by node, and each node's parents."""

    def __init__(self, decider: Decider, worth: set[str]):
        self.decider, self.dm, self.worth = decider, decider.dm, worth
        self.rows: dict[Node, dict[str, Any]] = {}
        self.parents: dict[Node, set[Node]] = {}

    def walk(self, start: dict[Node, dict[str, Any]]) -> None:
        """Read the ancestors of `start`, level by level: one query per dataset and reference and level."""
        self.rows.update(start)
        frontier: dict[str, dict[str, dict[str, Any]]] = {}
        for (name, kj), row in start.items():
            frontier.setdefault(name, {})[kj] = row
        while frontier:
            nxt: dict[str, dict[str, dict[str, Any]]] = {}
            for name, got in frontier.items():
                for ref in belongs_to(self.dm.datasets[name]):
                    if ref.to_dataset in self.worth and ref.to_dataset in self.dm.datasets:
                        self._up(name, got, ref, nxt)
            frontier = nxt

    def _up(self, name: str, got: dict[str, dict[str, Any]], ref: Reference,
            nxt: dict[str, dict[str, dict[str, Any]]]) -> None:
        values = {r[ref.column] for r in got.values() if r.get(ref.column) is not None}
        if not values:
            return
        parent = self.dm.datasets[ref.to_dataset]
        by_value: dict[str, list[Node]] = {}
        for g in self.decider.con(parent).select_in(parent, ref.to_column, values).dicts():
            node = (parent.name, key_json(row_key(parent, g)))
            by_value.setdefault(str(g.get(ref.to_column)), []).append(node)
            if node not in self.rows:
                self.rows[node] = g
                nxt.setdefault(parent.name, {})[node[1]] = g
        for kj, r in got.items():
            if r.get(ref.column) is not None:
                self.parents.setdefault((name, kj), set()).update(by_value.get(str(r[ref.column]), []))

    def ref(self, node: Node) -> str:
        ds = self.dm.datasets[node[0]]
        return f"{ds.name}:{format_key(row_key(ds, self.rows[node]))}"


def _subject_hashes(decider: Decider, ancestry: _Ancestry, node: Node) -> set[str]:
    """The hold keys a row matches: its `DATASET:KEY` and its identifiers (names and withheld fields aside)."""
    ds = decider.dm.datasets[node[0]]
    row = ancestry.rows[node]
    forms = {"ref:" + ancestry.ref(node)}
    digits = decider.dm.settings.phone_match_digits
    for kind, cols in ds.identities.items():
        if kind == NAME:
            continue
        for c in cols:
            v = row.get(c)
            if v not in (None, "", WITHHELD):
                forms |= holds.identifier_forms(str(v), digits)
    return {keyed_hash(decider.secret, f, holds.HOLD_PURPOSE) for f in forms}


def _holders(decider: Decider, ancestry: _Ancestry, on_dataset: dict[str, holds.Hold],
             on_subject: list[tuple[holds.Hold, set[str]]]) -> dict[Node, tuple[holds.Hold, Node]]:
    """For every node under a hold — held itself or belonging to a held row — the hold and the held row."""
    def held(node: Node) -> holds.Hold | None:
        if node[0] in on_dataset:
            return on_dataset[node[0]]
        if on_subject:
            hashes = _subject_hashes(decider, ancestry, node)
            return next((h for h, keys in on_subject if keys & hashes), None)
        return None

    children: dict[Node, list[Node]] = {}
    for child, parents in ancestry.parents.items():
        for p in parents:
            children.setdefault(p, []).append(child)
    out: dict[Node, tuple[holds.Hold, Node]] = {}
    queue: deque[Node] = deque()
    for node in sorted(ancestry.rows):
        h = held(node)
        if h is not None:
            out[node] = (h, node)
            queue.append(node)
    while queue:  # down from the held rows: what belongs to them is held with them (cycles end: seen once)
        node = queue.popleft()
        for child in sorted(children.get(node, [])):
            if child not in out:
                out[child] = out[node]
                queue.append(child)
    return out


def cover_holds(decider: Decider, rows: dict[Node, PlannedRow], data: dict[Node, dict[str, Any]]) -> int:
    """Block every row of the plan that is under an active hold or belongs (transitively) to a row under one (see
    the module docstring). Call it after deciding, before `settle` (which then keeps what blocked rows need).
    Returns how many rows it blocked. No query at all while no hold applies."""
    applying = [(h, keys) for h, keys in decider._active if h.applies_on(decider.as_of)]
    on_dataset: dict[str, holds.Hold] = {}
    for h, _ in applying:
        if h.scope == holds.DATASET and h.dataset:
            on_dataset.setdefault(h.dataset, h)
    on_subject = [(h, keys) for h, keys in applying if h.scope == holds.SUBJECT and keys]
    todo = {rid: pr for rid, pr in rows.items() if not (pr.action == BLOCKED and pr.hold_id)}
    if not todo or not (on_dataset or on_subject):
        return 0
    ancestry = _Ancestry(decider, _worth_walking(decider.dm, set(on_dataset), bool(on_subject)))
    ancestry.walk({rid: data[rid] for rid in todo})
    holders = _holders(decider, ancestry, on_dataset, on_subject)
    blocked = 0
    for rid, pr in todo.items():
        if rid not in holders:
            continue
        hold, at = holders[rid]
        if at == rid:
            reason, basis = f"blocked by {hold.describe()}", f"{B_HOLD}: {hold.hold_id} {hold.reason}"
        else:
            what = f"on dataset {hold.dataset}" if hold.scope == holds.DATASET else "on the person"
            held = ancestry.ref(at)
            reason = (f"blocked with {held}, held by {hold.hold_id} (legal hold {what}: {hold.reason}; owner "
                      f"{hold.owner}, since {hold.since}): it belongs to the held record")
            basis = f"{B_HOLD}: {hold.hold_id} {hold.reason} (with {held})"
        decider._block(pr, reason, basis)  # untouched, scheduled to be looked at on every due run
        pr.hold_id, pr.rule, pr.ground, pr.restricted, pr.kept_fingerprint = hold.hold_id, None, None, False, ""
        blocked += 1
    return blocked


__all__ = ["belongs_to", "cover_holds"]
