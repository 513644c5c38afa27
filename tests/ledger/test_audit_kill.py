"""Kill tests: an operation killed at any ledger statement never leaves a ledger change without its audit entry.

Each operation (case open, hold add, suppress add, export create, erasure plan, approve, execute) runs in a child
process (forked from a clean fork server) whose LedgerConnection.execute is wrapped *from the test side* to call
os._exit(9) at its k-th statement, for every k until the operation completes; a second series kills the child while
it writes the head or the checkpoint (after the commit). After every kill the ledger is read with plain SQL and each
kind of change is matched with its audit entries; `audit verify --against` (the checkpoints are held outside the
workspace) is intact or names only unconfirmed trailing entries, and the next command confirms them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from privacyops.ledger import audit, open_ledger
from privacyops.workspace import open_workspace
from tests.support.mini import build_mini, erase_map

pytestmark = pytest.mark.slow  # kills a process at every ledger statement (minutes)

HELD = "../held/checkpoints.jsonl"  # the checkpoint file, outside the workspace (relative to it)
EMAIL = "janis2@mini.example"


_SERVER = None  # the fork server: a fresh interpreter, privacyops imported once, that forks each child


def _context():
    """Children are forked from a fork server started for these tests, not from the pytest process: threads and
    DuckDB connections other tests left in this process are not inherited (a forked copy of them can abort). The
    server imports what the commands import (pandas too: DuckDB loads it at a process's first parameterised
    statement, ~0.6 s), so each of the ~130 children starts running the command at once."""
    global _SERVER
    if _SERVER is None:
        _SERVER = multiprocessing.get_context("forkserver")
        _SERVER.set_forkserver_preload(["pandas", "privacyops.cli", "privacyops.access", "privacyops.erasure",
                                        "privacyops.lookup", "privacyops.templating", __name__])
    return _SERVER


def _run(root: Path, args: list[str], actor: str, kill_at: int | None = None, kill_hook: int | None = None) -> int:
    """Run `privacyops ARGS` in a child process; kill it (os._exit(9)) at its `kill_at`-th ledger statement or at
    its `kill_hook`-th head/checkpoint write. Returns the child's exit code."""
    child = _context().Process(target=_child, args=(str(root), args, actor, kill_at, kill_hook))
    child.start()
    child.join()
    return child.exitcode


def _child(root: str, args: list[str], actor: str, kill_at: int | None, kill_hook: int | None) -> None:
    code = 3
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        sys.stdout = sys.stderr = open(os.devnull, "w")
        os.environ["PRIVACYOPS_ACTOR"] = actor
        _inject(Path(root), kill_at, kill_hook)
        from privacyops.cli import main

        main.main(args + ["-w", root], prog_name="privacyops", standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 3
    finally:
        os._exit(code)


def _inject(root: Path, kill_at: int | None, kill_hook: int | None) -> None:
    from privacyops.ledger import audit as audit_mod
    from privacyops.ledger import store

    if _has_log(root):  # its tables exist: count the operation's own statements, not the CREATE IF NOT EXISTS
        store._READY.add(str((root / "ledger.duckdb").resolve()))
    count = [0, 0]
    if kill_at is not None:
        original = store.LedgerConnection.execute

        def execute(self, sql, params=()):
            count[0] += 1
            if count[0] == kill_at:
                os._exit(9)
            return original(self, sql, params)

        store.LedgerConnection.execute = execute
    if kill_hook is not None:
        for name in ("write_head", "write_checkpoint"):
            original_fn = getattr(audit_mod, name)

            def hook(*a, _f=original_fn, **kw):
                count[1] += 1
                if count[1] == kill_hook:
                    os._exit(9)
                return _f(*a, **kw)

            setattr(audit_mod, name, hook)


def _has_log(root: Path) -> bool:
    return bool(_rows(root, "SELECT table_name FROM information_schema.tables WHERE table_name = 'audit_log'"))


def _rows(root: Path, sql: str) -> list[tuple]:
    if not (root / "ledger.duckdb").exists():
        return []
    con = duckdb.connect(str(root / "ledger.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _check_pairs(root: Path) -> None:
    """Every ledger change has its audit entry (and every entry its change), from SQL."""
    if not _has_log(root):
        return  # killed before the ledger's tables were created: nothing was recorded
    con = duckdb.connect(str(root / "ledger.duckdb"), read_only=True)
    try:
        _pairs(root, lambda sql: con.execute(sql).fetchall())
    finally:
        con.close()


def _pairs(root: Path, q) -> None:
    entries = [(a, c, json.loads(d)) for a, c, d in q("SELECT action, case_id, details FROM audit_log")]

    def details(action: str, key: str) -> set:
        return {d.get(key) for a, _, d in entries if a == action}

    assert {r[0] for r in q("SELECT case_id FROM cases")} == {c for a, c, _ in entries if a == "case.open"}
    assert {r[0] for r in q("SELECT hold_id FROM legal_holds")} == details("hold.add", "hold_id")
    assert {r[0][:16] for r in q("SELECT email_hash FROM suppression")} == \
        {d["email_hash"] for a, _, d in entries if a == "suppress.add" and d["new"]}
    assert {r[0] for r in q("SELECT export_id FROM exports")} == details("export.create", "export_id")
    plans = dict(q("SELECT plan_id, status FROM erasure_plans"))
    assert set(plans) == details("erasure.plan", "plan_id")
    approved = {p for p, s in plans.items() if s not in ("planned", "preview")}
    assert approved == details("erasure.approve", "plan_id")
    assert {p for p, s in plans.items() if s in ("done", "unverified")} == details("erasure.execute", "plan_id")
    sources = set(q("SELECT plan_id, source FROM erasure_sources"))
    assert sources == {(d["plan_id"], d["source"]) for a, _, d in entries if a == "erasure.source"}
    for (export_id, path, status) in q("SELECT export_id, path, status FROM exports"):
        assert status in ("writing", "created")
        assert status == "writing" or (root / path).exists(), export_id  # killed after the rename: still writing
    archives = {p.relative_to(root).as_posix() for p in (root / "exports").rglob("*.zip")} \
        if (root / "exports").exists() else set()
    assert archives <= {r[0] for r in q("SELECT path FROM exports")}  # no archive the register lacks


def _check_verify_then_confirm(root: Path) -> None:
    """verify --against is intact or reports only unconfirmed trailing entries; the next command confirms them."""
    held = root.parent / "held" / "checkpoints.jsonl"
    result = audit.verify(open_workspace(root), against=held)
    assert result.ok or result.unconfirmed, str(result)
    assert result.entries == (len(_rows(root, "SELECT seq FROM audit_log")) if _has_log(root) else 0)
    if result.ok:
        return
    head = json.loads((root / "audit.head").read_text()) if (root / "audit.head").exists() else {"seq": 0}
    assert _run(root, ["suppress", "add", "next@command.example", "--reason", "objection"], "alice") == 0
    after = audit.verify(open_workspace(root), against=held)
    assert after.ok, str(after)
    if head["seq"] < result.unconfirmed[1]:  # past the head: an audit.confirm entry names them
        confirms = [json.loads(d) for (d,) in _rows(root, "SELECT details FROM audit_log WHERE action = "
                                                          "'audit.confirm'")]
        assert confirms and confirms[-1]["to"] == result.unconfirmed[1]
    else:  # the head had them, the held file not yet: the next checkpoint write adds the missing one first
        numbers = [json.loads(x)["number"] for x in held.read_text().splitlines()]
        assert numbers == list(range(1, len(numbers) + 1))


def _phase(base: Path, tmp: Path, name: str, args: list[str], actor: str, hooks: int = 2) -> tuple[Path, int]:
    """Kill `args` at every statement k (and at its head/checkpoint writes) on copies of `base`; then run it to
    completion. Returns the completed copy and the number of kills."""
    kills = 0
    for mode in ("statement", "hook"):
        k = 0
        while True:
            k += 1
            if mode == "hook" and k > hooks:
                break
            work = tmp / f"{name}-{mode}-{k}"
            shutil.copytree(base, work)
            root = work / "ws"
            code = _run(root, args, actor, kill_at=k if mode == "statement" else None,
                        kill_hook=k if mode == "hook" else None)
            if code != 9:
                assert code == 0, f"{name}: exit {code} at {mode} {k}"
                assert mode == "hook" or k > 1
                shutil.rmtree(work)
                break
            kills += 1
            _check_pairs(root)
            _check_verify_then_confirm(root)
            shutil.rmtree(work)
    done = tmp / f"{name}-done"
    shutil.copytree(base, done)
    assert _run(done / "ws", args, actor) == 0, name
    _check_pairs(done / "ws")
    assert audit.verify(open_workspace(done / "ws"), against=done / "held" / "checkpoints.jsonl").ok
    return done, kills


@pytest.fixture()
def mini_erase(tmp_path):
    base = tmp_path / "base"
    root = build_mini(base / "ws")
    (base / "held").mkdir()
    (root / "privacyops.yaml").write_text(erase_map() + f"audit: {{checkpoints: {{kind: file, path: {HELD}}}}}\n")
    with open_ledger(open_workspace(root)):  # the tables exist: kills land in the operations' own statements
        pass
    return base


def test_kills_at_every_ledger_statement_leave_every_change_audited(mini_erase, tmp_path):
    base, total = mini_erase, 0
    steps = [
        ("case", ["case", "open", "--type", "access", "--received", "2026-11-02"], "alice"),
        ("hold", ["hold", "add", "--dataset", "mail.subscribers", "--reason", "audit 7", "--owner", "legal"],
         "alice"),
        ("suppress", ["suppress", "add", "someone@else.example", "--reason", "objection"], "alice"),
        ("export", ["export", "create", EMAIL, "--case", "DSR-2026-0001", "--json"], "alice"),
        ("plan", ["erase", "plan", EMAIL, "--case", "DSR-2026-0002", "--json"], "alice"),
    ]
    for name, args, actor in steps:
        if name == "plan":  # the erasure case: opening a case was killed above already
            assert _run(base / "ws", ["case", "open", "--type", "erasure", "--received", "2026-11-03"], "alice") == 0
        base, kills = _phase(base, tmp_path, name, args, actor)
        assert kills >= 2, name  # the operation really was killed at several statements
        total += kills
    (plan_id,) = _rows(base / "ws", "SELECT plan_id FROM erasure_plans")[0]
    for name, args in (("approve", ["erase", "approve", plan_id]), ("execute", ["erase", "execute", plan_id])):
        base, kills = _phase(base, tmp_path, name, args, "bob")
        assert kills >= 2, name
        total += kills
    ws = base / "ws"
    assert _rows(ws, "SELECT status FROM erasure_plans") in ([("done",)], [("unverified",)])
    assert _rows(ws, "SELECT count(*) FROM erasure_sources")[0][0] >= 1
    assert total >= 30
