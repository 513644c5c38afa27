"""What privacyops keeps at rest, checked: run a whole request life on the mini workspace (lookup, an access
export, a legal hold, an erasure with suppression, a batch plan, the reports), then read back every byte of every
file privacyops wrote — the ledger raw and through SQL over every text column, certificates, reports, the audit
head, keys — looking for the personal values the sources hold (read from the sources by SQL, not from privacyops).

Used by tests/test_at_rest.py and benchmarks/reliability_sealing.py."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

AS_OF = dt.date(2026, 11, 15)
SOURCES = ("main.duckdb", "main.duckdb.wal", "files", "privacyops.yaml")  # the company's, not privacyops'


def at_rest_map() -> str:
    """The mini workspace's erasure map with the newsletter list keyed by its e-mail address (as many are): there a
    row's key is itself personal data, so whatever names rows by key (plans) holds personal data."""
    from tests.support.mini import erase_map

    text = erase_map()
    old = "    primary_key: sid\n    identities: {email: address}\n"
    assert old in text
    return text.replace(old, "    primary_key: address\n    identities: {email: address}\n")


@contextmanager
def acting(name: str) -> Iterator[None]:
    old = os.environ.get("PRIVACYOPS_ACTOR")
    os.environ["PRIVACYOPS_ACTOR"] = name
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PRIVACYOPS_ACTOR", None)
        else:
            os.environ["PRIVACYOPS_ACTOR"] = old


def personal_values(root: Path) -> list[str]:
    """Every personal value the mini sources hold, by SQL on the sources (with the forms privacyops normalises
    them to: lower case, trimmed, phone digits), longest first."""
    con = duckdb.connect(str(root / "main.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT full_name FROM people.person").fetchall()]
        raw = [v for row in con.execute("SELECT mail, mail2, tel, member_no FROM people.person").fetchall()
               for v in row] + names
        raw += [r[0] for r in con.execute("SELECT address FROM mail.subscribers").fetchall()]
        raw += [r[0] for r in con.execute("SELECT note FROM shop.orders").fetchall()]
        raw += [r[0] for r in con.execute(
            f"SELECT ip FROM read_parquet('{root / 'files' / 'events' / '*.parquet'}')").fetchall()]
    finally:
        con.close()
    return forms(raw, names)


def demo_personal_values(root: Path, customer_id: int) -> list[str]:
    """A demo customer's personal values, by SQL on the demo company's database: the customer row, their log-in
    accounts, their delivery address."""
    con = duckdb.connect(str(root / "company.duckdb"), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT full_name FROM crm.customers WHERE customer_id = ?",
                                           [customer_id]).fetchall()]
        raw = [v for row in con.execute("SELECT email, phone, street_address, postal_code FROM crm.customers "
                                         "WHERE customer_id = ?", [customer_id]).fetchall() for v in row]
        raw += [v for row in con.execute("SELECT username, email FROM app.user_accounts WHERE customer_id = ?",
                                          [customer_id]).fetchall() for v in row]
        raw += [v for row in con.execute("SELECT a.street, a.phone FROM crm.delivery_addresses a JOIN crm.customers c "
                                         "ON a.address_id = c.delivery_address_id WHERE c.customer_id = ?",
                                         [customer_id]).fetchall() for v in row]
    finally:
        con.close()
    return forms(raw + names, names)


def forms(raw: list, names: list[str]) -> list[str]:
    """The values and the forms privacyops normalises them to (lower case, trimmed, phone digits), longest
    first; each word of a name too."""
    out: set[str] = set()
    for v in raw:
        if not v:
            continue
        v = str(v).strip()
        out |= {v, v.lower()}
        digits = re.sub(r"\D", "", v)
        if "@" not in v and len(digits) >= 7 and not re.search(r"[a-z]", v.lower()):  # a phone number
            out |= {digits, digits[-8:], "+" + digits}
    out |= {w for n in names for w in n.split() if len(w) >= 5}  # a family name alone is personal data too
    return sorted(out, key=len, reverse=True)


def run_demo_scenario(ws, email: str) -> Scenario:
    """The same life on the demo company, for the customer with this e-mail: lookup, access export, consent
    withdrawn, erasure (planned, approved, executed, certified), every report."""
    from privacyops.access import export_subject
    from privacyops.consent import withdraw_consent
    from privacyops.erasure import approve_plan, execute_plan, plan_erasure
    from privacyops.ledger import open_case
    from privacyops.lookup import lookup
    from privacyops.reports import consent_report, requests_report, retention_report, ropa

    sc = Scenario(subject=email)
    day = dt.date.today()
    with acting("alice"):
        lookup(ws, email)
        access = open_case(ws, "access", day, channel="e-mail", subject=email).case_id
        result = export_subject(ws, access, email)
        sc.archive, sc.password = result.path, result.password
        withdraw_consent(ws, email, "marketing", method="web form")
        case = open_case(ws, "erasure", day, subject=email).case_id
        plan = plan_erasure(ws, case, email, suppress="objection")
        sc.plans.append(plan.plan_id)
    with acting("bob"):
        approve_plan(ws, plan.plan_id)
        sc.certificates.append(execute_plan(ws, plan.plan_id).certificate_path)
    with acting("alice"):
        out = ws.outputs_dir / "reports"
        for rep in (retention_report(ws), requests_report(ws), consent_report(ws)):
            sc.reports += list(rep.write(out))
        sc.reports += list(ropa(ws).write(ws.outputs_dir / "ropa"))
    return sc


@dataclass
class Scenario:
    """What the run made: the subject, plans, the archive (path and password), report files."""

    subject: str
    plans: list[str] = field(default_factory=list)
    archive: Path | None = None
    password: str | None = None
    certificates: list[Path] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)


def run_scenario(ws, work: Path) -> Scenario:
    """The life of requests about Jānis (person 1 of the mini workspace), as of AS_OF. `ws` has the erasure map
    (tests.support.mini.erase_map). `work` is a folder outside the workspace for the batch file."""
    from privacyops.access import export_subject
    from privacyops.erasure import approve_plan, execute_plan, plan_batch, plan_erasure
    from privacyops.ledger import add_hold, open_case
    from privacyops.lookup import lookup
    from privacyops.reports import requests_report, retention_report, retention_sweep, ropa

    sc = Scenario(subject="janis@mini.example")
    with acting("alice"):
        lookup(ws, sc.subject)
        lookup(ws, "+371 2000 1111")
        access = open_case(ws, "access", "2026-11-02", channel="e-mail", subject=sc.subject).case_id
        result = export_subject(ws, access, sc.subject)
        sc.archive, sc.password = result.path, result.password
        add_hold(ws, subject="M-004", reason="litigation 2026-C-114", owner="legal")
        case = open_case(ws, "erasure", "2026-11-10", subject=sc.subject).case_id
        plan = plan_erasure(ws, case, sc.subject, as_of=AS_OF, suppress="objection")
        sc.plans.append(plan.plan_id)
    with acting("bob"):
        approve_plan(ws, plan.plan_id, note="checked against the request")
        done = execute_plan(ws, plan.plan_id)
        sc.certificates.append(done.certificate_path)
    batch = work / "subjects.csv"
    batch.write_text("subject,pick\nJanis Berzins,\nnobody@nowhere.example,\nhome@mini.example,\n")
    with acting("alice"):
        case2 = open_case(ws, "erasure", "2026-11-11").case_id
        sc.plans.append(plan_batch(ws, batch, case2, as_of=AS_OF).plan_id)
        out = ws.outputs_dir / "reports"
        for rep in (retention_report(ws, AS_OF), requests_report(ws, AS_OF)):
            sc.reports += list(rep.write(out))
        sc.reports += list(ropa(ws).write(ws.outputs_dir / "ropa"))
        sweep = retention_sweep(ws, AS_OF)  # a dry run: the listing a headless report run keeps as sweep.json
        path = out / "sweep.json"
        path.write_text(json.dumps(sweep.to_dict(), indent=2, default=str), encoding="utf-8")
        sc.reports.append(path)
    return sc


def company_files(ws) -> set[str]:
    """The top-level names in the workspace that are the company's (its file sources, their WAL, the map)."""
    names = {"privacyops.yaml"}
    for src in ws.datamap.sources.values():
        path = getattr(src, "path", None)
        if path:
            first = Path(path).parts[0]
            names |= {first, first + ".wal"}
    return names


def written_files(root: Path, company: set[str] | frozenset[str] = frozenset(SOURCES)) -> list[Path]:
    """Every file in the workspace that privacyops wrote (everything but the company's sources and the map)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in company)


def ledger_texts(path: Path) -> list[tuple[str, str]]:
    """(table.column, value as text) for every non-null value of every column of every ledger table, by SQL."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = con.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                           "current_schema() ORDER BY table_name, ordinal_position").fetchall()
        out = []
        for table, column in cols:
            rows = con.execute(f'SELECT CAST("{column}" AS VARCHAR) FROM "{table}" WHERE "{column}" IS NOT NULL')
            out += [(f"{table}.{column}", v) for (v,) in rows.fetchall()]
        return out
    finally:
        con.close()


@dataclass
class ScanResult:
    files: int
    values: int  # ledger values read through SQL
    hits: list[str]  # "where: value" for every personal value found in clear

    @property
    def scanned(self) -> int:
        return self.files + self.values


def scan(root: Path, needles: list[str], company: set[str] | frozenset[str] = frozenset(SOURCES)) -> ScanResult:
    """Look for every needle (case-insensitive) in every byte of every file privacyops wrote, then in every value
    of the ledger read through SQL (a database file may compress text, so its raw bytes alone prove nothing)."""
    lowered = [(n, n.lower().encode("utf-8")) for n in needles]
    hits: list[str] = []
    files = written_files(root, company)
    for p in files:
        data = p.read_bytes().lower()
        hits += [f"{p.relative_to(root)}: {n!r}" for n, b in lowered if b in data]
    values = ledger_texts(root / "ledger.duckdb")
    for where, v in values:
        low = v.lower()
        hits += [f"ledger {where}: {n!r}" for n, _ in lowered if n.lower() in low]
    return ScanResult(len(files), len(values), hits)
