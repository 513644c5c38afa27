"""`privacyops check`: the data map against the live sources (tables and columns exist, types fit), and what the
live schema suggests the map is missing.

The store's declared foreign keys (`Connector.foreign_keys`: a PostgreSQL table's partitions and inheritance
children included) say where rows point, whether or not the map lists the reference. Three warnings come of them:
a row that points at two or more people without named parties (lookup and erasure cannot tell whose the row is);
a person's row pointing at personal data that is neither marked as theirs (`owned: true`) nor as shared reference
data (a plain reference would make the address the top of the customer, not the customer); and a foreign key to a
mapped dataset the map does not list at all (the lookup would never follow it).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import MapProblem, SourceError
from ..map import EMAIL, EU_EEA, NAME, PHONE, DataMap, Dataset, Reference
from ..sources import INHERITANCE_CHILD, PARENT, PARTITION, LiveColumn, type_family
from . import indexes
from .folder import Workspace

ELSEWHERE = (PARTITION, INHERITANCE_CHILD, PARENT)  # a trigger declared on another table of the tree
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
    named += [(c, f"{base}.maintained") for c in ds.maintained]
    if ds.retention and ds.retention in dm.retention and dm.retention[ds.retention].anchor.via is None:
        named.append((dm.retention[ds.retention].anchor.field, f"{base}.retention"))  # through a reference: below
    return named


def _anchor_column(ds: Dataset, dm, live: dict[str, dict[str, str]]) -> tuple[str, str | None]:
    """(the anchor column, its live type) of a dataset's rule: its own column, or the referenced row's."""
    anchor = dm.retention[ds.retention].anchor
    if anchor.via is None:
        return anchor.field, live.get(ds.name, {}).get(anchor.field)
    ref = ds.reference(anchor.via)
    return anchor.column, live.get(ref.to_dataset, {}).get(anchor.field) if ref else None


def check_workspace(ws: Workspace, count_rows: bool = True) -> CheckReport:
    """Compare the (already validated) map with the live sources."""
    dm = ws.datamap
    report = CheckReport()
    file = str(dm.path) if dm.path else None

    def problem(dotted: str, message: str) -> None:
        report.problems.append(MapProblem(dotted, message, dm.line_of(dotted), file))

    live: dict[str, dict[str, str]] = {}
    reach = indexes.walked(dm)  # the datasets whose references are indexed
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
                anchor, anchor_type = _anchor_column(ds, dm, live)
                if anchor_type is not None and type_family(anchor_type) != "date":
                    problem(f"datasets.{ds.name}.retention", f"retention rule '{ds.retention}' counts from "
                                                             f"'{anchor}', which is {anchor_type}, not a date")
                elif anchor_type is None and "." in anchor:
                    ref = ds.reference(dm.retention[ds.retention].anchor.via)
                    if ref is not None and ref.to_dataset in live:
                        problem(f"datasets.{ds.name}.retention", f"retention rule '{ds.retention}' counts from "
                                                                 f"'{anchor}': {ref.to_dataset} has no column "
                                                                 f"'{dm.retention[ds.retention].anchor.field}'")
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
                missing = [w[0] for w in indexes.wanted(ds, con, not indexes.lookup_index_serves(ws, ds), reach)
                           if w[0] not in con.index_names(ds)]
                if missing:
                    report.warnings.append(f"{ds.name}: {rows:,} rows and {len(missing)} lookup index(es) missing; "
                                           f"run `privacyops index` for fast lookups")
            unmapped = [c for c in cols if c not in ds.fields and c not in ds.primary_key
                        and c not in {r.column for r in ds.references}]
            if unmapped and any(f.personal for f in ds.fields.values()):
                report.warnings.append(f"{ds.name}: columns without a data category: {', '.join(unmapped)}")
        report.warnings.extend(reference_warnings(ws, live))
        for ds in dm.datasets.values():
            if ds.name in live:
                for dotted, message in placeholder_problems(ws, ds):
                    problem(dotted, message)
                report.warnings.extend(store_writes_warnings(ws, ds))
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


# -- what the store's foreign keys suggest the map is missing ------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A column of a dataset pointing at another mapped dataset: a map reference, a store foreign key, or both."""

    column: str
    target: str  # the dataset pointed at
    to_column: str
    ref: Reference | None  # the map's reference in that column (None: only the store declares it)
    key: str | None = None  # the store's constraint name, when it declares one

    @property
    def yaml(self) -> str:
        """The line to add under the dataset's references."""
        return f"{self.column}: {self.target}.{self.to_column}"


def store_links(ws: Workspace, ds: Dataset, live: dict[str, dict[str, str]]) -> dict[str, Link]:
    """column -> the store's foreign key from it to a mapped dataset of the same source (one-column keys only: a
    map reference is one column; a key every partition repeats counts once)."""
    dm, con = ws.datamap, ws.connector(ds.source)
    try:
        keys = con.foreign_keys(ds)
    except SourceError:
        return {}
    same = [t for t in dm.datasets.values() if t.source == ds.source and t.name in live]
    out: dict[str, Link] = {}
    for fk in keys:
        if len(fk.columns) != 1 or fk.column in out:
            continue
        targets = [t for t in same if con.points_at(fk, t)]
        if targets:  # the dataset naming the referenced table itself before one naming its parent
            t = min(targets, key=lambda t: t.table.split(".")[-1].lower() != fk.ref_table.lower())
            out[fk.column] = Link(fk.column, t.name, fk.ref_column, ds.reference(fk.column), fk.name)
    return out


def _links(dm: DataMap, ds: Dataset, store: dict[str, Link]) -> list[Link]:
    links = [Link(r.column, r.to_dataset, r.to_column, r, store[r.column].key if r.column in store else None)
             for r in ds.references if r.to_dataset in dm.datasets]
    return links + [link for col, link in store.items() if ds.reference(col) is None]


def _times(n: int) -> str:
    return {2: "twice", 3: "three times"}.get(n, f"{n} times")


def _party_name(link: Link, target: Dataset, taken: set[str]) -> str:
    """A party name from a reference column: host_id -> host, guest_member_id -> guest (the target's subject word
    dropped); the column itself when that is taken."""
    name = link.column.lower()
    for suffix in ("_id", "id"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    if target.subject and name.endswith("_" + target.subject.lower()):
        name = name[: -len(target.subject) - 1]
    name = name.strip("_")
    return name if name and name.isidentifier() and name not in taken else link.column


def _missing(links: list[Link]) -> str:
    """The references to add first: columns only the store declares."""
    absent = [link for link in links if link.ref is None]
    if not absent:
        return ""
    return (f"; the store declares {'this foreign key' if len(absent) == 1 else 'these foreign keys'}, the map "
            f"lists no reference: add {'; '.join(link.yaml for link in absent)} under references")


def party_warning(dm: DataMap, ds: Dataset, links: list[Link]) -> tuple[str | None, set[str]]:
    """A row pointing at two or more people without named parties: whose row is it? (warning, columns named)."""
    if ds.subject or ds.named_parties:  # a person's own row never belongs to another person (the map refuses it)
        return None, set()
    people = [link for link in links if dm.datasets[link.target].subject and (link.ref is None or link.ref.belongs_to)]
    if len(people) < 2:
        return None, set()
    taken: set[str] = set()
    parties = []
    for link in people:
        name = _party_name(link, dm.datasets[link.target], taken)
        taken.add(name)
        parties.append(f"{name}: {{reference: {link.column}}}")
    pairs = ", ".join(f"{link.column} -> {link.target}" for link in people)
    warning = (f"{ds.name} refers to people {_times(len(people))} ({pairs}): name the parties (parties: "
               f"{{{', '.join(parties)}}}, owner: the party the row belongs to){_missing(people)}")
    return warning, {link.column for link in people}


def owned_warnings(dm: DataMap, ds: Dataset, links: list[Link]) -> tuple[list[str], set[str]]:
    """A person's row pointing at personal data that is neither marked owned nor shared (warnings, columns)."""
    if not ds.subject:
        return [], set()
    out, named = [], set()
    for link in links:
        target = dm.datasets[link.target]
        personal = [f.name for f in target.fields.values() if f.personal]
        if target.subject or target.name == ds.name or not personal:
            continue
        if link.ref is not None and not link.ref.belongs_to:
            continue  # owned or shared: the map has said
        if any(r.to_dataset == ds.name for r in target.owner_references):
            continue  # the target's rows already belong to this person's: the lookup finds them that way
        out.append(f"{ds.name}.{link.column} points at {target.name}, which holds personal data "
                   f"({', '.join(personal)}): if the row it points at is the {ds.subject}'s own, mark the reference "
                   f"owned: true ({link.column}: {{to: {target.name}.{link.to_column}, owned: true}}); if it is "
                   f"shared reference data, shared: true{_missing([link])}")
        named.add(link.column)
    return out, named


def reference_warnings(ws: Workspace, live: dict[str, dict[str, str]]) -> list[str]:
    """The three warnings of the module docstring, for every dataset whose table exists."""
    dm = ws.datamap
    out: list[str] = []
    for ds in dm.datasets.values():
        if ds.name not in live:
            continue
        store = store_links(ws, ds, live)
        links = _links(dm, ds, store)
        party, covered = party_warning(dm, ds, links)
        owned, named = owned_warnings(dm, ds, links)
        out += ([party] if party else []) + owned
        for col, link in store.items():
            if link.ref is not None or col in covered | named:
                continue
            target = dm.datasets[link.target]
            key = f" ({link.key})" if link.key else ""
            if ds.subject and target.subject:
                how = (f"add {link.column}: {{to: {link.target}.{link.to_column}, shared: true}} under references "
                       f"(one person never belongs to another)")
            else:
                how = (f"add {link.yaml} under references (with shared: true if {link.target} is reference data, "
                       f"owned: true if the row it points at is this row's own)")
            out.append(f"{ds.name}.{link.column}: the store declares a foreign key to {link.target}."
                       f"{link.to_column}{key} that the map does not list; {how}")
    return out


# -- what the store writes itself, and the map's placeholders against the live columns ---------------------------

# Integer types and their ranges (PostgreSQL, DuckDB; SQLite's INTEGER holds 64 bits, whatever it is called).
_BITS = {"TINYINT": 8, "INT1": 8, "SMALLINT": 16, "INT2": 16, "INTEGER": 32, "INT": 32, "INT4": 32, "SERIAL": 32,
         "BIGINT": 64, "INT8": 64, "BIGSERIAL": 64, "HUGEINT": 128}
_UNSIGNED = {"UTINYINT": 8, "USMALLINT": 16, "UINTEGER": 32, "UBIGINT": 64}
_DECIMAL = re.compile(r"(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


def _integer_range(type_name: str, store: str) -> tuple[int, int]:
    t = type_name.upper().split("(")[0].strip()
    if store == "sqlite":
        return -2 ** 63, 2 ** 63 - 1
    if t in _UNSIGNED:
        return 0, 2 ** _UNSIGNED[t] - 1
    bits = _BITS.get(t, 64)
    return -2 ** (bits - 1), 2 ** (bits - 1) - 1


def placeholder_fit(value: Any, type_name: str, max_length: int | None = None, store: str = "") -> tuple[Any, str | None]:
    """(the placeholder as erasure writes it, or why it does not fit a column of `type_name`). Checked: the type
    (a number, a date written YYYY-MM-DD, true/false), an integer type's range, a NUMERIC(p, s)'s digits and a
    text's declared length; CHECK constraints need the store (`erasure.masking`). Dates and decimals stay text (the
    store reads them as the column's type), so the value is the same after the plan is stored as JSON."""
    family = type_family(type_name)
    if isinstance(value, bool) and family != "boolean":
        return None, f"true/false is not a value for a {type_name} column"
    if family == "integer":
        try:
            number = int(str(value).strip())
        except ValueError:
            return None, "not a whole number"
        low, high = _integer_range(type_name, store)
        if not low <= number <= high:
            return None, f"{number} is outside the range of {type_name} ({low} to {high})"
        return number, None
    if family == "number":
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            return None, "not a number"
        if not number.is_finite():
            return None, "not a finite number"
        m = _DECIMAL.match(type_name.upper().strip())
        if m and store != "sqlite":  # SQLite does not hold NUMERIC(p, s) to its digits
            digits, scale = int(m.group(1)), int(m.group(2) or 0)
            if abs(number) >= Decimal(10) ** (digits - scale):
                return None, f"{number} has more than {digits - scale} digit(s) before the decimal point"
        return str(number), None
    if family == "date":
        text = str(value).strip()
        try:
            parsed = (dt.date.fromisoformat(text) if type_name.upper().split("(")[0].strip() == "DATE"
                      else dt.datetime.fromisoformat(text))
        except ValueError:
            return None, "not a date written YYYY-MM-DD (or a time stamp YYYY-MM-DD HH:MM:SS)"
        return parsed.isoformat(sep=" ") if isinstance(parsed, dt.datetime) else parsed.isoformat(), None
    if family == "boolean":
        words = {"true": True, "false": False}
        if isinstance(value, bool) or str(value).strip().lower() in words:
            return value if isinstance(value, bool) else words[str(value).strip().lower()], None
        return None, "not true or false"
    text = str(value)
    if family == "text" and max_length is not None and len(text) > max_length:
        return None, f"{len(text)} characters, the column holds at most {max_length}"
    return text, None


def placeholder_problems(ws: Workspace, ds: Dataset) -> list[tuple[str, str]]:
    """(dotted map path, problem) for each placeholder (`mask: {col: {value: ...}}`) the live column cannot take:
    a value of another type, out of range or too long, or any value at all in a UNIQUE column."""
    if not ds.erasure.placeholders:
        return []
    con = ws.connector(ds.source)
    try:
        cols: dict[str, LiveColumn] = con.column_info(ds)
    except SourceError:
        return []
    out = []
    for col, value in ds.erasure.placeholders.items():
        lc = cols.get(col)
        if lc is None:
            continue  # a missing column is reported with the other map columns
        dotted = f"datasets.{ds.name}.erasure.mask.{col}"
        _, why = placeholder_fit(value, lc.type, lc.max_length, con.source.kind)
        if why:
            message = f"the placeholder {value!r} does not fit column {col} ({lc.type}): {why}; change the value"
        elif lc.unique:
            other = "hmac (a distinct pseudonym per value)" + (" or null" if lc.nullable else "")
            message = f"column {col} is UNIQUE: a placeholder would give every erased row the same value; use {other}"
        elif lc.generated:
            message = (f"column {col} is computed by the store ({lc.expression or 'generated'}): erasure cannot "
                       f"write it; mask the columns it is computed from instead")
        else:
            continue
        out.append((dotted, message))
    return out


def store_writes_warnings(ws: Workspace, ds: Dataset) -> list[str]:
    """Warnings for a dataset erasure and rectification write (one with personal fields): triggers that fire on
    those writes, and columns the store fills itself (defaults, generated columns)."""
    if not ds.personal_fields():
        return []
    con = ws.connector(ds.source)
    try:
        triggers, cols = con.triggers(ds), con.column_info(ds)
    except SourceError:
        return []
    out = []
    firing = [t for t in triggers if t.enabled and {"UPDATE", "DELETE"} & set(t.events)]
    if firing:
        said = ", ".join(f"{t.name} ({t.timing} {' OR '.join(t.events)}"
                         f"{' on ' + t.declared_in if t.declared_on in ELSEWHERE else ''})"
                         for t in firing)
        listed = f"; the map lists {', '.join(ds.maintained)} as maintained" if ds.maintained else ""
        out.append(f"{ds.name}: the store runs trigger(s) when erasure or rectification writes {ds.table}: {said}. "
                   f"A trigger may change what privacyops wrote or write what it did not: list the columns it keeps "
                   f"current under maintained: (e.g. maintained: [last_update]) so that verification does not "
                   f"compare them{listed}; a trigger that rewrites a masked personal field makes the erasure fail "
                   f"its verification")
    generated = [c for c in cols.values() if c.generated]
    if generated:
        out.append(f"{ds.name}: the store computes "
                   + ", ".join(f"{c.name} ({c.expression})" if c.expression else c.name for c in generated)
                   + ": erasure never writes such a column and verification does not compare it; it follows the "
                     "columns it is computed from, so mask those")
    filled = [c for c in cols.values() if c.default and not c.generated and not c.primary_key
              and c.name not in ds.maintained]
    if filled:
        out.append(f"{ds.name}: the store fills "
                   + ", ".join(f"{c.name} (default {c.default})" for c in filled)
                   + " when a row is inserted; a default does not change when erasure writes a row, but if a trigger "
                     "keeps such a column current (a last_update stamp), list it under maintained:")
    return out
