"""Access and portability (Art. 15, 20 GDPR): review what a subject's copy holds, then produce it as one archive.

`plan_export()` looks the subject up and decides, per dataset, what goes into the copy and what is left out and why:

* the subject's rows go in; in their own free-text fields (`free_text: true`) e-mail addresses and phone numbers that
  are not the subject's own are masked (`[e-mail of another person removed]`) and counted (Art. 15(4));
* rows of other people that mention the subject (`SubjectRecords.mentions`) are other people's data: they are not
  exported, the letter only says how many there are and why they are withheld;
* rows found only under an identifier the subject shares with someone else (`SubjectRecords.shared`, a family
  e-mail) are withheld with a note: whose they are cannot be told from the data;
* security credentials (password hashes) are withheld with a note; shared reference data (products, the agents who
  answered) is not the subject's data and is not exported.

`export_subject()` does the same for an open access or portability case and writes ONE AES-256 zip to
`<workspace>/exports/<case_id>/`: `report.html` (the letter), `data.json`, `csv/<dataset>.csv`, `manifest.json`. The
password is generated unless given, returned once, never stored; the ledger's `exports` table keeps the archive's
SHA-256 (never its content), and the audit log an `export.create` entry with counts. `purge_exports()` removes old
archives and marks them purged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__, archive, audit
from .cases import CLOSED, Case, get_case
from .datamap import EMAIL, NAME, PHONE
from .errors import CaseError, LookupInputError, PrivacyOpsError
from .ledger import ledger_exists, open_ledger
from .letter import DEFAULT_LANGUAGE, category_label, render_letter, texts
from .lookup import lookup
from .sources.base import digits_of
from .subject import AMBIGUOUS, FOUND, SubjectRecords, json_safe
from .workspace import Workspace, current_actor

EXPORT_CASE_TYPES = ("access", "portability")
EXPORTS_DIR = "exports"
CREATED, DELIVERED, PURGED = "created", "delivered", "purged"
# Fields never put into a copy: a password hash tells the subject nothing and helps whoever gets the archive.
CREDENTIAL_CATEGORIES = frozenset({"user.authorization.credentials", "user.authorization.password"})
MIN_PASSWORD_LENGTH = 12
DATA_FORMAT = "privacyops-export/1"


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
            out.append(f"  {n:<32}{d.count:>6}" + (f"  ({'; '.join(notes)})" if notes else ""))
        fmt = lambda counts: ", ".join(f"{n} ({c})" for n, c in counts.items()) or "none"  # noqa: E731
        out.append(f"withheld, other people's records mentioning the subject: {fmt(self.withheld_mentions)}")
        out.append(f"withheld, held under an identifier shared with another person: {fmt(self.withheld_shared)}")
        out.append(f"not exported, shared reference data: {fmt(self.context)}")
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


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
                    if v in (None, ""):
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
        withheld = [c for c in recs.columns if set(recs.categories.get(c, ())) & CREDENTIAL_CATEGORIES]
        columns = [c for c in recs.columns if c not in withheld]
        free = [f for f in ds.free_text_fields if f in columns]
        csv_name = f"csv/{_safe_name(name)}.csv"
        while csv_name in used_csv:
            csv_name = csv_name[:-4] + "_.csv"
        used_csv.add(csv_name)
        dp = DatasetPlan(dataset=name, description=recs.description, columns=columns,
                         categories={c: list(cats) for c, cats in recs.categories.items()}, rows=[],
                         csv_name=csv_name, withheld_fields=withheld, free_text_fields=free)
        for r in recs.rows:
            row = {c: r.get(c) for c in columns}
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


# ---------------------------------------------------------------------------------------------------------------
# The archive's files.


def _csv_value(value: Any) -> str:
    v = json_safe(value)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _csv_bytes(dp: DatasetPlan) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(dp.columns)
    for row in dp.rows:
        w.writerow([_csv_value(row.get(c)) for c in dp.columns])
    return buf.getvalue().encode("utf-8-sig")  # the BOM lets spreadsheet programs read the accents right


def _data_json(ws: Workspace, plan: ExportPlan, case: Case, export_id: str, generated_at: str) -> bytes:
    org = ws.datamap.organisation
    body = {
        "format": DATA_FORMAT,
        "controller": {"name": org.name, "address": org.address, "contact": org.contact, "dpo": org.dpo},
        "case_id": case.case_id, "request": case.type, "export_id": export_id, "generated_at": generated_at,
        "subject": {"name": plan.subject_name,
                    "reference": plan.records.subject.ref if plan.records.subject else None},
        "datasets": {
            n: {
                "description": d.description,
                "count": d.count,
                "fields": [{"name": c, "categories": d.categories.get(c, []),
                            "labels": [category_label(x, plan.language) for x in d.categories.get(c, [])]}
                           for c in d.columns],
                "withheld_fields": d.withheld_fields,
                "csv": d.csv_name,
                "records": [json_safe(r) for r in d.rows],
            } for n, d in plan.datasets.items()
        },
        "left_out": {
            "masked_in_free_text": {"emails": plan.masked_emails, "phones": plan.masked_phones,
                                    "by_dataset": {n: {"emails": d.masked_emails, "phones": d.masked_phones}
                                                   for n, d in plan.datasets.items()
                                                   if d.masked_emails or d.masked_phones}},
            "records_of_others_mentioning_you": plan.withheld_mentions,
            "records_under_a_shared_identifier": plan.withheld_shared,
            "withheld_fields": plan.withheld_fields,
        },
    }
    return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_files(ws: Workspace, plan: ExportPlan, case: Case, export_id: str, when: dt.datetime) -> dict[str, bytes]:
    """Every file of the archive, in order: the letter, data.json, one CSV per dataset, the manifest."""
    generated_at = when.isoformat(timespec="seconds")
    data = {"data.json": _data_json(ws, plan, case, export_id, generated_at)}
    for d in plan.datasets.values():
        data[d.csv_name] = _csv_bytes(d)
    names = ["report.html", *data, "manifest.json"]
    letter = render_letter(ws.datamap, plan, case, export_id=export_id, generated_at=when, files=names,
                           language=plan.language)
    files = {"report.html": letter.encode("utf-8"), **data}
    files["manifest.json"] = archive.manifest(
        files, case_id=case.case_id, request=case.type, export_id=export_id, generated_at=generated_at,
        map_fingerprint=ws.datamap.fingerprint, privacyops_version=__version__, language=plan.language)
    return files


# ---------------------------------------------------------------------------------------------------------------
# Passwords.


def check_password(password: str) -> str:
    """A password given by the analyst: long enough, printable ASCII (zip tools disagree on other characters)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ExportError(f"the archive password must have at least {MIN_PASSWORD_LENGTH} characters; or give "
                          f"none and privacyops generates a strong one")
    if any(not 32 <= ord(ch) < 127 for ch in password):
        raise ExportError("use printable ASCII characters only in the archive password (letters, digits, "
                          "punctuation, spaces): zip tools read other characters differently")
    return password


def read_password_file(path: str | Path) -> str:
    """The password on the first line of a file (its line ending removed)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read the password file {p}: {exc.__class__.__name__}") from None
    first = text.splitlines()[0] if text else ""
    return check_password(first)


def write_password_file(path: str | Path, password: str) -> Path:
    """Write a password into a file only its owner can read (0600), replacing it if it exists."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
    os.replace(tmp, p)
    os.chmod(p, 0o600)
    return p


# ---------------------------------------------------------------------------------------------------------------
# The export.


@dataclass
class ExportResult:
    """One archive made. `password` is set only when privacyops generated it: show it once, send it through
    another channel than the archive; it is stored nowhere."""

    export_id: str
    case_id: str
    path: Path
    sha256: str
    size: int
    created_at: dt.datetime
    datasets: dict[str, int]
    masked_emails: int
    masked_phones: int
    withheld_mentions: dict[str, int]
    withheld_shared: dict[str, int]
    withheld_fields: dict[str, list[str]]
    password: str | None = field(default=None, repr=False)
    plan: ExportPlan | None = field(default=None, repr=False)

    @property
    def total_rows(self) -> int:
        return sum(self.datasets.values())

    @property
    def password_generated(self) -> bool:
        return self.password is not None

    def to_dict(self) -> dict[str, Any]:
        """Everything about the archive except the password."""
        return {"export_id": self.export_id, "case_id": self.case_id, "path": str(self.path),
                "sha256": self.sha256, "size": self.size, "created_at": self.created_at.isoformat(),
                "datasets": self.datasets, "total_rows": self.total_rows,
                "masked_emails": self.masked_emails, "masked_phones": self.masked_phones,
                "withheld_mentions": self.withheld_mentions, "withheld_shared": self.withheld_shared,
                "withheld_fields": self.withheld_fields, "password_generated": self.password_generated}


def _ledger_path(ws: Workspace, path: Path) -> str:
    try:
        return path.resolve().relative_to(ws.root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def export_subject(ws: Workspace, case_id: str | None, identifier: str | None = None, *, pick: str | None = None,
                   password: str | None = None, out_dir: str | Path | None = None,
                   language: str = DEFAULT_LANGUAGE) -> ExportResult:
    """Answer an access or portability request: one encrypted archive with the subject's copy and the letter.

    The case is checked before any data is read (nothing is written for a missing, closed or wrong-type case).
    Returns the archive's path and SHA-256 and, when no password was given, the generated password (once).
    """
    case = export_case(ws, case_id)
    if password is not None:
        check_password(password)
    plan = plan_export(ws, case.case_id, identifier, pick, language=language)
    if plan.status == AMBIGUOUS:
        refs = ", ".join(c.ref for c in plan.records.candidates)
        raise LookupInputError(f"{len(plan.records.candidates)} people match {plan.query!r}; export one of them "
                               f"with pick: {refs}")
    if plan.status != FOUND:
        raise ExportError(f"no records found for {plan.query!r}: nothing to export (answer the request with a "
                          f"letter saying that we hold no data about them)")
    generated = password is None
    password = archive.generate_password() if generated else password
    when = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    export_id = f"EXP-{when:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    folder = Path(out_dir) if out_dir else ws.root / EXPORTS_DIR / _safe_name(case.case_id)
    path = (folder / f"{_safe_name(case.case_id)}_{export_id}.zip").resolve()
    files = build_files(ws, plan, case, export_id, when)
    size, sha = archive.write_archive(path, files, password, when=when)
    actor = current_actor()
    try:
        with open_ledger(ws) as con:
            con.execute("INSERT INTO exports (export_id, case_id, created_at, created_by, sha256, path, size, "
                        "datasets, status, purged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        [export_id, case.case_id, when.replace(tzinfo=None), actor, sha, _ledger_path(ws, path),
                         size, len(plan.datasets), CREATED])
    except BaseException:
        path.unlink(missing_ok=True)  # never an archive the register does not know
        raise
    audit.record(ws, "export.create", {
        "export_id": export_id, "sha256": sha, "size": size, "request": case.type,
        "datasets": plan.counts(), "total_rows": plan.total_rows,
        "masked_emails": plan.masked_emails, "masked_phones": plan.masked_phones,
        "withheld_mentions": sum(plan.withheld_mentions.values()),
        "withheld_shared": sum(plan.withheld_shared.values()),
        "withheld_fields": sum(len(f) for f in plan.withheld_fields.values()),
        "password": "generated" if generated else "given", "language": language,
        "map_fingerprint": ws.datamap.fingerprint[:16],
    }, case_id=case.case_id, subject=identifier or pick)
    return ExportResult(export_id=export_id, case_id=case.case_id, path=path, sha256=sha, size=size,
                        created_at=when, datasets=plan.counts(), masked_emails=plan.masked_emails,
                        masked_phones=plan.masked_phones, withheld_mentions=dict(plan.withheld_mentions),
                        withheld_shared=dict(plan.withheld_shared), withheld_fields=plan.withheld_fields,
                        password=password if generated else None, plan=plan)


# ---------------------------------------------------------------------------------------------------------------
# The register of exports: list, delivered, purge.


@dataclass(frozen=True)
class ExportRecord:
    export_id: str
    case_id: str
    created_at: dt.datetime
    created_by: str
    sha256: str
    path: str
    size: int
    datasets: int
    status: str
    purged_at: dt.datetime | None

    def file(self, ws: Workspace) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() else ws.root / p

    def to_dict(self) -> dict[str, Any]:
        return {"export_id": self.export_id, "case_id": self.case_id, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by, "sha256": self.sha256, "path": self.path, "size": self.size,
                "datasets": self.datasets, "status": self.status,
                "purged_at": self.purged_at.isoformat() if self.purged_at else None}


_EXPORT_COLS = "export_id, case_id, created_at, created_by, sha256, path, size, datasets, status, purged_at"


def list_exports(ws: Workspace, case_id: str | None = None) -> list[ExportRecord]:
    """The archives made, oldest first (of one case when given)."""
    if not ledger_exists(ws):
        return []
    sql, params = f"SELECT {_EXPORT_COLS} FROM exports", []
    if case_id:
        sql += " WHERE case_id = ?"
        params.append(case_id)
    with open_ledger(ws) as con:
        rows = con.execute(sql + " ORDER BY created_at, export_id", params).fetchall()
    return [ExportRecord(*r) for r in rows]


def mark_delivered(ws: Workspace, export_id: str) -> ExportRecord:
    """Record that an archive was sent to the subject."""
    got = {e.export_id: e for e in list_exports(ws)}
    rec = got.get(export_id)
    if rec is None:
        raise ExportError(f"unknown export '{export_id}'; see `privacyops export list`")
    if rec.status == PURGED:
        raise ExportError(f"export {export_id} was purged; make a new one")
    with open_ledger(ws) as con:
        con.execute("UPDATE exports SET status = ? WHERE export_id = ?", [DELIVERED, export_id])
    audit.record(ws, "export.deliver", {"export_id": export_id, "sha256": rec.sha256}, case_id=rec.case_id)
    return next(e for e in list_exports(ws, rec.case_id) if e.export_id == export_id)


_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.I)
_AGE_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    """`12h`, `30d`, `2w` -> a timedelta."""
    m = _AGE.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise ExportError(f"'{text}' is not an age; write a positive number of hours, days or weeks: 12h, 30d, 2w")
    return dt.timedelta(**{_AGE_UNITS[m.group(2).lower()]: int(m.group(1))})


@dataclass
class PurgeResult:
    older_than: str
    removed: list[str]  # files removed, relative to the workspace
    bytes: int
    export_ids: list[str]  # ledger entries marked purged (files removed now, or found missing)
    unregistered: int  # removed files the ledger did not know
    missing: int  # ledger entries past the age whose file was already gone

    def to_dict(self) -> dict[str, Any]:
        return {"older_than": self.older_than, "removed": self.removed, "bytes": self.bytes,
                "export_ids": self.export_ids, "unregistered": self.unregistered, "missing": self.missing}


def purge_exports(ws: Workspace, older_than: str | dt.timedelta, *, now: dt.datetime | None = None) -> PurgeResult:
    """Remove archives older than `older_than` from `<workspace>/exports/` and mark them purged in the ledger.

    Age is the file's modification time. Ledger entries past the age whose file is already gone are marked purged
    too. Archives written outside the workspace (`out_dir`) are not touched.
    """
    age = older_than if isinstance(older_than, dt.timedelta) else parse_age(older_than)
    label = older_than if isinstance(older_than, str) else f"{age.total_seconds() / 3600:g}h"
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now.timestamp() - age.total_seconds()
    root = ws.root / EXPORTS_DIR
    open_entries = {e.path: e for e in list_exports(ws) if e.status != PURGED}
    removed, ids, size, unregistered = [], [], 0, 0
    if root.is_dir():
        for p in sorted(root.rglob("*")):
            if not p.is_file() or not (p.suffix == ".zip" or p.name.endswith(".tmp")):
                continue
            st = p.stat()
            if st.st_mtime >= cutoff:
                continue
            rel = _ledger_path(ws, p)
            p.unlink()
            removed.append(rel)
            size += st.st_size
            entry = open_entries.pop(rel, None)
            if entry is not None:
                ids.append(entry.export_id)
            elif p.suffix == ".zip":
                unregistered += 1
        for d in sorted((d for d in root.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
            if not any(d.iterdir()):
                d.rmdir()
    missing = 0
    cutoff_naive = (now - age).astimezone(dt.timezone.utc).replace(tzinfo=None)
    for rel, entry in open_entries.items():
        if entry.created_at < cutoff_naive and not entry.file(ws).exists() and rel.startswith(f"{EXPORTS_DIR}/"):
            ids.append(entry.export_id)
            missing += 1
    if ids:
        stamp = now.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        with open_ledger(ws) as con:
            with con.transaction():
                for export_id in ids:
                    con.execute("UPDATE exports SET status = ?, purged_at = ? WHERE export_id = ?",
                                [PURGED, stamp, export_id])
    result = PurgeResult(label, removed, size, ids, unregistered, missing)
    audit.record(ws, "export.purge", {"older_than": label, "files": len(removed), "bytes": size,
                                      "export_ids": ids, "unregistered": unregistered, "missing": missing})
    return result
