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

from .. import __version__
from ..errors import LookupInputError
from ..ledger import Case, audit, ledger_exists, open_ledger
from ..ledger.store import holding_ledger
from ..lookup import AMBIGUOUS, FOUND
from ..values import csv_safe, json_safe
from ..workspace import Workspace, current_actor
from . import archive
from .letter import render_letter
from .plan import (
    DatasetPlan,
    ExportError,
    ExportPlan,
    _safe_name,
    export_case,
    plan_export,
)
from .wording import DEFAULT_LANGUAGE, category_label

EXPORTS_DIR = "exports"
CREATED, DELIVERED, PURGED = "created", "delivered", "purged"
WRITING = "writing"  # registered with its audit entry, not yet under its final name (a kill leaves it so)
MIN_PASSWORD_LENGTH = 12
# How the password reaches the subject: the CLI, the panel and the headless notebook say the same.
PASSWORD_CHANNEL_HINT = ("Send the password to the subject through another channel than the archive: read it out on "
                         "the phone or send it by SMS, never in the e-mail (or letter) that carries the archive.")
DATA_FORMAT = "privacyops-export/1"


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
    # csv_safe: a value such as '=HYPERLINK(...)' from the subject's own data must not run when the CSV is opened
    # in a spreadsheet (it gets a leading quote; data.json keeps the exact value, numbers stay numbers)
    w.writerow([csv_safe(c) for c in dp.columns])
    for row in dp.rows:
        w.writerow([csv_safe(_csv_value(row.get(c))) for c in dp.columns])
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
                "other_peoples_fields": d.others_fields,
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
            "other_peoples_fields_in_your_records": {n: d.others_rows for n, d in plan.datasets.items()
                                                      if d.others_rows},
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


def check_password_out(path: str | Path) -> Path:
    """The file a headless run writes the generated password into, checked before anything is made (replaced if it
    exists: a scheduler names the same file each run)."""
    p = Path(path)
    if p.is_dir() or (p.parent.exists() and not p.parent.is_dir()):
        raise ExportError(f"cannot write the password file {p}: name a file in a folder (e.g. "
                          f"outputs/02_access_export/password.txt)")
    return p


def keep_password(result: "ExportResult", path: str | Path) -> Path | None:
    """Write the password privacyops generated for `result` into `path` (0600, only its owner reads it); None when
    the caller gave the password (it is theirs already). The one place the CLI and the notebook keep it."""
    if not result.password:
        return None
    return write_password_file(check_password_out(path), result.password)


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


@holding_ledger  # one opening of an embedded ledger for the steps' reads and writes
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
    # Encrypted under a staging name (*.tmp, which purge removes), registered as `writing` together with its audit
    # entry, only then renamed into place and marked created: an archive under its final name is always registered
    # and audited, and a kill leaves at most a `writing` row and a staging file.
    staging = path.with_name(f".{path.name}.staged.tmp")
    size, sha = archive.write_archive(staging, files, password, when=when)
    actor = current_actor()
    try:
        with open_ledger(ws) as con, con.transaction(lock=True):
            con.execute("INSERT INTO exports (export_id, case_id, created_at, created_by, sha256, path, size, "
                        "datasets, status, purged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        [export_id, case.case_id, when.replace(tzinfo=None), actor, sha, _ledger_path(ws, path),
                         size, len(plan.datasets), WRITING])
            _audit_create(ws, con, case, plan, export_id, sha, size, generated, language, identifier or pick)
        staging.replace(path)
        with open_ledger(ws) as con:
            con.execute("UPDATE exports SET status = ? WHERE export_id = ?", [CREATED, export_id])
    except BaseException:
        staging.unlink(missing_ok=True)  # never an archive the register does not know
        raise
    return ExportResult(export_id=export_id, case_id=case.case_id, path=path, sha256=sha, size=size,
                        created_at=when, datasets=plan.counts(), masked_emails=plan.masked_emails,
                        masked_phones=plan.masked_phones, withheld_mentions=dict(plan.withheld_mentions),
                        withheld_shared=dict(plan.withheld_shared), withheld_fields=plan.withheld_fields,
                        password=password if generated else None, plan=plan)


def _audit_create(ws: Workspace, con: Any, case: Any, plan: Any, export_id: str, sha: str, size: int,
                  generated: bool, language: str, subject: str | None) -> None:
    """The `export.create` entry, in the transaction that registers the archive."""
    audit.record(ws, "export.create", {
        "export_id": export_id, "sha256": sha, "size": size, "request": case.type,
        "datasets": plan.counts(), "total_rows": plan.total_rows,
        "masked_emails": plan.masked_emails, "masked_phones": plan.masked_phones,
        "withheld_mentions": sum(plan.withheld_mentions.values()),
        "withheld_shared": sum(plan.withheld_shared.values()),
        "withheld_fields": sum(len(f) for f in plan.withheld_fields.values()),
        "password": "generated" if generated else "given", "language": language,
        "map_fingerprint": ws.datamap.fingerprint[:16],
    }, case_id=case.case_id, subject=subject, con=con)


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
    if rec.status == WRITING:
        raise ExportError(f"export {export_id} was never completed (the process stopped while writing it); make a "
                          f"new one (`privacyops export purge` removes the leftover)")
    with open_ledger(ws) as con, con.transaction(lock=True):  # the change and its audit entry commit together
        con.execute("UPDATE exports SET status = ? WHERE export_id = ?", [DELIVERED, export_id])
        audit.record(ws, "export.deliver", {"export_id": export_id, "sha256": rec.sha256}, case_id=rec.case_id,
                     con=con)
    return next(e for e in list_exports(ws, rec.case_id) if e.export_id == export_id)


_AGE = re.compile(r"^\s*([0-9]{1,7})\s*([hdw])\s*$", re.I)  # ASCII digits: not '１d'
_MAX_AGE = dt.timedelta(days=100 * 366)  # older than a century is a typo (and past the calendar's start)
_AGE_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> dt.timedelta:
    """`12h`, `30d`, `2w` -> a timedelta."""
    m = _AGE.match(str(text))
    age = dt.timedelta(**{_AGE_UNITS[m.group(2).lower()]: int(m.group(1))}) if m else None
    if age is None or not dt.timedelta(0) < age <= _MAX_AGE:
        raise ExportError(f"'{text}' is not an age; write a positive number of hours, days or weeks up to 100 "
                          f"years: 12h, 30d, 2w")
    return age


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
    stamp = now.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    result = PurgeResult(label, removed, size, ids, unregistered, missing)
    with open_ledger(ws) as con, con.transaction(lock=True):  # the register and its audit entry commit together
        for export_id in ids:  # `writing` rows too: an archive a killed process never completed
            con.execute("UPDATE exports SET status = ?, purged_at = ? WHERE export_id = ?",
                        [PURGED, stamp, export_id])
        audit.record(ws, "export.purge", {"older_than": label, "files": len(removed), "bytes": size,
                                          "export_ids": ids, "unregistered": unregistered, "missing": missing},
                     con=con)
    return result
