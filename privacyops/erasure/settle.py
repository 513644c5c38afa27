"""Rows of a plan together: what belongs to a kept record stays with it, what belongs to a deleted one goes, and a
row that staying rows still point at is decided by what the store does when it is deleted.

Every foreign key the store reports counts (`Connector.foreign_keys`: on the table, its partitions, inheritance
children, the partitioned parent), whether or not the map lists the reference, and so does every map reference
(enforced or not). For a row to delete that rows staying behind still point at:

* an enforced key that refuses the delete (NO ACTION, RESTRICT; deferrable ones at commit): the row is kept,
  minimised to its key and the referenced columns, and restricted; the plan names the key;
* ON DELETE CASCADE: the store would delete rows the plan does not list or keeps: the plan is refused;
* ON DELETE SET NULL / SET DEFAULT: the store would change a column of a row that stays, which the plan does not
  mask to NULL: the plan is refused;
* nothing enforces the link (another store, DuckDB without keys, files): the row is deleted, the plan notes the
  key left dangling.

Rows that both go, linked by a key the map does not list, are refused too when erasure's order (children first,
by the map's references) would delete the referenced row first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..map import Dataset, Reference
from ..sources import CASCADE, NO_ACTION, RESTRICT, SET_NULL
from ..sources import ForeignKey as StoreForeignKey
from . import masking, retention
from .canonical import key_text
from .decide import Decider, map_place
from .plan import (
    B_REFERENCED,
    B_WITH,
    BLOCKED,
    DELETE,
    MASK,
    RETAIN,
    PlannedRow,
    dataset_order,
    row_key,
)


def settle(decider: Decider, rows: dict[tuple[str, str], PlannedRow], data: dict[tuple[str, str], dict[str, Any]],
           inherit: bool = True) -> None:
    """Top-down: rows that belong to a kept record and serve its obligation stay with it; rows of a deleted
    record go with it. Bottom-up: a row to be deleted that rows staying behind reference through an enforced
    foreign key is kept, minimised."""
    dm = decider.dm
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
            same_duty = retention.is_binding(dm, ds) and not ds.retention  # serves a kept parent's obligation
            for pr in by_ds.get(name, []):
                if pr.action in (RETAIN, BLOCKED) and (pr.hold_id or pr.rule):
                    continue  # decided by its own hold or rule
                if not pr.owner:
                    continue  # the subject only appears in the row: it follows its owner, not them
                row = data[pr.rid]
                parents = parents_of(ds, row)
                kept = [p for p in parents if p.action in (RETAIN, BLOCKED)]
                if kept and same_duty:
                    p = max(kept, key=lambda p: (p.action == BLOCKED, p.until or dt.date.max))
                    if p.action == BLOCKED:  # the parent's kind of basis: looked at again with it
                        decider._block(pr, f"kept with {p.ref}, which is blocked ({p.reason})",
                                    f"{p.basis} (kept with {p.dataset})")
                    else:
                        pr.rule, pr.ground = p.rule, p.ground
                        until = f"until {p.until}" if p.until else "as long as it is kept"
                        decider.retain(pr, ds, row, p.until, f"kept with {p.ref} {until} ({p.rule}: "
                                                          f"{p.ground}); restricted (Art. 18)",
                                    f"{B_WITH} {p.dataset}: {p.basis}", why=f"not needed by {p.rule}")
                elif pr.action == MASK and any(p.action == DELETE for p in parents):
                    gone = next(p for p in parents if p.action == DELETE)
                    pr.action, pr.masks, pr.kept = DELETE, {}, []
                    pr.reason = f"belongs to {gone.ref}, which is deleted"

    # Bottom-up: rows to delete that rows staying behind still point at.
    _bottom_up(decider, rows, data, by_ds, order)


# ---------------------------------------------------------------------------------------------------------------
# Rows that point at rows to delete.

HOLDS = (NO_ACTION, RESTRICT)  # the store refuses the delete: the referenced row must stay


@dataclass
class Link:
    """Rows of `child` pointing at rows of a dataset, column pairs (child column, referenced column): as the map
    says (`ref`) and as the store declares (`keys`: the whole foreign keys, all with one ON DELETE action; a key
    each partition repeats is one link)."""

    child: Dataset
    pairs: tuple[tuple[str, str], ...]
    ref: Reference | None
    keys: list[StoreForeignKey] = field(default_factory=list)

    @property
    def action(self) -> str | None:
        """The store's ON DELETE action (None: nothing enforces the link)."""
        return self.keys[0].on_delete if self.keys else None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.pairs)

    @property
    def where(self) -> str:
        return f"{self.child.name}.{'/'.join(self.columns)}"

    def enforced_by(self) -> str:
        return ", ".join(masking.describe_key(k) for k in self.keys)


def links_to(decider: Decider, ds: Dataset) -> list[Link]:
    """Every link pointing at `ds`'s rows: the store's foreign keys from the mapped datasets of its source (their
    partitions and children included), then the map's references no store key covers."""
    dm, con = decider.dm, decider.con(ds)
    out: list[Link] = []
    covered: set[tuple[str, str]] = set()
    for other in dm.datasets.values():
        if other.source != ds.source:
            continue
        groups: dict[tuple, Link] = {}
        for fk in decider.keys(other):
            if not con.points_at(fk, ds):
                continue
            pairs = tuple(fk.pairs())
            ref = next((r for r in other.references if r.to_dataset == ds.name and r.column in fk.columns), None)
            link = groups.setdefault((pairs, fk.on_delete), Link(other, pairs, ref))
            link.keys.append(fk)
            covered |= {(other.name, c) for c in fk.columns}
        out += groups.values()
    for other in dm.datasets.values():
        for ref in other.references:
            if ref.to_dataset == ds.name and (other.name, ref.column) not in covered:
                out.append(Link(other, ((ref.column, ref.to_column),), ref))
    return out


def _value(row: dict[str, Any], columns: tuple[str, ...]) -> tuple[str, ...] | None:
    """The columns' values as text (how rows of two tables are matched), None when one is empty."""
    if len(columns) == 1:  # the usual link: one column (asked for every row of both sides)
        v = row.get(columns[0])
        return None if v is None else (str(v),)
    vals = tuple(row.get(c) for c in columns)
    return None if any(v is None for v in vals) else tuple(str(v) for v in vals)


@dataclass
class Pointer:
    """A row that stays and points at a row to delete."""

    link: Link
    rid: tuple[str, str]
    planned: Any  # its PlannedRow, or None: not part of this plan


def _pointing(decider: Decider, link: Link, deleted: list[Any], rows: dict, data: dict,
              order_pos: dict[str, int], ds: Dataset) -> dict[tuple[str, str], list[Pointer]]:
    """{rid of a row to delete: the rows through `link` that stay and point at it}. Rows the plan deletes too
    are not pointers, but when the map does not list their link, erasure's order may delete the referenced row
    first: such a pair is a pointer too (the store would refuse, or cascade before the plan's delete)."""
    parents = [c for _, c in link.pairs]
    wanted: dict[tuple[str, ...], list[Any]] = {}
    for pr in deleted:
        v = _value(data[pr.rid], tuple(parents))
        if v is not None:
            wanted.setdefault(v, []).append(pr)
    if not wanted:
        return {}
    first = {data[pr.rid][parents[0]] for prs in wanted.values() for pr in prs}
    con = decider.con(link.child)  # one semi-join where the store has it, not an IN list per 1,000 values
    got = getattr(con, "select_in_joined", con.select_in)(link.child, link.columns[0], first).dicts()
    out: dict[tuple[str, str], list[Pointer]] = {}
    cols, child = link.columns, link.child
    # a row the plan deletes too points "early" when erasure's order would delete the referenced row first
    early = (link.ref is None and link.keys and child.name != ds.name and link.action != SET_NULL
             and not all(k.initially_deferred for k in link.keys)
             and order_pos.get(child.name, 0) > order_pos.get(ds.name, 0))
    for g in got:
        targets = wanted.get(_value(g, cols) or ())
        if not targets:
            continue
        rid = (child.name, key_text(row_key(child, g)))
        planned = rows.get(rid)
        if planned is not None and any(c in planned.masks for c in cols):
            continue  # no longer pointing at the row: the plan masks the reference
        if planned is not None and planned.action == DELETE and not early:
            continue  # gone with it, in an order the store accepts
        for pr in targets:
            if rid != pr.rid:  # a row pointing at itself goes with itself
                out.setdefault(pr.rid, []).append(Pointer(link, rid, planned))
    return out


def _bottom_up(decider: Decider, rows: dict, data: dict, by_ds: dict[str, list[PlannedRow]],
               order: list[str]) -> None:
    """Decide every row to delete that staying rows point at (see the module docstring), dataset by dataset,
    children first. A dataset that looked at rows kept only later in the pass (a key the map does not list may run
    against the map's order) is looked at again. Refusals are raised at the end, all at once."""
    pos = {n: i for i, n in enumerate(order)}
    links: dict[str, list[Link]] = {}
    problems: dict[tuple[str, str], list[str]] = {}
    pending = list(order)
    while pending:
        step_of: dict[str, int] = {}
        changed: dict[str, int] = {}  # dataset -> the step its rows were kept at
        for step, name in enumerate(pending):
            deletes = [pr for pr in by_ds.get(name, []) if pr.action == DELETE]
            if not deletes:
                continue
            step_of[name] = step
            ds = decider.dm.datasets[name]
            if name not in links:
                links[name] = links_to(decider, ds)
            pointers: dict[tuple[str, str], list[Pointer]] = {}
            for link in links[name]:
                for rid, ps in _pointing(decider, link, deletes, rows, data, pos, ds).items():
                    pointers.setdefault(rid, []).extend(ps)
            for pr in deletes:
                problems.pop(pr.rid, None)
                if _decide_pointed(decider, ds, pr, data[pr.rid], pointers.get(pr.rid, []), problems):
                    changed.setdefault(name, step)
        pending = [n for n, step in step_of.items()
                   if any(changed.get(link.child.name, -1) > step for link in links.get(n, []))]
    decider.raise_refusals(rows, problems)


def _decide_pointed(decider: Decider, ds: Dataset, pr: PlannedRow, row: dict[str, Any], pointers: list[Pointer],
                    problems: dict[tuple[str, str], list[str]]) -> bool:
    """One row to delete and the rows pointing at it: kept minimised (True), refused (in `problems`), or deleted
    with a note on the keys left dangling."""
    if not pointers:
        return False
    early = [p for p in pointers if p.planned is not None and p.planned.action == DELETE]  # in the wrong order
    staying = [p for p in pointers if p not in early]
    holding = [p for p in staying if p.link.keys and p.link.action in HOLDS]
    if holding:  # the row stays: no cascade, no SET NULL, no order to keep
        _minimise(decider, ds, pr, row, holding)
        return True
    changing = [p for p in staying if p.link.keys] + early
    if changing:
        problems[pr.rid] = _refusals(decider, ds, changing)
        return False
    where = sorted({p.link.where.replace("/", ", ") for p in pointers})
    pr.notes.append(f"{len(pointers)} record(s) that stay still hold its key ({', '.join(where)}); "
                    f"the store does not enforce the link")
    return False


def _minimise(decider: Decider, ds: Dataset, pr: PlannedRow, row: dict[str, Any], holding: list[Pointer]) -> None:
    """Keep a row the store will not let go while `holding` rows point at it: its key and the referenced columns,
    restricted until they go; the plan names the keys that enforce each link."""
    others = [p.planned for p in holding]
    until = None if any(o is None or o.until is None for o in others) else max(o.until for o in others)
    fk = sorted({p.link.where for p in holding})
    extra = {c for p in holding for _, c in p.link.pairs}
    pr.rule = pr.ground = None
    outside = sum(1 for o in others if o is None)
    what = (f"{len(others) - outside} record(s) kept by this plan" if not outside else
            f"{outside} other record(s) not part of this erasure" if outside == len(others) else
            f"{len(others)} record(s) that stay")
    decider.retain(pr, ds, row, until, f"kept, minimised to its key: {what} reference it and the store "
                                      f"enforces the link ({', '.join(fk)}); restricted (Art. 18)",
                   f"{B_REFERENCED}: by {', '.join(fk)}", why="minimised",
                   keep=set(ds.primary_key) | extra)  # the key and what the references need, nothing more
    for link in {id(p.link): p.link for p in holding}.values():
        pr.notes.append(f"{link.where}: enforced by {link.enforced_by()}")


def _refusals(decider: Decider, ds: Dataset, changing: list[Pointer]) -> list[str]:
    """Why the store's own action on deleting a row (a cascade, SET NULL, or a delete in the wrong order) refuses
    the plan: one text per link and situation, saying which key, which rows, and where the map can change it."""
    dm = decider.dm
    out = []
    groups: dict[tuple[int, str], list[Pointer]] = {}
    for p in changing:
        state = ("deletes" if p.planned is not None and p.planned.action == DELETE else
                 "keeps" if p.planned is not None else "outside")
        groups.setdefault((id(p.link), state), []).append(p)
    for (_, state), ps in groups.items():
        link = ps[0].link
        child = link.child.name
        rows_said = {"deletes": "that this plan deletes too, in an order that deletes the referenced row first",
                     "keeps": "that this plan keeps",
                     "outside": "that this plan does not list"}[state]
        key = f"the store's foreign key {link.enforced_by()} from {link.where.replace('/', ', ')} to {ds.name}"
        suggest = next((c for c in link.pairs if c[0].endswith("_id")), link.pairs[-1])
        add = (f"list the reference in the map so the plan decides those rows: add {suggest[0]}: "
               f"{ds.name}.{suggest[1]} under references of {child} "
               f"({map_place(dm, f'datasets.{child}.references', f'datasets.{child}')})")
        keep_parent = (f"keep {ds.name}'s rows masked instead of deleted: erasure: {{action: mask}} "
                       f"({map_place(dm, f'datasets.{ds.name}.erasure', f'datasets.{ds.name}')})")
        if state == "deletes":
            out.append(f"deleting {ds.name} rows: {key} is not in the map, and erasure deletes in the map's order: "
                       f"{len(ps)} {child} record(s) {rows_said}; {add}")
        elif link.action == CASCADE:
            out.append(f"deleting {ds.name} rows: {key} is ON DELETE CASCADE and would delete {len(ps)} {child} "
                       f"record(s) with them {rows_said} — a cascade the plan did not decide is refused; "
                       + (add if link.ref is None else keep_parent))
        else:
            to = "NULL" if link.action == SET_NULL else "its default"
            cols = ", ".join(link.columns)
            base = f"datasets.{child}"
            fix = (f"mask {cols} in the rows the plan keeps: leave it out of erasure.keep_fields of {child} "
                   f"({map_place(dm, f'{base}.erasure.keep_fields', f'{base}.erasure', base)})"
                   if state == "keeps" and link.action == SET_NULL else add if link.ref is None else keep_parent)
            out.append(f"deleting {ds.name} rows: {key} is ON DELETE {link.action.upper()} and would set {cols} "
                       f"to {to} in {len(ps)} {child} record(s) {rows_said}, which the plan does not mask to "
                       f"NULL — a change the plan did not decide is refused; {fix}")
    return out
