"""Several processes on one workspace at once (analysts and the scheduler): nothing crashes on the embedded
ledger's file lock, every operation lands, the audit chain stays one unbroken line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from privacyops.ledger import audit, list_cases
from tests.support import pg as pgserver

pytestmark = pytest.mark.slow  # several processes share a ledger

WORKER = textwrap.dedent("""
    import sys
    from privacyops.workspace import open_workspace
    from privacyops.lookup import lookup
    from privacyops.ledger import open_case

    ws = open_workspace(sys.argv[1])
    for i in range(int(sys.argv[2])):
        case = open_case(ws, "access", "2026-11-20", subject="janis@mini.example")
        r = lookup(ws, "janis@mini.example", case_id=case.case_id)
        assert r.status == "found", r.status
    print("done")
""")


def run_workers(ws, n_procs: int, n_ops: int) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(ws.root), str(n_ops)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PRIVACYOPS_ACTOR": f"w{i}"})
             for i in range(n_procs)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=240), *p.communicate()) for p in procs]


def test_two_processes_on_the_embedded_ledger_both_finish(mini_ws):
    results = run_workers(mini_ws, 2, 8)
    for r in results:
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.strip() == "done"
    cases = list_cases(mini_ws)
    assert len(cases) == 16 and len({c.case_id for c in cases}) == 16
    result = audit.verify(mini_ws)
    assert result.ok, str(result)
    assert result.entries == 32  # 16 case openings + 16 lookups, in one chain
    assert {e.actor for e in audit.entries(mini_ws)} == {"w0", "w1"}


def test_four_processes_share_a_postgresql_ledger(mini_ws, postgres_dsn, monkeypatch):
    from privacyops.workspace import open_workspace

    dsn = pgserver.create_database(postgres_dsn, "ledger")
    (mini_ws.root / "keys").mkdir(exist_ok=True)
    (mini_ws.root / "keys" / "ledger.dsn").write_text(dsn)
    text = (mini_ws.root / "privacyops.yaml").read_text()
    (mini_ws.root / "privacyops.yaml").write_text(text + "\nledger: {kind: postgres, dsn_file: keys/ledger.dsn}\n")
    ws = open_workspace(mini_ws.root)
    results = run_workers(ws, 4, 5)
    for r in results:
        assert r.returncode == 0, r.stderr[-2000:]
    assert not ws.ledger_path.exists()  # nothing went to the embedded file
    cases = list_cases(ws)
    assert len(cases) == 20 and len({c.case_id for c in cases}) == 20
    result = audit.verify(ws)
    assert result.ok, str(result)
    assert result.entries == 40
    assert {e.actor for e in audit.entries(ws)} == {"w0", "w1", "w2", "w3"}
    # the head lives in the shared ledger: cutting the tail off is detected there too
    with pgserver.connect(dsn) as con:
        con.execute("DELETE FROM audit_log WHERE seq = 40")
    broken = audit.verify(ws)
    assert not broken.ok and broken.first_broken == 40


def test_a_password_never_appears_in_ledger_errors(mini_ws, monkeypatch):
    from privacyops.errors import LedgerError
    from privacyops.workspace import open_workspace

    monkeypatch.setenv("TEAM_LEDGER_DSN", "postgresql://analyst:s3cret-pw@127.0.0.1:1/nowhere")
    text = (mini_ws.root / "privacyops.yaml").read_text()
    (mini_ws.root / "privacyops.yaml").write_text(text + "\nledger: {kind: postgres, dsn_env: TEAM_LEDGER_DSN}\n")
    ws = open_workspace(mini_ws.root)
    import pytest

    with pytest.raises(LedgerError) as err:
        audit.record(ws, "test")
    assert "s3cret-pw" not in str(err.value) and "TEAM_LEDGER_DSN" in str(err.value)
