"""Real processes given bytes that are not UTF-8 on the command line (as a shell passes them): a clear error naming
the option, exit 2, no traceback, nothing written (SQL row counts of the ledger before and after)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.harness import PERSON, build_workspace, ledger_counts

pytestmark = pytest.mark.slow  # each case starts the command line in a new process

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("argv") / "ws")


@pytest.mark.parametrize("args,named", [
    ([b"lookup", b"\xff\xfe"], "IDENTIFIER"),
    ([b"case", b"open", b"--type", b"access", b"--received", b"2025-01-01", b"--subject", b"J\xe4nis"], "--subject"),
    ([b"hold", b"add", b"--owner", b"o", b"--subject", PERSON.encode(), b"--reason", b"\xc3\x28"], "--reason"),
    ([b"suppress", b"add", b"a\x80@b.example", b"--reason", b"objection"], "EMAIL"),
    ([b"ropa", b"--out", b"out\xe2\x82"], "--out"),
])
def test_undecodable_argv_bytes(ws, args, named):
    before = ledger_counts(ws)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PRIVACYOPS_ACTOR": "hostile-tester", "LC_ALL": "C.UTF-8"}
    env.pop("PRIVACYOPS_WORKSPACE", None)
    proc = subprocess.run([os.fsencode(sys.executable), b"-m", b"privacyops.cli", *args, b"-w", os.fsencode(ws)],
                          capture_output=True, env=env, timeout=120, cwd=ws)
    err = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "Traceback" not in err and "Traceback" not in proc.stdout.decode("utf-8", "replace")
    assert named in err and "not UTF-8" in err and "Nothing was done" in err, err
    assert ledger_counts(ws) == before
    assert not any(p.name.startswith("out") for p in ws.iterdir())
