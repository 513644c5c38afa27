"""Rectification (GDPR Art. 16): correct a subject's inaccurate personal data, everywhere it is stored.

Two steps, so an analyst sees what will change before anything does:

* `plan_rectification(ws, case_id, identifier, changes={"dataset.field": value})` finds the person (the same
  `lookup()` every other operation uses), converts each new value to the column's live type, and lists every row and
  field that would change — with `propagate` (the default) also every other place among the person's own records
  that holds the same current value (e-mails compared lower-cased and trimmed, phone numbers on their digits, other
  values exactly), flagged "same value also stored here". Nothing is written; bad input is refused with a clear
  error before any data is read.
* `apply_rectification(ws, plan)` writes the plan: one transaction per source, rows addressed by primary key. It
  first re-reads every affected row and refuses if anything changed since planning, then writes, then re-reads and
  verifies. The audit entry holds counts and keyed hashes of the old and new values — never the values.

Never changed: primary keys and reference columns (links would break), rows held only under an identifier the
person shares with someone else (`SubjectRecords.shared`), shared reference data (context), other people's rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import math
import re
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import pandas as pd

from ..errors import PrivacyOpsError, SourceError
from ..ledger import audit, cases
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..map import EMAIL, FILE_SOURCE_KINDS, PHONE, Dataset
from ..sources import digits_of, type_family
from ..values import format_key, json_safe
from ..workspace import Workspace
from ..workspace.keys import keyed_hash, workspace_secret

RECTIFICATION = "rectification"
HASH_PURPOSE = "rectify"
REQUESTED = "requested"
SAME_VALUE = "same value also stored here"
EMAIL_CATEGORY = "user.contact.email"
PHONE_CATEGORY = "user.contact.phone_number"
MAX_CHOICES_PER_FIELD = 25  # distinct values offered per field in `choices()` (a panel dropdown)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]+$")
_TARGET_RE = re.compile(r"^\s*(?P<path>[^\[\]=]+?)\s*(?:\[(?P<key>[^\[\]]*)\])?\s*$")

_INT_RANGES = {
    "TINYINT": (-2**7, 2**7 - 1), "INT1": (-2**7, 2**7 - 1),
    "SMALLINT": (-2**15, 2**15 - 1), "INT2": (-2**15, 2**15 - 1),
    "INTEGER": (-2**31, 2**31 - 1), "INT": (-2**31, 2**31 - 1), "INT4": (-2**31, 2**31 - 1),
    "SERIAL": (1, 2**31 - 1),
    "BIGINT": (-2**63, 2**63 - 1), "INT8": (-2**63, 2**63 - 1), "BIGSERIAL": (1, 2**63 - 1),
    "HUGEINT": (-2**127, 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1), "USMALLINT": (0, 2**16 - 1), "UINTEGER": (0, 2**32 - 1), "UBIGINT": (0, 2**64 - 1),
}
_TRUE, _FALSE = ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")


class RectificationError(PrivacyOpsError):
    """A rectification cannot be planned or applied as asked (nothing was changed unless the message says so)."""

    exit_code = 2


# -- the plan ---------------------------------------------------------------------------------------------------


@dataclass
class PlannedChange:
    """One field of one row: its current value and the value it will get."""

    dataset: str
    source: str
    key_column: str
    key: tuple
    field: str
    current: Any
    proposed: Any
    target: str  # the requested "dataset.field" this change comes from
    reason: str = REQUESTED  # REQUESTED, or SAME_VALUE: propagated from `target`

    @property
    def requested(self) -> bool:
        return self.reason == REQUESTED

    @property
    def place(self) -> str:
        return f"{self.dataset}.{self.field}[{format_key(self.key)}]"

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "source": self.source, "key_column": self.key_column,
                "key": json_safe(self.key), "field": self.field, "current": json_safe(self.current),
                "proposed": json_safe(self.proposed), "target": self.target, "reason": self.reason}


@dataclass
class Untouched:
    """A place holding the old value that the plan leaves alone, and why (shown for review, never changed)."""

    dataset: str
    key: tuple
    field: str
    reason: str
    target: str

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "key": json_safe(self.key), "field": self.field, "reason": self.reason,
                "target": self.target}


@dataclass
class RectificationPlan:
    """What `apply_rectification` will change, and what it deliberately leaves alone."""

    case_id: str
    query: str  # the identifier (or pick) the person was found by
    subject_ref: str  # "DATASET:KEY" of the person
    subject_label: str
    requested: dict[str, Any]  # "dataset.field[KEY]" -> the new value, converted to the column's type
    changes: list[PlannedChange]
    untouched: list[Untouched] = field(default_factory=list)  # same old value, but not changed (and why)
    free_text: list[Untouched] = field(default_factory=list)  # the old value inside the person's free text
    warnings: list[str] = field(default_factory=list)
    propagate: bool = True
    map_fingerprint: str = ""
    planned_at: str = ""
    applied: bool = False

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(c.source for c in self.changes))

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(c.dataset for c in self.changes))

    @property
    def propagated(self) -> list[PlannedChange]:
        return [c for c in self.changes if not c.requested]

    def counts(self) -> dict[str, dict[str, int]]:
        """Changed rows per dataset and field (safe to log)."""
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            d = out.setdefault(c.dataset, {})
            d[c.field] = d.get(c.field, 0) + 1
        return out

    def rows(self) -> int:
        return len({(c.dataset, c.key) for c in self.changes})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"dataset": c.dataset, "field": c.field, "key": format_key(c.key),
                              "current": show(c.current), "proposed": show(c.proposed), "why": c.reason}
                             for c in self.changes],
                            columns=["dataset", "field", "key", "current", "proposed", "why"])

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "query": self.query, "subject": {"ref": self.subject_ref,
                                                                          "label": self.subject_label},
                "requested": {k: json_safe(v) for k, v in self.requested.items()},
                "propagate": self.propagate, "changes": [c.to_dict() for c in self.changes],
                "untouched": [u.to_dict() for u in self.untouched],
                "free_text": [u.to_dict() for u in self.free_text], "warnings": self.warnings,
                "counts": self.counts(), "rows": self.rows(), "sources": self.sources,
                "map_fingerprint": self.map_fingerprint, "planned_at": self.planned_at, "applied": self.applied}

    def render(self) -> str:
        """The plan as text for a terminal: current -> proposed per place, then what is left alone and why."""
        lines = [f"Rectification plan for case {self.case_id}: {self.subject_label} [{self.subject_ref}]"]
        width = max((len(c.place) for c in self.changes), default=0)
        for c in self.changes:
            why = "requested" if c.requested else f"{SAME_VALUE} (as {c.target})"
            lines.append(f"  {c.place:<{width}}  {show(c.current)} -> {show(c.proposed)}   {why}")
        if self.untouched:
            lines.append("Not changed (the same value, left alone):")
            for u in self.untouched:
                lines.append(f"  {u.dataset}.{u.field}[{format_key(u.key)}]  {u.reason}")
        if self.free_text:
            lines.append("The old value also appears inside free text (not changed; edit it with --set if needed):")
            for u in self.free_text:
                lines.append(f"  {u.dataset}.{u.field}[{format_key(u.key)}]")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        lines.append(f"{len(self.changes)} change(s) in {self.rows()} row(s) of {len(self.datasets)} dataset(s), "
                     f"{len(self.sources)} source(s)" + ("" if self.propagate else "; propagation off") + ".")
        return "\n".join(lines)


@dataclass
class RectificationResult:
    """What was written and verified."""

    case_id: str
    subject_ref: str
    changes: list[PlannedChange]
    counts: dict[str, dict[str, int]]
    sources: list[str]
    verified: bool
    audit_seq: int | None
    elapsed_ms: float

    @property
    def rows(self) -> int:
        return len({(c.dataset, c.key) for c in self.changes})

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"dataset": c.dataset, "field": c.field, "key": format_key(c.key),
                              "was": show(c.current), "now": show(c.proposed),
                              "verified": "yes" if self.verified else "no", "why": c.reason}
                             for c in self.changes],
                            columns=["dataset", "field", "key", "was", "now", "verified", "why"])

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "subject_ref": self.subject_ref, "verified": self.verified,
                "counts": self.counts, "rows": self.rows, "sources": self.sources, "audit_seq": self.audit_seq,
                "elapsed_ms": round(self.elapsed_ms, 1), "changes": [c.to_dict() for c in self.changes]}

    def render(self) -> str:
        per = "; ".join(f"{d}: " + ", ".join(f"{f} x{n}" for f, n in fs.items()) for d, fs in self.counts.items())
        return (f"Applied and verified: {len(self.changes)} change(s) in {self.rows} row(s) "
                f"({per}) in {len(self.sources)} source(s), case {self.case_id}, audit entry {self.audit_seq}.")


@dataclass(frozen=True)
class FieldChoice:
    """A field of the subject's records that can be rectified (what a panel offers)."""

    target: str  # "dataset.field" or "dataset.field[KEY]" (when the person's rows hold different values)
    dataset: str
    field: str
    current: Any
    rows: int  # how many of the person's rows hold this value

    @property
    def label(self) -> str:
        value = show(self.current)
        if len(value) > 60:
            value = value[:57] + "..."
        return f"{self.target} = {value}" + (f"  ({self.rows} rows)" if self.rows > 1 else "")


def show(value: Any) -> str:
    """A value for display: text quoted (so spaces show), NULL as (empty), dates ISO 8601."""
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(json_safe(value))


# -- fields and values ------------------------------------------------------------------------------------------


def _is_email(ds: Dataset, column: str) -> bool:
    f = ds.fields.get(column)
    return column in ds.identity_columns(EMAIL) or bool(f and EMAIL_CATEGORY in f.categories)


def _is_phone(ds: Dataset, column: str) -> bool:
    f = ds.fields.get(column)
    return column in ds.identity_columns(PHONE) or bool(f and PHONE_CATEGORY in f.categories)


def _tags(ds: Dataset, column: str) -> set[str]:
    """What a field holds, for finding the same value elsewhere: its identity kinds and personal data categories."""
    tags = {f"kind:{k}" for k, cols in ds.identities.items() if column in cols}
    f = ds.fields.get(column)
    if f:
        tags |= {f"category:{c}" for c in f.categories if c == "user" or c.startswith("user.")}
    if _is_email(ds, column):
        tags.add("email")
    if _is_phone(ds, column):
        tags.add("phone")
    return tags


def _locked(ws: Workspace, ds: Dataset) -> dict[str, str]:
    """Columns rectification never changes, with the reason: keys and references (links would break)."""
    out = {c: f"the primary key of {ds.name}" for c in ds.primary_key}
    for ref in ds.references:
        out.setdefault(ref.column, f"a reference to {ref.to_dataset}.{ref.to_column}")
    for other in ws.datamap.datasets.values():
        for ref in other.references:
            if ref.to_dataset == ds.name:
                out.setdefault(ref.to_column, f"referenced by {other.name}.{ref.column}")
    return out


def changeable_fields(ws: Workspace, ds: Dataset) -> list[str]:
    """The mapped fields of a dataset that rectification may change."""
    if len(ds.primary_key) != 1:
        return []
    locked = _locked(ws, ds)
    return [f for f in ds.fields if f not in locked]


def _type_hint(sql_type: str) -> str:
    t = sql_type.upper()
    family = type_family(sql_type)
    if family == "integer":
        return "a whole number, e.g. 42"
    if family == "number":
        return "a number, e.g. 12.50"
    if family == "date":
        if t.startswith("DATE") and not t.startswith("DATETIME"):
            return "a date written YYYY-MM-DD, e.g. 2024-05-31"
        return "a date and time written YYYY-MM-DD HH:MM[:SS], e.g. 2024-05-31 14:30:00"
    if family == "boolean":
        return "true or false"
    if family == "text":
        return "text"
    if t.startswith("UUID"):
        return "a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000"
    return "a value of that type"


def convert(value: Any, sql_type: str, where: str) -> Any:
    """`value` (as typed by a user, or a Python value) as the column type `sql_type` holds it; RectificationError
    naming the type and an example when it cannot be."""
    if value is None:
        return None
    t = sql_type.upper().strip()
    base = t.split("(")[0].strip()
    family = type_family(sql_type)
    text = value.strip() if isinstance(value, str) else None

    def bad(extra: str = "") -> RectificationError:
        got = repr(value) if not isinstance(value, str) else f"'{value}'"
        return RectificationError(f"{where} is {sql_type}: give {_type_hint(sql_type)}; {got} does not fit{extra}")

    if family == "integer":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            n = value
        elif isinstance(value, (float, decimal.Decimal)) and value == int(value):
            n = int(value)
        elif text is not None and re.fullmatch(r"[+-]?\d+", text):
            n = int(text)
        else:
            raise bad()
        lo, hi = _INT_RANGES.get(base, (-2**63, 2**63 - 1))
        if not lo <= n <= hi:
            raise bad(f" in its range {lo}..{hi}")
        return n
    if family == "number":
        if isinstance(value, bool):
            raise bad()
        try:
            d = decimal.Decimal(text if text is not None else str(value))
        except (decimal.InvalidOperation, ValueError):
            raise bad() from None
        if not d.is_finite():
            raise bad()
        m = re.match(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+))?\s*\)", t)
        if base in ("DECIMAL", "NUMERIC"):
            if m:
                precision, scale = int(m.group(1)), int(m.group(2) or 0)
                exponent = d.normalize().as_tuple().exponent
                if isinstance(exponent, int) and -exponent > scale:
                    raise bad(f" (at most {scale} decimal place(s))")
                whole = abs(int(d))
                if whole and len(str(whole)) > precision - scale:
                    raise bad(f" (at most {precision - scale} digit(s) before the decimal point)")
                return d.quantize(decimal.Decimal(1).scaleb(-scale))
            return d
        return float(d)
    if family == "date":
        is_date = base == "DATE"
        try:
            if isinstance(value, dt.datetime):
                got: Any = value.date() if is_date else value
            elif isinstance(value, dt.date):
                got = value if is_date else dt.datetime.combine(value, dt.time())
            elif text is not None and is_date:
                got = dt.date.fromisoformat(text)
            elif text is not None:
                got = dt.datetime.fromisoformat(text)
            else:
                raise ValueError
        except ValueError:
            raise bad() from None
        if is_date and isinstance(value, dt.datetime) and value.time() != dt.time():
            raise bad(" (a date has no time of day)")
        return got
    if family == "boolean":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE:
            return True
        if text is not None and text.lower() in _FALSE:
            return False
        raise bad()
    if family == "text":
        if isinstance(value, (bool, bytes, bytearray, dict, list, tuple, set)):
            raise bad()
        s = value if isinstance(value, str) else str(json_safe(value))
        m = re.search(r"\(\s*(\d+)\s*\)", t)
        if m and len(s) > int(m.group(1)):
            raise bad(f" (at most {m.group(1)} characters; it has {len(s)})")
        return s
    if base == "UUID":
        try:
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
        except ValueError:
            raise bad() from None
    raise RectificationError(f"{where} is {sql_type}: rectification writes text, numbers, dates, true/false and "
                             f"UUIDs only; change this column with the system's own tools")


def _check_shape(ds: Dataset, column: str, value: Any, where: str) -> Any:
    """E-mail and phone fields get values of that shape (an e-mail is trimmed)."""
    if value is None:
        return None
    if _is_email(ds, column):
        v = str(value).strip()
        if not _EMAIL_RE.match(v):
            raise RectificationError(f"{where} holds e-mail addresses; '{value}' is not a valid e-mail address "
                                     f"(name@domain.tld, e.g. jane.doe@example.com)")
        return v
    if _is_phone(ds, column):
        v = str(value).strip()
        if not _PHONE_RE.match(v) or len(digits_of(v)) < 7:
            raise RectificationError(f"{where} holds phone numbers; '{value}' is not a phone number (at least 7 "
                                     f"digits, optionally +, spaces, dashes, parentheses; e.g. +371 2912 3456)")
        return v
    return value


def _same(a: Any, b: Any) -> bool:
    """Whether a stored value equals an expected one (floats to 32-bit precision; text forms as a last resort,
    for stores like CSV that re-infer types)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    try:
        if a == b:
            return True
    except Exception:  # pragma: no cover - exotic types
        pass
    return str(json_safe(a)) == str(json_safe(b))


class _Matcher:
    """Whether a stored value is "the same value" as the old one: e-mails lower/trim, phones on their last digits
    (as lookup matches them), anything else exactly."""

    def __init__(self, mode: str, old: Any, phone_digits: int):
        self.mode, self.digits = mode, phone_digits
        self.old = old
        self.norm = self._norm(old)

    def _norm(self, v: Any) -> Any:
        if v is None:
            return None
        if self.mode == "email":
            return str(v).strip().lower() or None
        if self.mode == "phone":
            d = digits_of(str(v))
            return d[-self.digits:] if len(d) >= 7 else None
        return v

    def matches(self, v: Any) -> bool:
        if self.norm is None or v is None:
            return False
        if self.mode == "exact":
            return type_of(v) == type_of(self.old) and _same(v, self.old)
        return self._norm(v) == self.norm

    def in_text(self, text: Any) -> bool:
        """Whether the old value appears inside free text."""
        if self.norm is None or not isinstance(text, str):
            return False
        if self.mode == "email":
            return self.norm in text.lower()
        if self.mode == "phone":
            return self.norm in re.sub(r"\D", "", text)
        old = str(self.old)
        return len(old) >= 4 and old in text


def _distinct(mode: str, value: Any, phone_digits: int) -> Any:
    """What makes two stored values "the same value" (the grouping `_Matcher` compares by)."""
    if value is not None and mode != "exact":
        norm = _Matcher(mode, value, phone_digits).norm
        if norm is not None:
            return (mode, norm)
    return (type_of(value), str(json_safe(value)))


def type_of(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float, decimal.Decimal)):
        return "number"
    if isinstance(v, dt.datetime):
        return "datetime"
    if isinstance(v, dt.date):
        return "date"
    return type(v).__name__


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
    text: str
    ds: Dataset
    column: str
    key: str | None  # a row selector (primary key value as text), or None: every row of the person's
    sql_type: str
    value: Any  # converted


def _parse_target(ws: Workspace, text: str) -> tuple[Dataset, str, str | None]:
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
    locked = _locked(ws, ds)
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


# -- planning ---------------------------------------------------------------------------------------------------


def _check_case(ws: Workspace, case_id: str | None) -> None:
    if not case_id or not str(case_id).strip():
        raise RectificationError("a rectification belongs to a case: open one with `privacyops case open --type "
                                 "rectification --received YYYY-MM-DD` and give its id")
    case = cases.get_case(ws, case_id)  # CaseError for an unknown case
    if case.type != RECTIFICATION:
        raise RectificationError(f"case {case_id} is a{'n' if case.type[0] in 'aeio' else ''} {case.type} case; "
                                 f"rectify under a {RECTIFICATION} case (privacyops case open --type "
                                 f"{RECTIFICATION} ...)")
    if case.status != cases.OPEN:
        raise RectificationError(f"case {case_id} is {case.status}; rectify under an open case")


def find_subject(ws: Workspace, identifier: str | None = None, *, pick: str | None = None,
                 case_id: str | None = None) -> SubjectRecords:
    """The lookup a rectification starts from (audited as a lookup under the case)."""
    return lookup(ws, identifier, pick=pick, case_id=case_id, mentions=False)


def _require_one(records: SubjectRecords) -> None:
    if records.status == AMBIGUOUS:
        listed = "; ".join(f"{c.ref} ({c.label})" for c in records.candidates[:10])
        more = f" and {len(records.candidates) - 10} more" if len(records.candidates) > 10 else ""
        raise RectificationError(f"{len(records.candidates)} people match '{records.query}': {listed}{more}. "
                                 f"Say which one with pick (--pick DATASET:KEY); people are never merged")
    if records.status != FOUND or not records.records:
        raise RectificationError(f"no records found for '{records.query}' (searched as {records.kind}); "
                                 f"nothing to rectify")


def choices(ws: Workspace, records: SubjectRecords) -> list[FieldChoice]:
    """The fields of the person's own records that can be rectified, each with its current value (one choice per
    distinct value; rows under a shared identifier and keys/references are left out)."""
    out: list[FieldChoice] = []
    for name, recs in records.records.items():
        ds = ws.datamap.datasets[name]
        for col in changeable_fields(ws, ds):
            if col not in recs.columns:
                continue
            mode = "email" if _is_email(ds, col) else "phone" if _is_phone(ds, col) else "exact"
            groups: dict[Any, list[tuple]] = {}
            for row in recs.rows:
                v = row.get(col)
                groups.setdefault(_distinct(mode, v, ws.datamap.settings.phone_match_digits), []).append(
                    (tuple(row[c] for c in ds.primary_key), v))
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
    _check_case(ws, case_id)
    if not changes:
        raise RectificationError("nothing to change: give at least one dataset.field=value")

    # What was asked, checked against the map and the live column types before any personal data is read.
    targets: list[_Target] = []
    with ws.session():
        for text, raw in changes.items():
            ds, column, key = _parse_target(ws, str(text))
            live = ws.connector(ds.source).columns(ds)
            if column not in live:
                raise RectificationError(f"{ds.name}.{column} is in the data map but not in the source "
                                         f"'{ds.source}'; run `privacyops check`")
            where = f"{ds.name}.{column}"
            value = _check_shape(ds, column, convert(raw, live[column], where), where)
            if any(t.ds.name == ds.name and t.column == column and t.key == key for t in targets):
                raise RectificationError(f"{where} is given twice; give each field once")
            targets.append(_Target(str(text).strip(), ds, column, key, live[column], value))

    records = find_subject(ws, identifier, pick=pick, case_id=case_id)
    _require_one(records)
    subject = records.subject
    subject_ref = subject.ref if subject else records.query
    subject_label = subject.label if subject else records.query

    planned: dict[tuple[str, tuple, str], PlannedChange] = {}
    untouched: dict[tuple[str, tuple, str], Untouched] = {}
    free_text: dict[tuple[str, tuple, str], Untouched] = {}
    warnings: list[str] = []

    def key_of(ds: Dataset, row: dict[str, Any]) -> tuple:
        return tuple(row[c] for c in ds.primary_key)

    with ws.session():
        for t in targets:
            ds, col = t.ds, t.column
            where = f"{ds.name}.{col}"
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
                rows = [r for r in rows if format_key(key_of(ds, r)) == t.key]
                if not rows:
                    keys = ", ".join(format_key(k) for k in recs.keys()[:20])
                    raise RectificationError(f"{where}[{t.key}]: the person ({subject_ref}) has no row {t.key} in "
                                             f"{ds.name}; their rows there: {keys}")
            mode = "email" if _is_email(ds, col) else "phone" if _is_phone(ds, col) else "exact"
            olds = {_distinct(mode, r.get(col), dm.settings.phone_match_digits) for r in rows}
            if len(olds) > 1:
                listed = ", ".join(f"{format_key(key_of(ds, r))}: {show(r.get(col))}" for r in rows[:10])
                raise RectificationError(f"{where}: the person's {len(rows)} rows in {ds.name} hold different values "
                                         f"({listed}); say which row with {where}[KEY]=value")
            old = rows[0].get(col)
            for r in rows:
                _add(planned, PlannedChange(ds.name, ds.source, ds.primary_key[0], key_of(ds, r), col, r.get(col),
                                            t.value, t.text, REQUESTED))
            if old is None:
                continue  # completing an empty field: no "same value" to look for
            matcher = _Matcher(mode, old, dm.settings.phone_match_digits)
            tags = _tags(ds, col)
            family = type_family(t.sql_type)
            # Every place among the person's own records that holds the same value; rows under a shared identifier
            # are listed for review, never changed.
            for bucket, own in ((records.records, True), (records.shared, False)):
                for name, other in bucket.items():
                    ods = dm.datasets[name]
                    live = ws.connector(ods.source).columns(ods)
                    cols = [c for c in ods.fields if c in other.columns and not ods.fields[c].free_text
                            and _tags(ods, c) & tags and type_family(live.get(c, "")) == family]
                    locked = _locked(ws, ods)
                    for r in other.rows:
                        k = key_of(ods, r)
                        for c in cols:
                            if not matcher.matches(r.get(c)) or (name, k, c) in planned:
                                continue
                            if not own:
                                _note(untouched, Untouched(name, k, c, "held under an identifier shared with another "
                                                                       "person: never changed (review by hand)",
                                                           t.text))
                            elif not propagate:
                                _note(untouched, Untouched(name, k, c, "propagation is off", t.text))
                            elif c in locked or len(ods.primary_key) != 1:
                                _note(untouched, Untouched(name, k, c, f"a key or reference ({locked.get(c, 'composite key')}): "
                                                                       "never changed", t.text))
                            else:
                                try:
                                    new = _check_shape(ods, c, convert(t.value, live[c], f"{name}.{c}"),
                                                       f"{name}.{c}")
                                except RectificationError as exc:
                                    raise RectificationError(f"{exc} (the same value is also stored there; "
                                                             f"rectify with propagation off to leave it)") from None
                                _add(planned, PlannedChange(name, ods.source, ods.primary_key[0], k, c, r.get(c), new,
                                                            t.text, SAME_VALUE))
                    if own:
                        for c in ods.free_text_fields:
                            for r in other.rows:
                                if matcher.in_text(r.get(c)):
                                    _note(free_text, Untouched(name, key_of(ods, r), c, "mentions the old value",
                                                               t.text))

    changes_list = [c for c in planned.values() if not _same(c.current, c.proposed)
                    or type_of(c.current) != type_of(c.proposed)]
    for k in planned:  # a free-text field being rectified itself is not "also mentioned"
        free_text.pop(k, None)
    if not changes_list:
        raise RectificationError("nothing to change: every place already holds the new value")
    for name in dict.fromkeys(c.dataset for c in changes_list):
        ds = dm.datasets[name]
        bases = {dm.purposes[p].legal_basis for p in ds.purposes if p in dm.purposes}
        if "legal_obligation" in bases:
            rule = f" (retention: {ds.retention})" if ds.retention else ""
            warnings.append(f"{name} is kept under a legal obligation{rule}: make sure the law allows correcting "
                            f"these records rather than adding a correcting record")
    return RectificationPlan(
        case_id=case_id, query=records.query, subject_ref=subject_ref, subject_label=subject_label,
        requested={t.text: t.value for t in targets}, changes=changes_list,
        untouched=list(untouched.values()), free_text=list(free_text.values()), warnings=warnings,
        propagate=propagate, map_fingerprint=dm.fingerprint,
        planned_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def _add(planned: dict, change: PlannedChange) -> None:
    """Add a change; a requested change wins over a propagated one, two different new values for one place are
    refused."""
    k = (change.dataset, change.key, change.field)
    have = planned.get(k)
    if have is None:
        planned[k] = change
        return
    if _same(have.proposed, change.proposed) and type_of(have.proposed) == type_of(change.proposed):
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


def _note(bucket: dict, item: Untouched) -> None:
    bucket.setdefault((item.dataset, item.key, item.field), item)


# -- applying ---------------------------------------------------------------------------------------------------


@contextmanager
def _transaction(con, source: str, committed: list[str]) -> Iterator[None]:
    with con.transaction():
        yield
    committed.append(source)  # reached only when the commit succeeded


def _read(con, ds: Dataset, keys: list[Any]) -> dict[tuple, dict[str, Any]]:
    rows = con.select_in(ds, ds.primary_key[0], keys).dicts()
    return {tuple(r[c] for c in ds.primary_key): r for r in rows}


def _hash(secret: bytes, value: Any) -> str | None:
    if value is None:
        return None
    return keyed_hash(secret, str(json_safe(value)), HASH_PURPOSE)


def apply_rectification(ws: Workspace, plan: RectificationPlan) -> RectificationResult:
    """Write a plan: one transaction per source (all or nothing each), rows addressed by primary key; refused when
    any affected value changed since planning; verified by reading back; audited with counts and keyed hashes."""
    t0 = time.perf_counter()
    dm = ws.datamap
    if plan.applied:
        raise RectificationError("this plan was already applied; plan again for further changes")
    if plan.map_fingerprint != dm.fingerprint:
        raise RectificationError("the data map changed since planning; plan again")
    if not plan.changes:
        raise RectificationError("the plan changes nothing")
    _check_case(ws, plan.case_id)

    # source -> dataset -> key -> {field: change}
    by_source: dict[str, dict[str, dict[tuple, dict[str, PlannedChange]]]] = {}
    for c in plan.changes:
        by_source.setdefault(c.source, {}).setdefault(c.dataset, {}).setdefault(c.key, {})[c.field] = c
    # File sources are entered last, so they commit first: a failed file rewrite still rolls the databases back.
    order = sorted(by_source, key=lambda s: dm.sources[s].kind in FILE_SOURCE_KINDS)

    committed: list[str] = []
    with ws.session():
        try:
            with ExitStack() as stack:
                writers = {}
                for src in order:
                    writers[src] = ws.writer(src)
                    stack.enter_context(_transaction(writers[src], src, committed))
                # Stale check: every affected row must still hold what the plan saw.
                stale = []
                for src in order:
                    for name, rows in by_source[src].items():
                        ds = dm.datasets[name]
                        now = _read(writers[src], ds, [k[0] for k in rows])
                        for k, fields in rows.items():
                            row = now.get(k)
                            for f, c in fields.items():
                                if row is None:
                                    stale.append(f"{name}[{format_key(k)}] is gone")
                                elif not _same(row.get(f), c.current):
                                    stale.append(c.place)
                if stale:
                    raise RectificationError(f"changed since planning; plan again ({len(stale)} place(s): "
                                             f"{', '.join(stale[:10])}{' ...' if len(stale) > 10 else ''}); "
                                             f"nothing was changed")
                for src in order:
                    for name, rows in by_source[src].items():
                        ds = dm.datasets[name]
                        items = [(k[0], {f: c.proposed for f, c in fields.items()}) for k, fields in rows.items()]
                        n = writers[src].update_rows(ds, ds.primary_key[0], items)
                        if n != len(items):
                            raise RectificationError(f"{name}: {n} row(s) updated where {len(items)} were planned "
                                                     f"(is {ds.primary_key[0]} unique?); nothing was changed")
        except BaseException as exc:
            if committed:  # a later commit failed after an earlier one succeeded: say exactly what happened
                failed = [s for s in order if s not in committed]
                done = RectificationPlan(**{**plan.__dict__, "changes": [c for c in plan.changes
                                                                          if c.source in committed]})
                audit.record(ws, "rectify", {
                    "status": "partial", "committed_sources": committed, "failed_sources": failed,
                    "datasets": done.counts(), "rows": done.rows(), "verified": False,
                    "map_fingerprint": dm.fingerprint[:16],
                    "subject_ref_hash": audit.subject_hash(ws, plan.subject_ref)}, case_id=plan.case_id,
                    subject=plan.query)
                plan.applied = True
                raise RectificationError(f"source(s) {', '.join(committed)} were changed but {', '.join(failed)} "
                                         f"failed ({type(exc).__name__}: {exc}); plan again to finish") from exc
            if isinstance(exc, RectificationError) or not isinstance(exc, Exception):
                raise
            note = "nothing was changed (every source rolled back)"
            if isinstance(exc, SourceError):  # keep its type (and exit code), say what it means here
                raise type(exc)(f"{exc}; {note}") from exc
            raise RectificationError(f"writing failed, {note}: {type(exc).__name__}: {exc}") from exc

        plan.applied = True
        # Verify: read every changed row back.
        mismatches = []
        for src in order:
            con = ws.connector(src)
            for name, rows in by_source[src].items():
                now = _read(con, dm.datasets[name], [k[0] for k in rows])
                for k, fields in rows.items():
                    for f, c in fields.items():
                        row = now.get(k)
                        if row is None or not _same(row.get(f), c.proposed):
                            mismatches.append(c.place)

    secret = workspace_secret(ws.keys_dir)
    values = []
    for c in plan.changes:
        item = {"dataset": c.dataset, "field": c.field, "old_hash": _hash(secret, c.current),
                "new_hash": _hash(secret, c.proposed), "propagated": not c.requested}
        if item not in values:
            values.append(item)
    entry = audit.record(ws, "rectify", {
        "status": "applied" if not mismatches else "unverified", "datasets": plan.counts(),
        "rows": plan.rows(), "changes": len(plan.changes), "propagated": len(plan.propagated),
        "sources": order, "verified": not mismatches, "values": values,
        "untouched": len(plan.untouched), "map_fingerprint": dm.fingerprint[:16],
        "subject_ref_hash": audit.subject_hash(ws, plan.subject_ref),
        "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1),
    }, case_id=plan.case_id, subject=plan.query)
    if mismatches:
        raise RectificationError(f"written, but reading back found {len(mismatches)} place(s) not holding the new "
                                 f"value: {', '.join(mismatches[:10])}; check the source (audit entry {entry.seq})")
    return RectificationResult(case_id=plan.case_id, subject_ref=plan.subject_ref, changes=list(plan.changes),
                               counts=plan.counts(), sources=order, verified=True, audit_seq=entry.seq,
                               elapsed_ms=(time.perf_counter() - t0) * 1000)


__all__ = ["RectificationError", "RectificationPlan", "RectificationResult", "PlannedChange", "Untouched",
           "FieldChoice", "plan_rectification", "apply_rectification", "find_subject", "choices",
           "changeable_fields", "parse_assignments", "convert", "show"]
