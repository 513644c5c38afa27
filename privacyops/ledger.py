"""The ops ledger (`ledger.duckdb` in the workspace): cases and the audit log.

The ledger is opened for one operation at a time and closed again, so several processes (analysts, the scheduler)
take turns on the embedded file instead of holding its lock.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from .errors import LedgerError, SourceError
from .sources.duckdb import connect_duckdb

SCHEMA_VERSION = 1
_READY: set[str] = set()  # ledgers whose tables this process has already created or seen

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS cases (
        case_id VARCHAR PRIMARY KEY,
        type VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        received DATE NOT NULL,
        due DATE NOT NULL,
        extended_due DATE,
        extension_reason VARCHAR,
        channel VARCHAR,
        verified_by VARCHAR,
        subject_hash VARCHAR,
        subject_ref VARCHAR,
        opened_by VARCHAR NOT NULL,
        opened_at TIMESTAMP NOT NULL,
        closed_at TIMESTAMP,
        outcome VARCHAR,
        notes VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY,
        recorded_at VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        case_id VARCHAR,
        subject_hash VARCHAR,
        details VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL)""",
]


@contextmanager
def open_ledger(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the ledger for one operation (creating its tables on first use) and close it afterwards."""
    path = Path(path)
    if read_only and not path.exists():
        raise LedgerError(f"no ledger at {path} yet: nothing has been recorded in this workspace")
    if not path.exists():
        _READY.discard(str(path.resolve()))
    try:
        con = connect_duckdb(str(path), read_only, "ledger")
    except SourceError as exc:
        raise LedgerError(str(exc)) from None
    try:
        if not read_only and str(path.resolve()) not in _READY:
            for stmt in SCHEMA:
                con.execute(stmt)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
            _READY.add(str(path.resolve()))
        yield con
    finally:
        con.close()
