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
declared foreign key), is kept instead, minimised to its key and restricted until the rows referencing it go; an
`ON DELETE CASCADE` or `SET NULL` the plan did not decide refuses the plan (`settle`). Every masked value is one
the column accepts (NULL, length, UNIQUE, CHECK, the map's placeholder: `masking`); a personal field no value can
hide refuses the plan, with the map line to change (`MaskingDecisions`).
Rows the lookup shows as shared with another person, reference data (context) and other people's rows mentioning
the subject are never touched; the plan lists them for review.

The plan (`erasure_plan.ErasurePlan`) is stored in the ledger; nothing changes until a second person approves it
(`erasure_plan.approve_plan`) and someone executes it (`erasure.execute_plan`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from ..errors import SourceError
from ..ledger import holds
from ..ledger.keyring import workspace_key
from ..map import DataMap, Dataset, RetentionRule
from ..sources import ForeignKey as StoreForeignKey
from ..workspace import Workspace
from ..workspace.keys import forward_forms
from . import masking, retention
from .plan import (
    B_ANCHOR,
    B_HOLD,
    B_RETENTION,
    BLOCKED,
    DELETE,
    MASK,
    RETAIN,
    ErasureError,
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
# Deciding: masking (the part of `Decider` that asks the store what a column accepts).


def map_place(dm: DataMap, *dotted: str) -> str:
    """Where in the map to change something: `line 42, datasets.rental.erasure.mask.return_date` for the first of
    `dotted` that is written in the map (a missing key: its nearest written parent, given last)."""
    for d in dotted:
        line = dm.line_of(d)
        if line:
            return f"line {line}, {d}"
    return dotted[-1] if dotted else "the map"


class MaskingDecisions:
    """Which value each masked field gets, held to what the store declares (mixed into `Decider`, which provides
    `dm`, `secret` and `con(ds)`). Fields that cannot be masked are collected as refusals; `settle` raises them."""

    dm: DataMap
    secret: bytes
    _infos: dict[str, dict[str, masking.ColumnInfo]]
    _checked: dict[tuple, bool]
    _personal: dict[str, set[str]]
    refusals: dict[tuple[str, str], list[tuple[str, str]]]  # row (rid) -> [(column, why it cannot be masked)]

    def info(self, ds: Dataset) -> dict[str, masking.ColumnInfo]:
        """What each live column of `ds` accepts (asked once per dataset)."""
        if ds.name not in self._infos:
            self._infos[ds.name] = masking.column_info(self.con(ds), ds)
        return self._infos[ds.name]

    def personal(self, ds: Dataset) -> set[str]:
        """The map's personal fields of `ds` (worked out from the categories: asked once per dataset, not per row)."""
        if ds.name not in self._personal:
            self._personal[ds.name] = set(ds.personal_fields())
        return self._personal[ds.name]

    def ignored(self, ds: Dataset) -> set[str]:
        """Columns erasure never writes and verification never compares: the map's `maintained` (the store keeps
        them current) and generated columns (the store computes them)."""
        return set(ds.maintained) | {c for c, i in self.info(ds).items() if i.generated}

    def _check_test(self, ds: Dataset, row: dict[str, Any], col: str) -> masking.CheckTest | None:
        """Whether the store's CHECK constraints on `col` refuse a candidate in `row` (the row as masked so far)."""
        info = self.info(ds)
        checks = info[col].checks if col in info else ()
        if not checks:
            return None

        def test(value: Any) -> str | None:
            trial = {**row, col: value}
            return next((c for c in checks if self._refused(ds, c, trial)), None)

        return test

    def _refused(self, ds: Dataset, check: str, row: dict[str, Any]) -> bool:
        """One CHECK on one row, asked of the store once per distinct values of the columns it names."""
        info = self.info(ds)
        cols = masking.check_columns(check, row)
        values = {c: row[c] for c in cols}
        key = (ds.name, check, repr(sorted(values.items())))
        if key not in self._checked:
            try:
                self._checked[key] = masking.check_refuses(self.con(ds), check, values,
                                                           {c: info[c].type for c in cols if c in info})
            except SourceError:
                self._checked[key] = False  # the store cannot evaluate it on its own: its write will say
        return self._checked[key]

    def apply_masks(self, pr: PlannedRow, ds: Dataset, row: dict[str, Any], keep: set[str] | None,
                    targets: set[str] | None = None, why: str = "") -> None:
        """Fill `pr.masks` / `pr.kept`: with `keep`, every other column is masked; with `targets`, only those.
        Columns the store writes itself are left to it; a personal field (or one the map names) that no value can
        hide is refused, another is kept with a note."""
        info = self.info(ds)
        policy = ds.erasure.mask
        pk, ignored, personal = set(ds.primary_key), self.ignored(ds), self.personal(ds)
        pr.masks, pr.kept = {}, []
        self.refusals.pop(pr.rid, None)  # decided again (kept under a rule, then minimised): the last word counts
        masked_row = dict(row)
        for col in row:
            masked = (col not in keep) if keep is not None else (col in (targets or set()))
            if col in pk or not masked:
                pr.kept.append(col)
                continue
            ci = info.get(col, masking.ColumnInfo("other"))
            if col in ignored:
                pr.kept.append(col)
                if col in policy or col in personal:
                    pr.notes.append(f"{col}: {'computed' if ci.generated else 'maintained'} by the store, never "
                                    f"written by erasure")
                continue
            try:
                value, strategy, note = masking.masked_value(policy.get(col), row[col], ci, self.secret,
                                                             ds.erasure.placeholders.get(col),
                                                             self._check_test(ds, masked_row, col))
            except masking.NoMaskedValue as exc:
                pr.kept.append(col)
                if col in policy or col in personal:
                    self._refuse(pr, ds, col, ci, str(exc))
                else:  # not personal data in the map: kept, as the map describes it
                    pr.notes.append(f"{col}: cannot be masked ({exc}); kept: not personal data in the map")
                continue
            masked_row[col] = value
            reason = f"map: {policy[col]}" if col in policy else why
            pr.masks[col] = {"value": value, "strategy": strategy, "reason": reason, **({"note": note} if note
                                                                                          else {})}
        self._recheck(pr, ds, masked_row)
        pr.kept_fingerprint = fingerprint(row, skip=[*pr.masks, *ignored])

    def _recheck(self, pr: PlannedRow, ds: Dataset, masked_row: dict[str, Any]) -> None:
        """The row as the plan leaves it against every CHECK its masked columns take part in (a check on two
        columns may pass each mask alone and refuse both)."""
        info = self.info(ds)
        checks = dict.fromkeys(c for col in pr.masks if col in info for c in info[col].checks)
        for check in checks:
            if self._refused(ds, check, masked_row):
                cols = [c for c in masking.check_columns(check, masked_row) if c in pr.masks]
                where = map_place(self.dm, *(f"datasets.{ds.name}.erasure.mask.{c}" for c in cols),
                                  f"datasets.{ds.name}.erasure", f"datasets.{ds.name}")
                text = (f"masking {', '.join(cols)} of dataset {ds.name} leaves rows the store's check {check} "
                        f"refuses: give one of them a placeholder that passes it in the map ({where}): mask: "
                        f"{{{cols[0]}: {{value: ...}}}}")
                self.refusals.setdefault(pr.rid, []).append((cols[0], text))

    def _refuse(self, pr: PlannedRow, ds: Dataset, col: str, ci: masking.ColumnInfo, why: str) -> None:
        """A field erasure must mask and cannot: the plan is refused, saying where the map can fix it."""
        base = f"datasets.{ds.name}"
        where = map_place(self.dm, f"{base}.erasure.mask.{col}", f"{base}.erasure.mask", f"{base}.erasure",
                          base)
        if ds.erasure.mask.get(col) == masking.VALUE:
            text = f"column {col} of dataset {ds.name}: {why}; change the placeholder in the map ({where})"
        elif not ci.nullable:
            text = (f"column {col} of dataset {ds.name} is NOT NULL and has no value that hides the data ({why}): "
                    f"give it a placeholder in the map ({where}): mask: {{{col}: {{value: ...}}}}")
        else:
            text = (f"column {col} of dataset {ds.name} has no masked value the store accepts ({why}): give it a "
                    f"placeholder in the map ({where}): mask: {{{col}: {{value: ...}}}}")
        self.refusals.setdefault(pr.rid, []).append((col, text))

    def raise_refusals(self, rows: dict[tuple[str, str], PlannedRow],
                       more: dict[tuple[str, str], list[str]] | None = None) -> None:
        """Refuse the plan (ErasureError, nothing stored) when a field of a row that stays cannot be masked, or
        (`more`, from `settle`) the store would change rows the plan does not decide for a row that goes: every
        reason once, with the rows it concerns."""
        by_text: dict[str, list[str]] = {}
        for rid, found in self.refusals.items():
            pr = rows.get(rid)
            if pr is not None and pr.action in (MASK, RETAIN):
                for col, t in found:
                    if col not in pr.withheld:  # another party's field is never written for this subject
                        by_text.setdefault(t, []).append(pr.ref)
        for rid, texts in (more or {}).items():
            pr = rows.get(rid)
            if pr is not None and pr.action == DELETE:
                for t in texts:
                    by_text.setdefault(t, []).append(pr.ref)
        if by_text:
            raise ErasureError("the erasure cannot be planned as the map stands — " + " | ".join(
                f"{t} ({len(r)} record(s): {', '.join(r[:3])}{' …' if len(r) > 3 else ''})"
                for t, r in by_text.items()))


# ---------------------------------------------------------------------------------------------------------------
# Deciding.


class Decider(RetentionDecisions, MaskingDecisions):
    """Decides rows of one plan: holds, binding retention, the dataset's policy, then references."""

    def __init__(self, ws: Workspace, as_of: dt.date, hold_hashes: Iterable[str] = (),
                 datasets: Iterable[str] | None = None):
        self.ws, self.dm, self.as_of = ws, ws.datamap, as_of
        self.secret = workspace_key(ws)  # checked against the ledger: a lost or foreign key stops the plan here
        names = list(datasets) if datasets is not None else list(self.dm.datasets)
        self._active = holds.active_holds(ws)  # read once; subjects are matched in memory
        # hashes kept in an earlier plan may be of an earlier key generation: carried to the current one
        forms = forward_forms(self.secret, list(hold_hashes))
        self.subject_holds, self.dataset_holds = holds.match(self._active, forms, names, as_of)
        self._infos: dict[str, dict[str, masking.ColumnInfo]] = {}
        self._keys: dict[str, list[StoreForeignKey]] = {}
        self._checked: dict[tuple, bool] = {}  # (dataset, check, values) -> refused
        self._personal: dict[str, set[str]] = {}  # dataset -> its personal fields
        self.refusals: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._anchors: dict[str, dict[str, Any]] = {}  # dataset -> {reference value: referenced anchor value}
        self._binding: dict[str, tuple[RetentionRule | None, bool]] = {}  # dataset -> (rule, binding by purpose)

    def set_holds(self, hold_hashes: Iterable[str]) -> None:
        self.subject_holds, _ = holds.match(self._active, forward_forms(self.secret, list(hold_hashes)), [],
                                            self.as_of)

    def con(self, ds: Dataset):
        return self.ws.connector(ds.source)

    def keys(self, ds: Dataset) -> list[StoreForeignKey]:
        """The store's foreign keys declared on `ds`'s table tree, whole (asked once per dataset)."""
        if ds.name not in self._keys:
            self._keys[ds.name] = masking.declared_keys(self.con(ds), ds)
        return self._keys[ds.name]

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
        rule = self.binding_rule(ds, row, referenced)
        if hold is not None:
            self._block(pr, f"blocked by {hold.describe()}", f"{B_HOLD}: {hold.hold_id} {hold.reason}")
            pr.hold_id = hold.hold_id
            return pr
        if rule is not None:
            return self.by_retention(pr, ds, row, rule, referenced)
        return self.by_policy(pr, ds, row)

    def binding_rule(self, ds: Dataset, row: dict[str, Any], referenced: dict[str, Any]) -> RetentionRule | None:
        """`retention.binding_rule` for one row, what depends only on the dataset worked out once."""
        if ds.name not in self._binding:
            rule = self.dm.retention.get(ds.retention) if ds.retention else None
            self._binding[ds.name] = (rule, rule is not None and retention.is_binding(self.dm, ds))
        rule, always = self._binding[ds.name]
        if rule is None or not (always or retention.kept_while_empty(rule, row, referenced)):
            return None
        return rule

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
