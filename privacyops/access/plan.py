"""What a subject's copy (Art. 15, 20) holds: per dataset, what goes in, what is masked and what is withheld, and why.

`plan_export()` looks the subject up and decides it; `export.py` writes the archive from the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import CaseError, PrivacyOpsError
from ..ledger import CLOSED, Case, audit, get_case, open_ledger
from ..lookup import AMBIGUOUS, FOUND, WITHHELD, SubjectRecords, lookup
from ..map import EMAIL, NAME, PHONE, Dataset
from ..sources import digits_of
from ..workspace import Workspace
from .wording import DEFAULT_LANGUAGE, dataset_title, human_field, texts

EXPORT_CASE_TYPES = ("access", "portability")
# Fields never put into a copy: a password hash tells the subject nothing and helps whoever gets the archive.
CREDENTIAL_CATEGORIES = frozenset({"user.authorization", "user.authorization.credentials",
                                   "user.authorization.password"})
# ... nor a field named like a secret, whatever category the map gives it (a token filed as system.operations).
_SECRET_NAME = re.compile(r"(^|_)(password|passwd|pwd|pass_?hash|hash|hashed|salt|token|secret|api_?key|"
                          r"otp|totp|mfa_?secret)(_|$)")


def credential_field(name: str, categories: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether a field holds a login secret: a credentials category, or a name like password / hash / token."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return bool(set(categories) & CREDENTIAL_CATEGORIES) or bool(_SECRET_NAME.search(snake))


class ExportError(PrivacyOpsError):
    """An export cannot be made as asked (nobody found, several people, a weak password, ...)."""

    exit_code = 2


# ---------------------------------------------------------------------------------------------------------------
# Masking other people's e-mail addresses and phone numbers in the subject's own free text (Art. 15(4)).

_EMAIL_IN_TEXT = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_PHONE_IN_TEXT = re.compile(r"(?<![\w+./-])(?:\+|00)?(?:\(\+?\d{1,4}\)[ .-]?)?\d[\d .\-/()]{5,}\d(?![\w/-])")
_DATE_START = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?!\d)")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def _phone_like(text: str) -> bool:
    """A number in free text that reads as a phone number (not a date, an IP address or a run of years)."""
    digits = digits_of(text)
    if not 7 <= len(digits) <= 15:
        return False
    if _DATE_START.match(text) or _IPV4.match(text):
        return False
    groups = re.findall(r"\d+", text)
    if len(groups) > 1 and all(len(g) == 4 and g[:2] in ("19", "20") for g in groups):
        return False
    return True


class Masker:
    """Replaces e-mail addresses and phone numbers that are not the subject's own; counts what it replaced."""

    def __init__(self, own_emails: set[str], own_phones: set[str], phone_digits: int = 8,
                 language: str = DEFAULT_LANGUAGE):
        self.own_emails = {e.strip().lower() for e in own_emails if e}
        self.phone_digits = phone_digits
        self.own_phones = {digits_of(p) for p in own_phones if p and len(digits_of(p)) >= 7}
        t = texts(language)
        self.mask_email, self.mask_phone = t["mask_email"], t["mask_phone"]

    def _own_phone(self, digits: str) -> bool:
        n = min(self.phone_digits, len(digits))
        return any(own[-n:] == digits[-n:] for own in self.own_phones)

    def __call__(self, text: str) -> tuple[str, int, int]:
        """(masked text, e-mail addresses replaced, phone numbers replaced)."""
        counts = [0, 0]

        def email(m: re.Match) -> str:
            if m.group(0).lower() in self.own_emails:
                return m.group(0)
            counts[0] += 1
            return self.mask_email

        def phone(m: re.Match) -> str:
            found = m.group(0)
            if not _phone_like(found) or self._own_phone(digits_of(found)):
                return found
            counts[1] += 1
            return self.mask_phone

        text = _EMAIL_IN_TEXT.sub(email, text)
        text = _PHONE_IN_TEXT.sub(phone, text)
        return text, counts[0], counts[1]


# ---------------------------------------------------------------------------------------------------------------
# The plan: what the copy holds and what it leaves out.


def _slug(title: str) -> str:
    """A title as a file name: `What you bought (the lines of your invoices)` -> `what-you-bought-the-lines-...`."""
    return re.sub(r"[^\w]+", "-", title.lower()).strip("-")


def _safe_name(name: str) -> str:
    """A file or folder name from a dataset or case name (no path separators, no surprises)."""
    return re.sub(r"[^\w.-]", "_", name).strip("._") or "_"


@dataclass
class DatasetPlan:
    """One dataset of the copy: the rows as exported (masked, credentials left out) and what was changed."""

    dataset: str
    description: str | None
    columns: list[str]
    categories: dict[str, list[str]]  # every mapped field -> its data categories (as processed, for the letter)
    rows: list[dict[str, Any]] = field(repr=False)
    csv_name: str = ""
    withheld_fields: list[str] = field(default_factory=list)
    masked_emails: int = 0
    masked_phones: int = 0
    masked_rows: int = 0
    free_text_fields: list[str] = field(default_factory=list)
    others_fields: list[str] = field(default_factory=list)  # other people's fields in these rows, left out
    others_rows: int = 0  # rows with another person's fields left out (Art. 15(4))
    # label column -> the reference column beside it: what the row points at, named (`product_id` -> `product`)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.rows)


@dataclass
class ExportPlan:
    """What an export of one subject will hold (`datasets`) and leave out (`withheld_*`, `context`), and why."""

    query: str
    case: Case | None
    records: SubjectRecords = field(repr=False)
    datasets: dict[str, DatasetPlan] = field(default_factory=dict)
    withheld_shared: dict[str, int] = field(default_factory=dict)  # rows under an identifier shared with others
    withheld_mentions: dict[str, int] = field(default_factory=dict)  # other people's rows that mention the subject
    context: dict[str, int] = field(default_factory=dict)  # shared reference data the records point at
    subject_name: str | None = None
    warnings: list[str] = field(default_factory=list)
    language: str = DEFAULT_LANGUAGE

    @property
    def status(self) -> str:
        return self.records.status

    @property
    def subject_label(self) -> str:
        s = self.records.subject
        return f"{s.label} [{s.ref}]" if s else self.query

    @property
    def total_rows(self) -> int:
        return sum(d.count for d in self.datasets.values())

    @property
    def masked_emails(self) -> int:
        return sum(d.masked_emails for d in self.datasets.values())

    @property
    def masked_phones(self) -> int:
        return sum(d.masked_phones for d in self.datasets.values())

    @property
    def withheld_fields(self) -> dict[str, list[str]]:
        return {n: d.withheld_fields for n, d in self.datasets.items() if d.withheld_fields}

    def counts(self) -> dict[str, int]:
        return {n: d.count for n, d in self.datasets.items()}

    def summary(self) -> dict[str, Any]:
        """Counts only: safe to log, audit and show at a glance."""
        return {
            "status": self.status, "case_id": self.case.case_id if self.case else None,
            "subject": self.records.subject.ref if self.records.subject else None,
            "datasets": self.counts(), "total_rows": self.total_rows,
            "masked_emails": self.masked_emails, "masked_phones": self.masked_phones,
            "withheld_mentions": dict(self.withheld_mentions), "withheld_shared": dict(self.withheld_shared),
            "withheld_fields": self.withheld_fields, "context": dict(self.context),
            "others_fields": {n: d.others_rows for n, d in self.datasets.items() if d.others_rows},
            "candidates": [c.ref for c in self.records.candidates],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per dataset: what goes into the copy and what was masked or left out of it."""
        rows = [{"dataset": n, "included": d.count, "masked e-mails": d.masked_emails,
                 "masked phones": d.masked_phones, "withheld fields": ", ".join(d.withheld_fields)}
                for n, d in self.datasets.items()]
        return pd.DataFrame(rows, columns=["dataset", "included", "masked e-mails", "masked phones",
                                           "withheld fields"])

    def withheld_frame(self) -> pd.DataFrame:
        """What the copy leaves out, dataset by dataset, and why."""
        rows = []
        for n, c in self.withheld_mentions.items():
            rows.append({"dataset": n, "records": c, "withheld": "other people's records that mention the subject",
                         "why": "their data, not the subject's (Art. 15(4)); the letter says they exist"})
        for n, c in self.withheld_shared.items():
            rows.append({"dataset": n, "records": c, "withheld": "held under an identifier shared with another "
                                                                "person", "why": "whose they are cannot be told; "
                                                                                 "review with the subject"})
        for n, fields in self.withheld_fields.items():
            rows.append({"dataset": n, "records": self.datasets[n].count,
                         "withheld": "fields: " + ", ".join(fields), "why": "security credentials"})
        for n, d in self.datasets.items():
            if d.others_rows:
                rows.append({"dataset": n, "records": d.others_rows,
                             "withheld": "fields: " + ", ".join(d.others_fields),
                             "why": "another person's data in the subject's records (Art. 15(4))"})
        for n, c in self.context.items():
            rows.append({"dataset": n, "records": c, "withheld": "shared reference data",
                         "why": "not data about the subject"})
        return pd.DataFrame(rows, columns=["dataset", "records", "withheld", "why"])

    def lines(self) -> list[str]:
        """The plan as text (CLI, notebook): deterministic for the same data."""
        if self.status == AMBIGUOUS:
            return [f"{self.query!r}: {len(self.records.candidates)} people match; pick one:"] + [
                f"  {c.ref:<24} {c.label}" for c in self.records.candidates]
        if self.status != FOUND:
            return [f"{self.query!r}: no records found; nothing to export"]
        out = [f"{self.subject_label}: {self.total_rows} records in {len(self.datasets)} datasets go into the copy"]
        for n, d in self.datasets.items():
            notes = []
            if d.masked_emails:
                notes.append(f"{d.masked_emails} e-mail(s) of others masked")
            if d.masked_phones:
                notes.append(f"{d.masked_phones} phone number(s) of others masked")
            if d.withheld_fields:
                notes.append("withheld: " + ", ".join(d.withheld_fields))
            if d.others_rows:
                notes.append(f"other people's fields left out in {d.others_rows} row(s)")
            out.append(f"  {n:<32}{d.count:>6}" + (f"  ({'; '.join(notes)})" if notes else ""))
        fmt = lambda counts: ", ".join(f"{n} ({c})" for n, c in counts.items()) or "none"  # noqa: E731
        out.append(f"withheld, other people's records mentioning the subject: {fmt(self.withheld_mentions)}")
        out.append(f"withheld, held under an identifier shared with another person: {fmt(self.withheld_shared)}")
        out.append(f"not exported, shared reference data: {fmt(self.context)}")
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


# ---------------------------------------------------------------------------------------------------------------
# Labels: what a row points at, named (an invoice line's product, a rental's film), beside the key it holds.

_LABEL_DEPTH = 2  # how many references a label may follow (a rental -> its inventory item -> the film's title)


def _label_candidates(ds: Dataset) -> list[str]:
    """Fields that may name a row when the map gives no `label`: not the key, not a reference, not personal,
    never a credential (map order; the first holding text wins)."""
    refs = {r.column for r in ds.references}
    return [f.name for f in ds.fields.values() if f.name not in ds.primary_key and f.name not in refs
            and not f.personal and not credential_field(f.name, f.categories)]


def _fetch(ws: Workspace, ds: Dataset, column: str, values: set[str]) -> dict[str, dict[str, Any]]:
    """The rows of `ds` whose `column` holds one of `values`, by that value (as text)."""
    if not values:
        return {}
    with ws.reading():  # closed after (or kept, as the workspace's policy says), like a lookup's reads
        rows = ws.connector(ds.source).select_in(ds, column, sorted(values)).dicts()
    return {str(r.get(column)): r for r in rows}


def _labels_of(ws: Workspace, ds: Dataset, rows: list[dict[str, Any]], depth: int = 0) -> list[str | None]:
    """A label for each of `ds`'s `rows`: the map's `label` fields, else the first text field that is not
    personal, else (up to _LABEL_DEPTH) the label of what the row points at."""
    dm = ws.datamap
    if ds.label:
        parts: list[list[str | None]] = []
        for item in ds.label:
            via, _, col = item.rpartition(".")
            ref = ds.reference(via) if via else None
            if ref is None:
                parts.append([None if r.get(col) in (None, "") else str(r.get(col)) for r in rows])
                continue
            target = _fetch(ws, dm.datasets[ref.to_dataset], ref.to_column,
                            {str(r[via]) for r in rows if r.get(via) is not None})
            parts.append([None if (t := target.get(str(r.get(via)))) is None or t.get(col) in (None, "")
                          else str(t[col]) for r in rows])
        return [", ".join(p for p in ps if p) or None for ps in zip(*parts)] if parts else [None] * len(rows)
    for col in _label_candidates(ds):
        values = [r.get(col) for r in rows if r.get(col) is not None]
        if values and all(isinstance(v, str) for v in values):
            return [r.get(col) or None for r in rows]
    if depth < _LABEL_DEPTH:
        for ref in ds.shared_references:
            target_ds = dm.datasets[ref.to_dataset]
            got = _fetch(ws, target_ds, ref.to_column, {str(r[ref.column]) for r in rows
                                                         if r.get(ref.column) is not None})
            keys = list(got)
            named = dict(zip(keys, _labels_of(ws, target_ds, list(got.values()), depth + 1)))
            if any(named.values()):
                return [named.get(str(r.get(ref.column))) for r in rows]
    return [None] * len(rows)


def label_column(ref_column: str, target: str, taken: set[str], for_subject: str | None = None) -> str:
    """The name of the column beside a reference that names what it points at: the reference field's
    `for_subject`, else the reference without its key suffix (`product_id` -> `product`, `TrackId` -> `track`),
    else the target's name in words."""
    words = human_field(ref_column)
    name = for_subject or re.sub(r"\s+(id|key|no|nr|number|ref)$", "", words)
    if name == words or not name:
        name = human_field(target.rsplit(".", 1)[-1])
    while name in taken:
        name += " (name)"
    return name


def add_labels(ws: Workspace, ds: Dataset, dp: DatasetPlan) -> None:
    """Beside each reference to shared reference data, a column naming what it points at (`product_id` +
    `product`), in the copy's rows and columns: a history of keys alone is unreadable."""
    dm = ws.datamap
    for ref in ds.shared_references:
        if ref.column not in dp.columns or ref.to_dataset not in dm.datasets:
            continue
        target = dm.datasets[ref.to_dataset]
        values = {str(r[ref.column]) for r in dp.rows if r.get(ref.column) not in (None, "", WITHHELD)}
        got = _fetch(ws, target, ref.to_column, values)
        named = dict(zip(got, _labels_of(ws, target, list(got.values()))))
        if not any(named.values()):
            continue
        f = ds.fields.get(ref.column)
        col = label_column(ref.column, target.name, set(dp.columns), f.for_subject if f else None)
        for r in dp.rows:
            v = r.get(ref.column)
            r[col] = None if v in (None, WITHHELD) else named.get(str(v))
        dp.columns.insert(dp.columns.index(ref.column) + 1, col)
        dp.labels[col] = ref.column


def _own_identities(ws: Workspace, result: SubjectRecords) -> tuple[set[str], set[str], set[str]]:
    """The subject's e-mail addresses and phone numbers (as their records hold them), and every identity value."""
    dm = ws.datamap
    emails, phones, values = set(), set(), set()
    for name, recs in result.records.items():
        ds = dm.datasets[name]
        for kind, cols in ds.identities.items():
            for r in recs.rows:
                for c in cols:
                    v = r.get(c)
                    if v in (None, "", WITHHELD):
                        continue
                    values.add(str(v))
                    if kind == EMAIL:
                        emails.add(str(v).strip().lower())
                    elif kind == PHONE:
                        phones.add(str(v))
    q = result.query.strip()
    if result.status == FOUND and q:
        if EMAIL in result.kind.split("/"):
            emails.add(q.lower())
        if PHONE in result.kind.split("/"):
            phones.add(q)
    return emails, phones, values


def _subject_name(ws: Workspace, result: SubjectRecords) -> str | None:
    s = result.subject
    if not s or s.dataset not in result.records:
        return None
    ds = ws.datamap.datasets[s.dataset]
    recs = result.records[s.dataset]
    row = next((r for r, k in zip(recs.rows, recs.keys()) if tuple(map(str, k)) == tuple(map(str, s.key))), None)
    if row is None:
        return None
    parts = [str(row[c]).strip() for c in ds.identity_columns(NAME) if row.get(c) not in (None, "")]
    return " ".join(p for p in parts if p) or None


def _case_subject_hash(ws: Workspace, case_id: str) -> str | None:
    with open_ledger(ws, read_only=ws.datamap.ledger.kind == "duckdb") as con:
        row = con.execute("SELECT subject_hash FROM cases WHERE case_id = ?", [case_id]).fetchone()
    return row[0] if row else None


def export_case(ws: Workspace, case_id: str | None) -> Case:
    """The case an export answers: it must exist, be an access or portability request and still be open."""
    if not case_id or not str(case_id).strip():
        raise CaseError("an export answers a request: give its case (open one with `privacyops case open --type "
                        "access --received YYYY-MM-DD`)")
    case = get_case(ws, str(case_id).strip())
    if case.type not in EXPORT_CASE_TYPES:
        raise CaseError(f"case {case.case_id} is a{'n' if case.type[:1] in 'aeiou' else ''} {case.type} request; "
                        f"an export answers an access or portability request only (open one with `privacyops "
                        f"case open --type access ...`)")
    if case.status == CLOSED:
        raise CaseError(f"case {case.case_id} is closed; open a new case to send another copy")
    return case


def plan_export(ws: Workspace, case_id: str | None, identifier: str | None = None, pick: str | None = None, *,
                language: str = DEFAULT_LANGUAGE) -> ExportPlan:
    """Look the subject up and decide what their copy holds and leaves out (nothing is written but the lookup's
    audit entry). `case_id=None` gives a preview attached to no case; an export always needs the case."""
    texts(language)  # an unknown language fails before any data is read
    case = export_case(ws, case_id) if case_id is not None else None
    result = lookup(ws, identifier, pick=pick, case_id=case.case_id if case else None, mentions=True)
    plan = ExportPlan(query=result.query, case=case, records=result, language=language)
    if result.status != FOUND:
        return plan
    dm = ws.datamap
    own_emails, own_phones, own_values = _own_identities(ws, result)
    org = dm.organisation
    service = {a.strip().lower() for a in (org.contact, org.dpo) if a and "@" in a}  # not another person's
    masker = Masker(own_emails | service, own_phones, dm.settings.phone_match_digits, language)
    used_csv: set[str] = set()
    for name, recs in result.records.items():
        ds = dm.datasets[name]
        withheld = [c for c in recs.columns if credential_field(c, recs.categories.get(c, ()))]
        columns = [c for c in recs.columns if c not in withheld]
        free = [f for f in ds.free_text_fields if f in columns]
        # Named as the subject reads the data (`csv/your-orders.csv`), never by the map's dataset id.
        csv_name = f"csv/{_safe_name(_slug(dataset_title(dm, name)))}.csv"
        while csv_name in used_csv:
            csv_name = csv_name[:-4] + "_.csv"
        used_csv.add(csv_name)
        dp = DatasetPlan(dataset=name, description=recs.description, columns=columns,
                         categories={c: list(cats) for c, cats in recs.subject_categories.items()
                                     if c not in withheld}, rows=[],
                         csv_name=csv_name, withheld_fields=withheld, free_text_fields=free)
        for i, r in enumerate(recs.rows):
            row = {c: r.get(c) for c in columns}
            others = [c for c in (recs.withheld[i] if recs.withheld else []) if c in row]
            if others:  # another party's fields: in the copy as "[another person's data]" (they were in the row)
                dp.others_rows += 1
                dp.others_fields = list(dict.fromkeys(dp.others_fields + others))
            changed = False
            for f in free:
                value = row.get(f)
                if isinstance(value, str) and value:
                    new, n_email, n_phone = masker(value)
                    if n_email or n_phone:
                        row[f] = new
                        dp.masked_emails += n_email
                        dp.masked_phones += n_phone
                        changed = True
            dp.masked_rows += changed
            dp.rows.append(row)
        add_labels(ws, ds, dp)
        plan.datasets[name] = dp
    for m in result.mentions:
        plan.withheld_mentions[m.dataset] = plan.withheld_mentions.get(m.dataset, 0) + 1
    plan.withheld_shared = {n: r.count for n, r in result.shared.items()}
    plan.context = {n: r.count for n, r in result.context.items()}
    plan.subject_name = _subject_name(ws, result)
    if case is not None:
        expected = _case_subject_hash(ws, case.case_id)
        if expected:
            mine = own_values | own_emails | own_phones | {result.query}
            if result.subject:
                mine.add(result.subject.ref)
            if not any(audit.subject_hash(ws, v) == expected for v in mine if v):
                plan.warnings.append(f"case {case.case_id} was opened for an identifier that is none of this "
                                     f"subject's e-mails, phone numbers or ids as stored: check that this is the "
                                     f"person who made the request")
    return plan


