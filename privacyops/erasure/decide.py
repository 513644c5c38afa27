"""Deciding an erasure (Art. 17): for every record of a subject, the action and its reason — before anything
changes.

`plan_erasure(ws, case_id, identifier)` looks the person up (the same `lookup()` as everywhere) and decides, row
by row:

* **blocked** — an active legal hold covers the subject or the dataset; or a binding retention rule has not
  started counting (its anchor date is empty: `from: closed_at` while the contract runs). Untouched; scheduled to
  be looked at again. A rule with `keep_while_empty: true` instead **retains** such a record open-ended (the map says
  it is still needed while, say, the item is not returned), whatever the legal basis: restricted, no end date,
  looked at again on every due run. An anchor through a reference (`member_id.left_on`) reads the referenced row's
  date, fetched for all of a dataset's rows at once (`Decider.anchor_dates`).
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

from ..ledger import holds
from ..map import DataMap, Dataset, Reference, RetentionRule
from ..workspace import Workspace
from ..workspace.keys import workspace_secret
from . import masking, retention
from .plan import (
    B_ANCHOR,
    B_HOLD,
    B_RETENTION,
    BLOCKED,
    DELETE,
    MASK,
    RETAIN,
    PlannedRow,
    fingerprint,
    row_key,
)
from .retention_sql import referenced_anchors

# The basis of a record kept while its anchor is empty: an anchor kind (re-decided on every due run, like a
# record blocked for its anchor), told apart because it is retained — masked and restricted — already.
B_WHILE_EMPTY = f"{B_ANCHOR}, kept while empty"

# ---------------------------------------------------------------------------------------------------------------
# Deciding: retention (the part of `Decider` that reads rules and anchors).


class RetentionDecisions:
    """How a rule that holds against erasure decides a row, and the referenced anchors it reads (mixed into
    `Decider`, which provides `dm`, `as_of`, `con`, `retain` and `_block`)."""

    dm: DataMap
    as_of: dt.date
    _anchors: dict[str, dict[str, Any]]  # dataset -> {reference value: referenced anchor value}

    def anchor_dates(self, ds: Dataset, rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
        """The referenced rows' anchor values for `ds`'s rule anchored through a reference (`member_id.left_on`):
        {reference value as text: value}, cached per dataset. Values of `rows` not fetched yet are read in one
        query on the referenced dataset (per 1,000 values): call it with all of a dataset's rows before deciding
        them, so that deciding never queries per row. {} for a rule counting from the row's own column."""
        rule = self.dm.retention.get(ds.retention) if ds.retention else None
        if rule is None or rule.anchor.via is None:
            return {}
        cache = self._anchors.setdefault(ds.name, {})
        via = rule.anchor.via
        missing = {str(r[via]): r[via] for r in rows if r.get(via) is not None and str(r[via]) not in cache}
        if missing:
            ref = ds.reference(via)
            parent = self.dm.datasets[ref.to_dataset]
            got = referenced_anchors(self.con(parent), parent, ref.to_column, rule.anchor.field, missing.values())
            cache.update({k: got.get(k) for k in missing})  # None: no such row (an empty anchor); not asked again
        return cache

    def by_retention(self, pr: PlannedRow, ds: Dataset, row: dict[str, Any], rule: RetentionRule,
                     referenced: dict[str, Any]) -> PlannedRow:
        """A rule that holds against erasure for this row (`retention.binding_rule`): kept open-ended while the
        anchor is empty (`keep_while_empty`, whatever the legal basis), else — a legal obligation — blocked until
        the anchor is reached, retained until the rule's date, or ended. (A non-binding rule with a filled anchor
        never gets here: it is a maximum, `by_policy`.)"""
        pr.rule, pr.ground = rule.name, rule.ground
        column = rule.anchor.column
        if retention.kept_while_empty(rule, row, referenced):
            self.retain(pr, ds, row, None, f"kept while {column} is empty ({rule.name}: {rule.ground}); then "
                                           f"{rule.keep} from {rule.anchor}; restricted (Art. 18)",
                        f"{B_WHILE_EMPTY}: {rule.name} — {rule.ground}", why=f"not needed by {rule.name}")
            return pr
        try:
            until = retention.retained_until(rule, row, self.dm.settings, referenced)
        except retention.AnchorError as exc:
            until = None
            pr.notes.append(f"{column}: {exc}")
        if until is None:
            self._block(pr, f"blocked: retention anchor not reached — {rule.name} keeps {rule.keep} from "
                            f"{rule.anchor}, and {column} is empty ({rule.ground})",
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


# ---------------------------------------------------------------------------------------------------------------
# Deciding.


class Decider(RetentionDecisions):
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
        self._anchors: dict[str, dict[str, Any]] = {}  # dataset -> {reference value: referenced anchor value}

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
        referenced = self.anchor_dates(ds, [row])
        rule = retention.binding_rule(self.dm, ds, row, referenced)
        if hold is not None:
            self._block(pr, f"blocked by {hold.describe()}", f"{B_HOLD}: {hold.hold_id} {hold.reason}")
            pr.hold_id = hold.hold_id
            return pr
        if rule is not None:
            return self.by_retention(pr, ds, row, rule, referenced)
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
