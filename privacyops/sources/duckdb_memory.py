"""How much memory and how many threads DuckDB files opened read-only get, and the index parts DuckDB will not evict.

Read-only handles are capped (`PRIVACYOPS_DUCKDB_MEMORY`) so a process keeping several files open stays bounded;
a batch of many subjects takes a smaller share of the cap per file (`batch_reads`); ART probes that would find
many rows scan instead (DuckDB never evicts the index parts a probe loads)."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Iterator

import duckdb

from ..errors import SourceError

MEMORY_ENV = "PRIVACYOPS_DUCKDB_MEMORY"  # DuckDB's memory_limit per database file opened read-only (default below)
THREADS_ENV = "PRIVACYOPS_DUCKDB_THREADS"  # DuckDB's threads per file opened read-only (default: DuckDB's, the cores)
DEFAULT_MEMORY = "512MB"
_SIZE_RE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def duckdb_limits() -> tuple[str, int | None]:
    """(memory_limit, threads) for the DuckDB files privacyops opens read-only (sources, lookup index, ledger).
    DuckDB's own default is 80% of the machine's memory per database; a reader with a limit evicts the blocks it
    read (they are on disk) instead of keeping them. Set from PRIVACYOPS_DUCKDB_MEMORY (e.g. 1GB) and
    PRIVACYOPS_DUCKDB_THREADS."""
    memory = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY
    if not _SIZE_RE.match(memory):
        raise SourceError(f"{MEMORY_ENV}={memory!r} is not a size: give e.g. 512MB or 2GB")
    if _BATCH[0]:
        memory = f"{max(int(_bytes(memory) * BATCH_SHARE / 2 ** 20), 64)}MiB"
    threads = os.environ.get(THREADS_ENV, "").strip()
    if threads and not threads.isdigit():
        raise SourceError(f"{THREADS_ENV}={threads!r} is not a number of threads: give e.g. 2")
    return memory.replace(" ", ""), int(threads) if threads else None


BATCH_SHARE = 0.5  # of the read limit, for each file a batch of many subjects opens read-only (`batch_reads`)
_BATCH = [0]  # open `batch_reads` blocks


@contextmanager
def batch_reads(on: bool = True) -> Iterator[None]:
    """Inside (`on`): DuckDB files opened read-only get BATCH_SHARE of the read memory limit. A batch of many
    subjects keeps two files open for reading at once (the sources and the lookup index), each filling its cache
    to the limit with blocks it read once (a batch's reads are scans): half the limit each measured as fast at a
    million subjects, and 400 MB less at the peak of planning."""
    _BATCH[0] += 1 if on else 0
    try:
        yield
    finally:
        _BATCH[0] -= 1 if on else 0


def _limited(con: duckdb.DuckDBPyConnection, limits: tuple[str, int | None]) -> duckdb.DuckDBPyConnection:
    """A read-only `con` with the memory limit and threads of `duckdb_limits` (settings of its database). Writers
    keep DuckDB's defaults: a delete or update pins the table's ART indexes (primary keys, the lookup index's keys)
    whole until the commit; under a limit below that the write fails, or DuckDB aborts the process (measured at
    1M rows: 1GB was not enough)."""
    memory, threads = limits
    con.execute(f"SET memory_limit = '{memory}'")  # validated above: digits and a unit
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


INDEX_SCAN_MAX_ROWS = 64  # rows an ART probe may find before DuckDB gives it up for a scan (its default: 2,048)


def _index_scans_capped(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """`con` with ART index scans kept to the probes that find few rows (one subject's: identities, its children).
    A buffer of an ART index that a probe reads stays in memory until the file is closed, whatever the memory
    limit (DuckDB cannot evict it: 0.3 MB per probed key on a 12M-key index); DuckDB's default (an index scan while
    it finds under 2,048 rows, or 0.1% of the table) made a batch's IN list of 1,000 keys load hundreds of MB of
    index, where the scan it falls back to here reads evictable blocks and takes about as long."""
    con.execute(f"SET index_scan_max_count = {INDEX_SCAN_MAX_ROWS}")
    con.execute("SET index_scan_percentage = 0")
    return con


CROWDED_SHARE = 0.25  # of a reader's memory limit, in ART index parts it loaded: then it is closed and reopened


def index_crowded(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the ART index parts a read-only `con` has loaded hold more than CROWDED_SHARE of its memory limit.
    DuckDB never evicts them (each probe loads its path; a million subjects' indexes are larger than the limit), so
    a process doing lookup after lookup would end on an out-of-memory error: its reader is closed at the end of
    the operation instead (`Workspace.release`) and the next one opens the file afresh, in milliseconds."""
    art = con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                      "WHERE tag = 'ART_INDEX'").fetchone()[0]
    if not art:
        return False
    return art > CROWDED_SHARE * _bytes(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])


def _bytes(size: str) -> float:
    """A size as DuckDB renders it ("488.2 MiB") or as PRIVACYOPS_DUCKDB_MEMORY gives it ("512MB"), in bytes."""
    got = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$", size)
    if not got:
        return 0.0
    return float(got.group(1)) * {"b": 1, "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40, "kb": 1e3,
                                  "mb": 1e6, "gb": 1e9, "tb": 1e12}.get(got.group(2).lower() or "b", 1)


def _evict(con: duckdb.DuckDBPyConnection) -> None:
    """Let go of the table blocks `con`'s database keeps cached (they are on disk): a writer about to commit many
    deletes needs the room for the ART index parts the commit loads. A limit just above what cannot be evicted
    (index parts) makes DuckDB drop the rest; the caller sets its limit back. Only before the transaction writes:
    its changed blocks cannot be evicted, and a SET that fails inside a transaction aborts it."""
    held = con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                       "WHERE tag NOT IN ('BASE_TABLE', 'EXTERNAL_FILE_CACHE')").fetchone()[0]
    try:
        con.execute(f"SET memory_limit = '{int(held) // 2**20 + 64}MB'")
    except duckdb.Error:  # more is pinned than DuckDB counted: the blocks stay, the write goes on
        pass
