"""Connections kept open across lookups (Workspace.keep_open): reused, closed when idle, and never in the way of a
privacyops writer in another process for long."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from privacyops.lookup import lookup
from privacyops.sources import duckdb as duck

REPO = Path(__file__).resolve().parents[2]
WRITER = """
import sys, time
from privacyops.sources import connect_duckdb
t0 = time.monotonic()
con = connect_duckdb(sys.argv[1], False, "test writer", wait=float(sys.argv[2]))
con.execute("UPDATE people.person SET mail = ? WHERE pid = 1", [sys.argv[3]])
con.close()
print(round(time.monotonic() - t0, 2))
"""


def write_elsewhere(ws, wait: float, new_mail: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WRITER, str(ws.root / "main.duckdb"), str(wait), new_mail],
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)


def test_connectors_are_reused_across_lookups(mini_ws, monkeypatch):
    mini_ws.keep_open = 60
    opened = []
    real = duck.DuckDBConnector.__init__
    monkeypatch.setattr(duck.DuckDBConnector, "__init__", lambda self, *a, **k: opened.append(1) or real(self, *a, **k))
    first = lookup(mini_ws, "janis@mini.example", audit_log=False)
    n = len(opened)
    again = lookup(mini_ws, "janis@mini.example", audit_log=False)
    assert n >= 1 and len(opened) == n  # the second lookup opened nothing
    assert again.counts() == first.counts()
    mini_ws.close()


def test_a_writer_in_another_process_gets_the_file_while_lookups_keep_it_open(mini_ws):
    mini_ws.keep_open = 60  # far longer than the writer is willing to wait
    assert lookup(mini_ws, "janis@mini.example", audit_log=False).status == "found"
    held = write_elsewhere(mini_ws, 0, "never@mini.example")
    assert held.returncode != 0 and "lock" in held.stderr.lower()  # the lookup left the file open
    done = write_elsewhere(mini_ws, 20, "moved@mini.example")
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip()) < 10  # the reader stepped aside (marker), not after keep_open
    assert not duck.writer_marker(mini_ws.root / "main.duckdb").exists()
    r = lookup(mini_ws, "moved@mini.example", audit_log=False)  # reopened: sees the other process's change
    assert r.status == "found" and r.subject.ref == "people.person:1"
    mini_ws.close()


@pytest.mark.slow
def test_kept_connectors_close_when_idle(mini_ws):
    mini_ws.keep_open = 0.5
    lookup(mini_ws, "janis@mini.example", audit_log=False)
    time.sleep(2.5)
    done = write_elsewhere(mini_ws, 0, "idle@mini.example")  # no waiting at all: the file must be free
    assert done.returncode == 0, done.stderr


def test_by_default_every_lookup_closes_its_connectors(mini_ws):
    assert mini_ws.keep_open == 0 or os.environ.get("PRIVACYOPS_KEEP_OPEN")
    mini_ws.keep_open = 0
    lookup(mini_ws, "janis@mini.example", audit_log=False)
    done = write_elsewhere(mini_ws, 0, "closed@mini.example")
    assert done.returncode == 0, done.stderr


def test_one_idle_timer_serves_many_lookups_and_still_closes(mini_ws, monkeypatch):
    """A thread per lookup cost milliseconds on a busy machine: the live idle timer takes the new deadline."""
    from privacyops.workspace import folder

    started = []
    real = folder.threading.Timer
    def timer(interval, function, *a, **k):  # threading.Timer is patched for the whole process: count ours only
        if function is folder._idle_tick and k.get("args", a[0] if a else None) == (mini_ws,):
            started.append(1)
        return real(interval, function, *a, **k)

    monkeypatch.setattr(folder.threading, "Timer", timer)
    mini_ws.keep_open = 0.4
    t0 = time.monotonic()
    for _ in range(10):
        lookup(mini_ws, "janis@mini.example", audit_log=False)
    polls = (time.monotonic() - t0) / 0.4  # the timer looks again every poll while the workspace is used
    assert 1 <= len(started) <= 2 + polls
    assert mini_ws._connectors
    deadline = time.monotonic() + 10
    while mini_ws._connectors and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not mini_ws._connectors  # idle for keep_open seconds: closed
