"""`privacyops check`: the data map against the live sources (tables and columns exist, types fit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import MapProblem, SourceError
from ..map import EMAIL, EU_EEA, NAME, PHONE, Dataset
from ..sources import type_family
from . import indexes
from .folder import Workspace

INDEX_WARN_ROWS = 100_000  # above this, a scan per lookup is slow enough to suggest `privacyops index`


@dataclass
class CheckReport:
    """What `check` found: problems (the map does not fit the data) and warnings (policy gaps)."""

    problems: list[MapProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # dataset -> row count

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [str(p) for p in self.problems], "warnings": self.warnings,
                "rows": self.rows}


def _columns_named(ds: Dataset, dm) -> list[tuple[str, str]]:
    """Every column the map names for a dataset, with the dotted path that names it."""
    base = f"datasets.{ds.name}"
    named = [(c, f"{base}.primary_key") for c in ds.primary_key]
    named += [(f, f"{base}.fields.{f}") for f in ds.fields]
    named += [(c, f"{base}.identities.{k}") for k, cols in ds.identities.items() for c in cols]
    named += [(r.column, f"{base}.references.{r.column}") for r in ds.references]
    named += [(c, f"{base}.erasure.keep_fields") for c in ds.erasure.keep_fields]
    named += [(c, f"{base}.erasure.mask.{c}") for c in ds.erasure.mask]
    if ds.retention and ds.retention in dm.retention:
        named.append((dm.retention[ds.retention].anchor.field, f"{base}.retention"))
    return named


def check_workspace(ws: Workspace, count_rows: bool = True) -> CheckReport:
    """Compare the (already validated) map with the live sources."""
    dm = ws.datamap
    report = CheckReport()
    file = str(dm.path) if dm.path else None

    def problem(dotted: str, message: str) -> None:
        report.problems.append(MapProblem(dotted, message, dm.line_of(dotted), file))

    live: dict[str, dict[str, str]] = {}
    ws.forget_schemas()
    with ws.session():
        for ds in dm.datasets.values():
            try:
                live[ds.name] = ws.connector(ds.source).columns(ds)
                if count_rows:
                    report.rows[ds.name] = ws.connector(ds.source).count(ds)
            except SourceError as exc:
                problem(f"datasets.{ds.name}", str(exc))
        for ds in dm.datasets.values():
            cols = live.get(ds.name)
            if cols is None:
                continue
            for col, dotted in _columns_named(ds, dm):
                if col not in cols:
                    problem(dotted, f"column '{col}' does not exist in {ds.table}; it has: {', '.join(cols)}")
            for kind in (EMAIL, PHONE, NAME):
                for col in ds.identity_columns(kind):
                    if col in cols and type_family(cols[col]) != "text":
                        problem(f"datasets.{ds.name}.identities.{kind}",
                                f"{kind} column '{col}' is {cols[col]}; {kind} identities must be text")
            for f in ds.free_text_fields:
                if f in cols and type_family(cols[f]) != "text":
                    problem(f"datasets.{ds.name}.fields.{f}", f"free-text field '{f}' is {cols[f]}, not text")
            if ds.retention and ds.retention in dm.retention:
                anchor = dm.retention[ds.retention].anchor.field
                if anchor in cols and type_family(cols[anchor]) != "date":
                    problem(f"datasets.{ds.name}.retention", f"retention rule '{ds.retention}' counts from "
                                                             f"'{anchor}', which is {cols[anchor]}, not a date")
            for r in ds.references:
                target = live.get(r.to_dataset)
                if target is None or r.column not in cols:
                    continue
                if r.to_column not in target:
                    problem(f"datasets.{ds.name}.references.{r.column}",
                            f"'{r.to_dataset}' has no column '{r.to_column}'; it has: {', '.join(target)}")
                elif type_family(cols[r.column]) != type_family(target[r.to_column]):
                    problem(f"datasets.{ds.name}.references.{r.column}",
                            f"'{r.column}' is {cols[r.column]} but {r.to_dataset}.{r.to_column} is "
                            f"{target[r.to_column]}: the values cannot match")
            rows = report.rows.get(ds.name, 0)
            if rows > INDEX_WARN_ROWS and dm.sources[ds.source].kind in indexes.INDEXED_KINDS:
                con = ws.connector(ds.source)
                missing = [w[0] for w in indexes.wanted(ds, con)
                           if w[0] not in con.index_names(ds)]
                if missing:
                    report.warnings.append(f"{ds.name}: {rows:,} rows and {len(missing)} lookup index(es) missing; "
                                           f"run `privacyops index` for fast lookups")
            unmapped = [c for c in cols if c not in ds.fields and c not in ds.primary_key
                        and c not in {r.column for r in ds.references}]
            if unmapped and any(f.personal for f in ds.fields.values()):
                report.warnings.append(f"{ds.name}: columns without a data category: {', '.join(unmapped)}")
    for src in dm.sources.values():
        if src.location not in EU_EEA:
            report.warnings.append(f"source '{src.name}' is located in {src.location}, outside the EU/EEA: a "
                                   f"transfer needs safeguards (Chapter V GDPR)")
    for rec in dm.recipients.values():
        if rec.location and rec.location not in EU_EEA:
            report.warnings.append(f"recipient '{rec.name}' is located in {rec.location}, outside the EU/EEA")
    for ds in dm.datasets.values():
        if any(f.personal for f in ds.fields.values()) and not ds.retention:
            report.warnings.append(f"{ds.name}: personal data with no retention rule (storage limitation, "
                                   f"Art. 5(1)(e))")
    return report
