"""What a rectification plan and its result hold: the changes, the places left alone, and how they are shown.

Plain data: `plan.py` makes a `RectificationPlan`, `apply.py` writes it and returns a `RectificationResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import PrivacyOpsError
from ..values import format_key, json_safe

REQUESTED = "requested"
SAME_VALUE = "same value also stored here"


class RectificationError(PrivacyOpsError):
    """A rectification cannot be planned or applied as asked (nothing was changed unless the message says so)."""

    exit_code = 2


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
        """Whether this change was asked for (not propagated from another field)."""
        return self.reason == REQUESTED

    @property
    def place(self) -> str:
        """Where the change goes, as "dataset.field[KEY]"."""
        return f"{self.dataset}.{self.field}[{format_key(self.key)}]"

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON can hold it."""
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
        """The place as JSON can hold it."""
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
    approval: dict[str, str] = field(default_factory=dict)  # four-eyes: {pending_id, prepared_by, approved_by}

    @property
    def sources(self) -> list[str]:
        """The sources the plan writes to, in the order they first appear."""
        return list(dict.fromkeys(c.source for c in self.changes))

    @property
    def datasets(self) -> list[str]:
        """The datasets the plan changes, in the order they first appear."""
        return list(dict.fromkeys(c.dataset for c in self.changes))

    @property
    def propagated(self) -> list[PlannedChange]:
        """The changes that hold the same value as a requested one (not asked for themselves)."""
        return [c for c in self.changes if not c.requested]

    def counts(self) -> dict[str, dict[str, int]]:
        """Changed rows per dataset and field (safe to log)."""
        out: dict[str, dict[str, int]] = {}
        for c in self.changes:
            d = out.setdefault(c.dataset, {})
            d[c.field] = d.get(c.field, 0) + 1
        return out

    def rows(self) -> int:
        """How many rows the plan changes."""
        return len({(c.dataset, c.key) for c in self.changes})

    def to_frame(self) -> pd.DataFrame:
        """One line per change: dataset, field, key, current and proposed value, and why."""
        return pd.DataFrame([{"dataset": c.dataset, "field": c.field, "key": format_key(c.key),
                              "current": show(c.current), "proposed": show(c.proposed), "why": c.reason}
                             for c in self.changes],
                            columns=["dataset", "field", "key", "current", "proposed", "why"])

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON can hold it."""
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
        """How many rows were changed."""
        return len({(c.dataset, c.key) for c in self.changes})

    def to_frame(self) -> pd.DataFrame:
        """One line per change: dataset, field, key, old and new value, whether verified, and why."""
        return pd.DataFrame([{"dataset": c.dataset, "field": c.field, "key": format_key(c.key),
                              "was": show(c.current), "now": show(c.proposed),
                              "verified": "yes" if self.verified else "no", "why": c.reason}
                             for c in self.changes],
                            columns=["dataset", "field", "key", "was", "now", "verified", "why"])

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON can hold it."""
        return {"case_id": self.case_id, "subject_ref": self.subject_ref, "verified": self.verified,
                "counts": self.counts, "rows": self.rows, "sources": self.sources, "audit_seq": self.audit_seq,
                "elapsed_ms": round(self.elapsed_ms, 1), "changes": [c.to_dict() for c in self.changes]}

    def render(self) -> str:
        """One line saying what was written and verified."""
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
        """The dropdown label: 'target = current value', shortened, with the row count when several."""
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
