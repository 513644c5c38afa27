"""The embedded ledger kept open between operations (Workspace.keep_open, erasure.ledger_held): the audit chain it
writes is the same intact chain (checked with SQL and by `audit verify`), a tampered log is still refused, and
another process that needs the file gets it within moments instead of waiting for the keeper to finish."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from privacyops.errors import AuditChainError
from privacyops.ledger import audit, open_ledger
from privacyops.ledger.store import KEPT, ledger_held

REPO = Path(__file__).resolve().parents[2]

# Opens the ledger for writing from another process (waiting up to 20 s for the lock) and appends nothing: it only
# has to get the file. Prints how long it waited.
OTHER = """
import sys, time
from privacyops.sources.duckdb import connect_duckdb
t0 = time.monotonic()
con = connect_duckdb(sys.argv[1], False, "ledger", wait=20)
print(round(time.monotonic() - t0, 2))
con.close()
"""


def other_process_waits(ws) -> float:
    """Seconds another process waited for the ledger file (fails when it could not get it)."""
    got = subprocess.run([sys.executable, "-c", OTHER, str(ws.ledger_path)], capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert got.returncode == 0, got.stderr
    return float(got.stdout.strip())


def chain(ws) -> list[tuple]:
    """The log as stored (SQL, after the workspace let the file go)."""
    ws.close()
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute("SELECT seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, hash, "
                           "mac FROM audit_log ORDER BY seq").fetchall()
    finally:
        con.close()


def recomputed(rows: list[tuple]) -> bool:
    """Every entry's SHA-256 recomputed from its fields, and each linked to the one before (independently of the
    code under test: the canonical JSON list of the fields, as docs describe it)."""
    prev = "0" * 64
    for r in rows:
        body = json.dumps(list(r[:7]) + [prev], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if r[7] != prev or hashlib.sha256(body.encode()).hexdigest() != r[8] or not r[9]:
            return False
        prev = r[8]
    return True


def test_a_kept_ledger_writes_one_intact_chain(mini_ws):
    mini_ws.keep_open = 60.0
    for i in range(6):
        audit.record(mini_ws, "test.kept", {"i": i})
    assert f"\x00kept\x00{KEPT}" in mini_ws._connectors  # the same connection served every append
    assert audit.verify(mini_ws).ok
    rows = chain(mini_ws)
    assert [r[3] for r in rows].count("test.kept") == 6
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)) and recomputed(rows)
    head = json.loads((mini_ws.root / "audit.head").read_text())
    assert (head["seq"], head["hash"]) == (rows[-1][0], rows[-1][8])  # the head names the last entry


def test_a_log_cut_while_the_ledger_was_let_go_is_refused_on_the_next_append(mini_ws):
    mini_ws.keep_open = 60.0
    for i in range(3):
        audit.record(mini_ws, "test.kept", {"i": i})
    mini_ws.close()  # the file is let go: someone removes the last entry behind privacyops' back
    con = duckdb.connect(str(mini_ws.ledger_path))
    con.execute("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    con.close()
    with pytest.raises(AuditChainError):
        audit.record(mini_ws, "test.after", {})


def test_another_process_gets_a_kept_ledger_within_moments(mini_ws):
    mini_ws.keep_open = 60.0
    audit.record(mini_ws, "test.kept", {})
    assert other_process_waits(mini_ws) < 10  # the keeper let go (its idle check saw the waiter), not after 60 s
    audit.record(mini_ws, "test.after", {})  # and the keeper opens it again for its next step
    assert audit.verify(mini_ws).ok


def test_a_held_ledger_serves_an_operations_steps_and_lets_a_waiting_process_in(mini_ws):
    with ledger_held(mini_ws):
        with open_ledger(mini_ws) as first:
            pass
        with open_ledger(mini_ws) as second:
            assert second is first  # one opening for the operation's steps
        t0 = time.monotonic()
        assert other_process_waits(mini_ws) < 10
        assert time.monotonic() - t0 < 15
        audit.record(mini_ws, "test.held", {})  # the operation goes on, opening the ledger per step
    assert getattr(mini_ws, "_held_ledger", None) is None
    assert audit.verify(mini_ws).ok
    assert [r[3] for r in chain(mini_ws)][-1] == "test.held"


def test_the_head_is_one_page_rewritten_in_place_and_always_names_the_last_entry(mini_ws):
    """audit.head is rewritten in place (no new file per entry: a rename per lookup made the next commit wait),
    always one whole page naming the log's last entry (read back with SQL); a head of another size (restored from
    an older copy, written by an earlier privacyops) is replaced by a page on the next append."""
    mini_ws.keep_open = 60.0
    path = mini_ws.root / audit.HEAD_FILE
    audit.record(mini_ws, "test.kept", {"i": 0})
    inode = path.stat().st_ino
    for i in range(1, 5):
        audit.record(mini_ws, "test.kept", {"i": i})
        raw = path.read_bytes()
        rows = chain(mini_ws)
        assert len(raw) == 4096 and raw.rstrip(b" ").endswith(b"}") and path.stat().st_ino == inode
        head = json.loads(raw)
        assert (head["seq"], head["hash"]) == (rows[-1][0], rows[-1][8])
    path.write_text(json.dumps(json.loads(path.read_bytes())))  # the same head, unpadded (as written before)
    audit.record(mini_ws, "test.kept", {"i": 5})
    rows = chain(mini_ws)
    assert len(path.read_bytes()) == 4096
    assert (json.loads(path.read_bytes())["seq"], json.loads(path.read_bytes())["hash"]) == (rows[-1][0], rows[-1][8])
    assert audit.verify(mini_ws).ok


def test_the_last_entry_is_looked_for_from_the_connections_last_append_and_over_the_whole_log_otherwise(mini_ws):
    """`_last` (each append's read of the log's end) starts from the entry the connection appended last; where that
    finds nothing (the log cut below it) or the connection appended nothing, it reads the whole log: the same answer
    as SQL over the whole log in every case."""
    mini_ws.keep_open = 60.0
    for i in range(5):
        audit.record(mini_ws, "test.kept", {"i": i})
    with open_ledger(mini_ws) as con:
        truth = tuple(con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone())
        kept = con.audit_pending
        assert kept["seq"] == truth[0]  # the connection appended the last entry: the usual case
        try:
            for pending in (None, {"seq": 1}, {"seq": truth[0]}, {"seq": truth[0] + 3}):
                con.audit_pending = pending
                assert audit._last(con) == truth, pending
        finally:
            con.audit_pending = kept
    audit.record(mini_ws, "test.kept", {"i": 5})
    assert audit.verify(mini_ws).ok
