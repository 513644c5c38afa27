"""What a lookup returns: a subject's records across every dataset, as plain data objects.

`SubjectRecords` carries rows per dataset with the categories, purposes, legal bases and retention that apply; it
offers a summary, DataFrame views for display and `to_dict()` for JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..values import json_safe

SUMMARY_COLUMNS = ["dataset", "records", "source", "location", "categories", "purposes", "legal bases", "retention",
                   "found via"]

if TYPE_CHECKING:  # pandas is imported where a frame is made: a lookup from the shell need not load it
    import pandas as pd

FOUND, AMBIGUOUS, NOT_FOUND = "found", "ambiguous", "not_found"
WITHHELD = "[another person's data]"  # what a field of another party of a row shows


@dataclass
class Candidate:
    """A person the identifier may mean; the user picks one (`ref`) — people are never merged silently."""

    ref: str  # "DATASET:KEY", accepted by lookup(pick=...)
    dataset: str
    key: tuple
    subject_type: str | None
    label: str
    score: float = 1.0
    matched_on: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "dataset": self.dataset, "key": json_safe(self.key),
                "subject_type": self.subject_type, "label": self.label, "score": round(self.score, 4),
                "matched_on": self.matched_on}


@dataclass
class Mention:
    """A free-text field in someone else's row that names the subject (reported apart, not their data)."""

    dataset: str
    key: tuple
    field: str
    matched: str  # "email" or "phone"
    snippet: str

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "key": json_safe(self.key), "field": self.field,
                "matched": self.matched, "snippet": self.snippet}


@dataclass
class DatasetRecords:
    """One dataset's rows about the subject, with what the map says about them."""

    dataset: str
    source: str
    location: str
    columns: list[str]
    rows: list[dict[str, Any]]
    categories: dict[str, list[str]]  # column -> data categories (only mapped columns)
    purposes: list[dict[str, str]]  # name, description, legal_basis
    retention: dict[str, str] | None  # name, keep, from, ground
    via: list[str]  # how the rows were reached
    description: str | None = None
    primary_key: tuple[str, ...] = ()
    # Per row, parallel to `rows`: the party the subject is in it (`subject` when the dataset names none), the
    # columns withheld as other people's data (their values replaced by WITHHELD), and whether other people own
    # the row too (a shared address).
    roles: list[str] = field(default_factory=list)
    withheld: list[list[str]] = field(default_factory=list)
    co_owned: list[bool] = field(default_factory=list)
    owner: list[bool] = field(default_factory=list)  # whether the subject owns the row (else they appear in it)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def subject_categories(self) -> dict[str, list[str]]:
        """The categories of the columns that hold the subject's data in at least one row (a column withheld as
        another person's in every row is not about them)."""
        if not self.withheld:
            return self.categories
        everywhere = set.intersection(*(set(w) for w in self.withheld)) if self.withheld else set()
        return {c: cats for c, cats in self.categories.items() if c not in everywhere}

    @property
    def with_others(self) -> bool:
        """Whether other people are in these rows (other parties, co-owners): then the rows say who is whose."""
        return any(self.withheld) or any(self.co_owned) or not all(self.owner or [True])

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.columns)

    def keys(self) -> list[tuple]:
        return [tuple(r[c] for c in self.primary_key) for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "source": self.source, "location": self.location,
            "description": self.description, "count": self.count, "via": self.via,
            "categories": self.categories, "purposes": self.purposes, "retention": self.retention,
            "primary_key": list(self.primary_key), "columns": self.columns,
            "rows": [json_safe(r) for r in self.rows],
            **({"roles": self.roles, "withheld": self.withheld, "co_owned": self.co_owned, "owner": self.owner}
               if self.with_others else {}),
        }


@dataclass
class SubjectRecords:
    """Everything a lookup found about one subject (or the candidates to pick from)."""

    query: str
    kind: str
    status: str
    subject: Candidate | None = None
    records: dict[str, DatasetRecords] = field(default_factory=dict)
    context: dict[str, DatasetRecords] = field(default_factory=dict)
    # Rows found only through an identifier the subject shares with another person (a family e-mail): whose they
    # are cannot be told from the data, so they are shown apart for review, not handled as the subject's.
    shared: dict[str, DatasetRecords] = field(default_factory=dict)
    mentions: list[Mention] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)
    # How many matched in all: a name matches every exact namesake and the best similar names; the candidates
    # hold all exact ones and the best others, so show "top N of M", never a silent cap.
    candidates_total: int = 0
    elapsed_ms: float = 0.0
    map_fingerprint: str = ""
    # How the lookup read the data, when not as usual: datasets scanned because the lookup index was stale.
    notes: list[str] = field(default_factory=list)
    # Executed erasures of this person (matched by keyed digests of the identifier) and what they still keep
    # (`kept.ErasureOnRecord`): after an erasure the data may find nothing while restricted records remain.
    erasures: list[Any] = field(default_factory=list)

    @property
    def kept_rows(self) -> int:
        """Records an executed erasure of this person kept (restricted, scheduled) and still keeps."""
        return sum(e.kept_rows for e in self.erasures)

    @property
    def total_rows(self) -> int:
        return sum(r.count for r in self.records.values())

    def counts(self) -> dict[str, int]:
        return {name: r.count for name, r in self.records.items()}

    def summary(self) -> dict[str, Any]:
        """Counts only: safe to log and to show at a glance."""
        cats: dict[str, int] = {}
        for recs in self.records.values():
            for col_cats in recs.subject_categories.values():
                for c in col_cats:
                    cats[c] = cats.get(c, 0) + recs.count
        return {
            "status": self.status, "kind": self.kind,
            "subject": self.subject.ref if self.subject else None,
            "datasets": self.counts(), "total_rows": self.total_rows,
            "context": {n: r.count for n, r in self.context.items()},
            "shared": {n: r.count for n, r in self.shared.items()},
            "mentions": len(self.mentions), "candidates": len(self.candidates),
            "candidates_total": max(self.candidates_total, len(self.candidates)),
            "categories": dict(sorted(cats.items())), "elapsed_ms": round(self.elapsed_ms, 1),
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per dataset: how many records, which categories, why held, how long."""
        import pandas as pd

        return pd.DataFrame(self.summary_rows(), columns=SUMMARY_COLUMNS)

    def summary_rows(self) -> list[dict[str, Any]]:
        """`to_frame`'s rows, as dicts (no pandas)."""
        rows = []
        for recs in self.records.values():
            cats = sorted({c for cs in recs.subject_categories.values() for c in cs})
            rows.append({
                "dataset": recs.dataset, "records": recs.count, "source": recs.source,
                "location": recs.location, "categories": ", ".join(cats),
                "purposes": ", ".join(p["name"] for p in recs.purposes),
                "legal bases": ", ".join(sorted({p["legal_basis"] for p in recs.purposes})),
                "retention": (f"{recs.retention['keep']} from {recs.retention['from']} "
                              f"({recs.retention['ground']})") if recs.retention else "no rule",
                "found via": "; ".join(recs.via),
            })
        return rows

    def by_category(self) -> pd.DataFrame:
        """One row per data category: which datasets and fields hold it, and how many records."""
        import pandas as pd

        return pd.DataFrame(self.category_rows(), columns=["category", "datasets", "fields", "records"])

    def category_rows(self) -> list[dict[str, Any]]:
        """`by_category`'s rows, as dicts (no pandas)."""
        acc: dict[str, dict[str, Any]] = {}
        for recs in self.records.values():
            for col, cats in recs.subject_categories.items():
                for c in cats:
                    a = acc.setdefault(c, {"category": c, "datasets": set(), "fields": set(), "records": 0})
                    a["datasets"].add(recs.dataset)
                    a["fields"].add(f"{recs.dataset}.{col}")
            for c in {c for cs in recs.subject_categories.values() for c in cs}:
                acc[c]["records"] += recs.count
        rows = [{"category": a["category"], "datasets": ", ".join(sorted(a["datasets"])),
                 "fields": ", ".join(sorted(a["fields"])), "records": a["records"]}
                for a in sorted(acc.values(), key=lambda a: a["category"])]
        return rows

    def candidates_heading(self, shown: int) -> str:
        """How many people match, truthfully: "62 people match" or "the best 20 of 62 matches" when `shown` is
        fewer than all."""
        total = max(self.candidates_total, len(self.candidates))
        if shown < total:
            return (f"the best {shown} of {total} matches for {self.query!r} — add an e-mail, a phone number or an id "
                    f"to narrow the search")
        return f"{total} {'person matches' if total == 1 else 'people match'} {self.query!r}"

    def candidates_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([c.to_dict() for c in self.candidates],
                            columns=["ref", "label", "score", "subject_type", "dataset", "matched_on"])

    def mentions_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([m.to_dict() for m in self.mentions],
                            columns=["dataset", "key", "field", "matched", "snippet"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query, "kind": self.kind, "status": self.status,
            "subject": self.subject.to_dict() if self.subject else None,
            "summary": self.summary(),
            "records": {n: r.to_dict() for n, r in self.records.items()},
            "context": {n: r.to_dict() for n, r in self.context.items()},
            "shared": {n: r.to_dict() for n, r in self.shared.items()},
            "mentions": [m.to_dict() for m in self.mentions],
            "candidates": [c.to_dict() for c in self.candidates],
            "map_fingerprint": self.map_fingerprint,
            **({"notes": self.notes} if self.notes else {}),
            "erasures": [e.to_dict() for e in self.erasures], "kept_rows": self.kept_rows,
        }
