"""Rectification (GDPR Art. 16): correct a subject's inaccurate personal data, everywhere it is stored.

Two steps, so an analyst sees what will change before anything does:

* `plan_rectification(ws, case_id, identifier, changes={"dataset.field": value})` finds the person (the same
  `lookup()` every other operation uses), converts each new value to the column's live type, and lists every row and
  field that would change — with `propagate` (the default) also every other place among the person's own records
  that holds the same current value (e-mails compared lower-cased and trimmed, phone numbers on their digits, other
  values exactly), flagged "same value also stored here". Nothing is written; bad input is refused with a clear
  error before any data is read.
* `apply_rectification(ws, plan)` (in `apply.py`) writes the plan: one transaction per source, rows addressed by
  primary key. It first re-reads every affected row and refuses if anything changed since planning, then writes,
  then re-reads and verifies. The audit entry holds counts and keyed hashes of the old and new values — never the
  values.

Never changed: primary keys and reference columns (links would break), rows held only under an identifier the
person shares with someone else (`SubjectRecords.shared`), shared reference data (context), other people's rows.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..ledger import OPEN, get_case
from ..lookup import AMBIGUOUS, FOUND, DatasetRecords, SubjectRecords, lookup
from ..map import Dataset
from ..sources import type_family
from ..values import format_key
from ..workspace import Workspace
from .fields import changeable_fields, field_tags, locked_columns, match_mode
from .model import (
    REQUESTED,
    SAME_VALUE,
    FieldChoice,
    PlannedChange,
    RectificationError,
    RectificationPlan,
    Untouched,
    show,
)
from .values import Matcher, check_shape, convert, distinct_key, same_value, type_of

RECTIFICATION = "rectification"
MAX_CHOICES_PER_FIELD = 25  # distinct values offered per field in `choices()` (a panel dropdown)

_TARGET_RE = re.compile(r"^\s*(?P<path>[^\[\]=]+?)\s*(?:\[(?P<key>[^\[\]]*)\])?\s*$")

_Place = tuple[str, tuple, str]  # (dataset, key, field): one field of one row


# -- parsing what the user asked for ----------------------------------------------------------------------------


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`["dataset.field=value", ...]` (the CLI's --set) -> {"dataset.field": "value"}; refuses malformed or
    repeated targets."""
    out: dict[str, str] = {}
    for item in items:
        target, sep, value = item.partition("=")
        if not sep or not target.strip():
            raise RectificationError(f"--set '{item}': write dataset.field=value (e.g. crm.customers.email="
                                     f"jane@example.com); dataset.field[KEY]=value picks one row")
        target = target.strip()
        if target in out:
            raise RectificationError(f"--set {target} is given twice; give each field once")
        out[target] = value
    return out


@dataclass
class _Target:
    """One requested change, checked against the map and the live column type."""

    text: str
    ds: Dataset
    column: str
    key: str | None  # a row selector (primary key value as text), or None: every row of the person's
    sql_type: str
    value: Any  # converted


def _parse_target(ws: Workspace, text: str) -> tuple[Dataset, str, str | None]:
    """A target "dataset.field[KEY]" -> the dataset, the field and the row selector; refuses unknown, locked and
    composite-key targets (with the nearest name when it looks like a typo)."""
    dm = ws.datamap
    m = _TARGET_RE.match(text)
    path = m.group("path") if m else text
    name, dot, column = path.rpartition(".")
    if not m or not dot or not name or not column:
        raise RectificationError(f"'{text}' is not dataset.field (e.g. crm.customers.email); datasets: "
                                 f"{', '.join(dm.datasets)}")
    if name not in dm.datasets:
        near = difflib.get_close_matches(path, [f"{d}.{f}" for d in dm.datasets for f in dm.datasets[d].fields],
                                         n=1, cutoff=0.75)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise RectificationError(f"unknown dataset '{name}' in '{text}'{hint}; datasets: {', '.join(dm.datasets)}")
    ds = dm.datasets[name]
    locked = locked_columns(ws, ds)
    if column in locked:
        raise RectificationError(f"{name}.{column} is {locked[column]}: changing keys would break links; "
                                 f"rectify the other fields ({', '.join(changeable_fields(ws, ds)) or 'none'}), or "
                                 f"have the system's owner re-key the record")
    if column not in ds.fields:
        near = difflib.get_close_matches(column, list(ds.fields), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise RectificationError(f"unknown field '{column}' in {name}{hint}; fields that can be rectified: "
                                 f"{', '.join(changeable_fields(ws, ds)) or 'none'}"
                                 + (f" (keys and references, never changed: {', '.join(locked)})" if locked else ""))
    if len(ds.primary_key) != 1:
        raise RectificationError(f"{name} has a composite primary key ({', '.join(ds.primary_key)}): rectification "
                                 f"addresses rows by a single-column key; change it with the system's own tools")
    key = m.group("key")
    return ds, column, (key.strip() if key is not None else None)


def _read_targets(ws: Workspace, changes: dict[str, Any]) -> list[_Target]:
    """What was asked, checked against the map and the live column types before any personal data is read."""
    targets: list[_Target] = []
    with ws.session():
        for text, raw in changes.items():
            ds, column, key = _parse_target(ws, str(text))
            live = ws.connector(ds.source).columns(ds)
            if column not in live:
                raise RectificationError(f"{ds.name}.{column} is in the data map but not in the source "
                                         f"'{ds.source}'; run `privacyops check`")
            where = f"{ds.name}.{column}"
            value = check_shape(ds, column, convert(raw, live[column], where), where)
            if any(t.ds.name == ds.name and t.column == column and t.key == key for t in targets):
                raise RectificationError(f"{where} is given twice; give each field once")
            targets.append(_Target(str(text).strip(), ds, column, key, live[column], value))
    return targets


# -- planning ---------------------------------------------------------------------------------------------------


def check_case(ws: Workspace, case_id: str | None) -> None:
    """Refuse unless `case_id` is an open rectification case (planning and applying both check)."""
    if not case_id or not str(case_id).strip():
        raise RectificationError("a rectification belongs to a case: open one with `privacyops case open --type "
                                 "rectification --received YYYY-MM-DD` and give its id")
    case = get_case(ws, case_id)  # CaseError for an unknown case
    if case.type != RECTIFICATION:
        raise RectificationError(f"case {case_id} is a{'n' if case.type[0] in 'aeio' else ''} {case.type} case; "
                                 f"rectify under a {RECTIFICATION} case (privacyops case open --type "
                                 f"{RECTIFICATION} ...)")
    if case.status != OPEN:
        raise RectificationError(f"case {case_id} is {case.status}; rectify under an open case")


def find_subject(ws: Workspace, identifier: str | None = None, *, pick: str | None = None,
                 case_id: str | None = None) -> SubjectRecords:
    """The lookup a rectification starts from (audited as a lookup under the case)."""
    return lookup(ws, identifier, pick=pick, case_id=case_id, mentions=False)


def _require_one(records: SubjectRecords) -> None:
    """Refuse unless the lookup found exactly one person with records (people are never merged)."""
    if records.status == AMBIGUOUS:
        listed = "; ".join(f"{c.ref} ({c.label})" for c in records.candidates[:10])
        more = f" and {len(records.candidates) - 10} more" if len(records.candidates) > 10 else ""
        raise RectificationError(f"{len(records.candidates)} people match '{records.query}': {listed}{more}. "
                                 f"Say which one with pick (--pick DATASET:KEY); people are never merged")
    if records.status != FOUND or not records.records:
        raise RectificationError(f"no records found for '{records.query}' (searched as {records.kind}); "
                                 f"nothing to rectify")


def _key_of(ds: Dataset, row: dict[str, Any]) -> tuple:
    return tuple(row[c] for c in ds.primary_key)


def choices(ws: Workspace, records: SubjectRecords) -> list[FieldChoice]:
    """The fields of the person's own records that can be rectified, each with its current value (one choice per
    distinct value; rows under a shared identifier and keys/references are left out)."""
    out: list[FieldChoice] = []
    for name, recs in records.records.items():
        ds = ws.datamap.datasets[name]
        for col in changeable_fields(ws, ds):
            if col not in recs.columns:
                continue
            mode = match_mode(ds, col)
            groups: dict[Any, list[tuple]] = {}
            for row in recs.rows:
                v = row.get(col)
                groups.setdefault(distinct_key(mode, v, ws.datamap.settings.phone_match_digits), []).append(
                    (_key_of(ds, row), v))
            single = len(groups) == 1
            for members in list(groups.values())[:MAX_CHOICES_PER_FIELD]:
                key, value = members[0]
                target = f"{name}.{col}" if single else f"{name}.{col}[{format_key(key)}]"
                out.append(FieldChoice(target, name, col, value, len(members)))
    return out


def plan_rectification(ws: Workspace, case_id: str, identifier: str | None = None, *, pick: str | None = None,
                       changes: dict[str, Any], propagate: bool = True) -> RectificationPlan:
    """Plan correcting `changes` ("dataset.field" or "dataset.field[KEY]" -> new value) for the person found by
    `identifier` (or `pick`), under rectification case `case_id`. Writes nothing; see the module docstring."""
    dm = ws.datamap
    check_case(ws, case_id)
    if not changes:
        raise RectificationError("nothing to change: give at least one dataset.field=value")
    targets = _read_targets(ws, changes)

    records = find_subject(ws, identifier, pick=pick, case_id=case_id)
    _require_one(records)
    subject = records.subject
    subject_ref = subject.ref if subject else records.query
    subject_label = subject.label if subject else records.query

    planner = _Planner(ws, records, subject_ref, propagate)
    with ws.session():
        for t in targets:
            planner.plan(t)
    changes_list = planner.changes()
    return RectificationPlan(
        case_id=case_id, query=records.query, subject_ref=subject_ref, subject_label=subject_label,
        requested={t.text: t.value for t in targets}, changes=changes_list,
        untouched=list(planner.untouched.values()), free_text=list(planner.free_text.values()),
        warnings=_legal_obligation_warnings(ws, changes_list),
        propagate=propagate, map_fingerprint=dm.fingerprint,
        planned_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def _legal_obligation_warnings(ws: Workspace, changes: list[PlannedChange]) -> list[str]:
    """A warning per changed dataset kept under a legal obligation: the law may want a correcting record instead."""
    dm = ws.datamap
    warnings: list[str] = []
    for name in dict.fromkeys(c.dataset for c in changes):
        ds = dm.datasets[name]
        bases = {dm.purposes[p].legal_basis for p in ds.purposes if p in dm.purposes}
        if "legal_obligation" in bases:
            rule = f" (retention: {ds.retention})" if ds.retention else ""
            warnings.append(f"{name} is kept under a legal obligation{rule}: make sure the law allows correcting "
                            f"these records rather than adding a correcting record")
    return warnings


class _Planner:
    """Collects, target by target, every place that changes and every place holding the old value that is left
    alone (each keyed by (dataset, key, field), so a place is listed once)."""

    def __init__(self, ws: Workspace, records: SubjectRecords, subject_ref: str, propagate: bool):
        self.ws, self.dm = ws, ws.datamap
        self.records, self.subject_ref, self.propagate = records, subject_ref, propagate
        self.planned: dict[_Place, PlannedChange] = {}
        self.untouched: dict[_Place, Untouched] = {}  # same old value, but not changed (and why)
        self.free_text: dict[_Place, Untouched] = {}  # the old value inside the person's free text

    def plan(self, t: _Target) -> None:
        """The requested change on the person's rows, then the same value wherever else their records hold it."""
        ds, col = t.ds, t.column
        rows = self._rows(t)
        mode = match_mode(ds, col)
        olds = {distinct_key(mode, r.get(col), self.dm.settings.phone_match_digits) for r in rows}
        if len(olds) > 1:
            where = f"{ds.name}.{col}"
            listed = ", ".join(f"{format_key(_key_of(ds, r))}: {show(r.get(col))}" for r in rows[:10])
            raise RectificationError(f"{where}: the person's {len(rows)} rows in {ds.name} hold different values "
                                     f"({listed}); say which row with {where}[KEY]=value")
        old = rows[0].get(col)
        for r in rows:
            self._add(PlannedChange(ds.name, ds.source, ds.primary_key[0], _key_of(ds, r), col, r.get(col),
                                    t.value, t.text, REQUESTED))
        if old is None:
            return  # completing an empty field: no "same value" to look for
        matcher = Matcher(mode, old, self.dm.settings.phone_match_digits)
        # Every place among the person's own records that holds the same value; rows under a shared identifier
        # are listed for review, never changed.
        for bucket, own in ((self.records.records, True), (self.records.shared, False)):
            for name, other in bucket.items():
                self._same_value_in(t, name, other, own, matcher)

    def _rows(self, t: _Target) -> list[dict[str, Any]]:
        """The person's rows the target names (all of them in its dataset, or the one its [KEY] picks)."""
        ds, records, subject_ref = t.ds, self.records, self.subject_ref
        where = f"{ds.name}.{t.column}"
        recs = records.records.get(ds.name)
        if recs is None:
            if ds.name in records.shared:
                raise RectificationError(
                    f"{ds.name}: the person's only rows there are held under an identifier shared with another "
                    f"person; whose they are cannot be told, so rectification never changes them (review them "
                    f"by hand)")
            what = " (shared reference data, shown as context)" if ds.name in records.context else ""
            raise RectificationError(f"the person ({subject_ref}) has no rows in {ds.name}{what}; datasets with "
                                     f"their rows: {', '.join(records.records)}")
        rows = recs.rows
        if t.key is not None:
            rows = [r for r in rows if format_key(_key_of(ds, r)) == t.key]
            if not rows:
                keys = ", ".join(format_key(k) for k in recs.keys()[:20])
                raise RectificationError(f"{where}[{t.key}]: the person ({subject_ref}) has no row {t.key} in "
                                         f"{ds.name}; their rows there: {keys}")
        return rows

    def _same_value_in(self, t: _Target, name: str, other: DatasetRecords, own: bool, matcher: Matcher) -> None:
        """The fields of one dataset's rows that hold the old value: changed too, or listed as left alone.

        Only fields holding the same kind of data (identity kind or category) and of the same type family are
        compared, so a customer id equal to an order number is not "the same value"."""
        ods = self.dm.datasets[name]
        live = self.ws.connector(ods.source).columns(ods)
        tags, family = field_tags(t.ds, t.column), type_family(t.sql_type)
        cols = [c for c in ods.fields if c in other.columns and not ods.fields[c].free_text
                and field_tags(ods, c) & tags and type_family(live.get(c, "")) == family]
        locked = locked_columns(self.ws, ods)
        for r in other.rows:
            k = _key_of(ods, r)
            for c in cols:
                if not matcher.matches(r.get(c)) or (name, k, c) in self.planned:
                    continue
                why = self._left_alone(own, ods, c, locked)
                if why is not None:
                    self.untouched.setdefault((name, k, c), Untouched(name, k, c, why, t.text))
                    continue
                try:
                    new = check_shape(ods, c, convert(t.value, live[c], f"{name}.{c}"), f"{name}.{c}")
                except RectificationError as exc:
                    raise RectificationError(f"{exc} (the same value is also stored there; "
                                             f"rectify with propagation off to leave it)") from None
                self._add(PlannedChange(name, ods.source, ods.primary_key[0], k, c, r.get(c), new, t.text,
                                        SAME_VALUE))
        if own:
            for c in ods.free_text_fields:
                for r in other.rows:
                    if matcher.in_text(r.get(c)):
                        k = _key_of(ods, r)
                        self.free_text.setdefault((name, k, c), Untouched(name, k, c, "mentions the old value", t.text))

    def _left_alone(self, own: bool, ods: Dataset, column: str, locked: dict[str, str]) -> str | None:
        """Why a field holding the old value is not changed, or None when it is."""
        if not own:
            return "held under an identifier shared with another person: never changed (review by hand)"
        if not self.propagate:
            return "propagation is off"
        if column in locked or len(ods.primary_key) != 1:
            return f"a key or reference ({locked.get(column, 'composite key')}): never changed"
        return None

    def _add(self, change: PlannedChange) -> None:
        """Add a change; a requested change wins over a propagated one, two different new values for one place are
        refused."""
        planned = self.planned
        k = (change.dataset, change.key, change.field)
        have = planned.get(k)
        if have is None:
            planned[k] = change
            return
        if same_value(have.proposed, change.proposed) and type_of(have.proposed) == type_of(change.proposed):
            if change.requested and not have.requested:
                planned[k] = change
            return
        if change.requested and not have.requested:
            planned[k] = change
            return
        if have.requested and not change.requested:
            return
        raise RectificationError(f"{change.place} would get two different new values (from {have.target} and "
                                 f"{change.target}); set it explicitly with {change.dataset}.{change.field}"
                                 f"[{format_key(change.key)}]=value")

    def changes(self) -> list[PlannedChange]:
        """The changes that change something (a place already holding the new value is left out); refuses a plan
        that would change nothing."""
        changes = [c for c in self.planned.values() if not same_value(c.current, c.proposed)
                   or type_of(c.current) != type_of(c.proposed)]
        for k in self.planned:  # a free-text field being rectified itself is not "also mentioned"
            self.free_text.pop(k, None)
        if not changes:
            raise RectificationError("nothing to change: every place already holds the new value")
        return changes
