"""Demo companies for tests (generated once per session) and helpers to read them independently of privacyops."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb

from privacyops.access import read_archive
from privacyops.demo import STORIES
from privacyops.ledger import open_case, open_ledger
from tests.support import pg as pgserver


def demo_workspace(tmp_path_factory, subjects: int = 1000, seed: int = 42) -> Path:
    """A demo company generated once per test session (reused by every test asking for the same size/seed)."""
    from privacyops.demo import generate_demo

    root = tmp_path_factory.getbasetemp() / f"demo-{subjects}-{seed}"
    if not (root / "company.duckdb").is_file():
        generate_demo(root, subjects=subjects, seed=seed, progress=False)
    return root

def cross_store_copy(src: Path, dst: Path, postgres_dsn: str, name: str = "xstore") -> Path:
    """A copy of a demo workspace spread over PostgreSQL, SQLite, CSV, DuckDB and Parquet (privacyops demo
    --postgres), in a fresh database of the test server."""
    from privacyops.demo import distribute

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "keys", "outputs",
                                                            "exports", "certificates"))
    distribute(dst, pgserver.create_database(postgres_dsn, name), progress=False)
    return dst


JANIS, ANNA = STORIES["two_emails"], STORIES["closed"]

PASSWORD_RE = re.compile(r"^[a-z]{3,9}(-[a-z]{3,9}){5}-\d{3}$")

def fresh_copy(src: Path, dst: Path) -> Path:
    """The demo's data and map without its ops state: a clean ledger, no key, no exports."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("ledger.duckdb*", "keys", "exports", "outputs",
                                                            "audit.*", "*.tmp"))
    return dst

def access_case(ws, case_type: str = "access", **kw) -> str:
    return open_case(ws, case_type, dt.date.today(), **kw).case_id

def archive_files(path: Path, password: str) -> dict[str, bytes]:
    return read_archive(path, password)

def sql(ws_root: Path, query: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(ws_root / "company.duckdb"), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()

def ledger_rows(ws, query: str, params=()) -> list[tuple]:
    with open_ledger(ws) as con:
        return con.execute(query, list(params)).fetchall()

def all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]

def csv_rows(content: bytes):
    import csv
    import io

    return csv.reader(io.StringIO(content.decode("utf-8-sig")))


def dq(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        return [r[0] if len(r) == 1 else r for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()
