"""Key loss: does a lost, damaged or foreign workspace key ever lead to a plan that touches a held row?

    PYTHONPATH=. python benchmarks/reliability_keys.py

Builds the mini workspace (tests/support/mini.py) in a temporary folder, puts person 1 under a legal hold, suppresses
an address, backs the keys up, then for each key-loss scenario (missing, zero-length, truncated, wrong length,
garbage text, another workspace's key, an earlier generation after a rotation) runs every command that needs the
key through the CLI (erase plan, hold add, suppress add/check, consent record, case open with a subject, lookup) and
counts a scenario as refused safely when every command exits with the key error's code (8), without a traceback
and without one ledger row changed. Whenever a plan is produced anyway, its rows of the held person that are not
blocked are counted. After each scenario the backup is restored and the plan must show the held rows blocked again.

Prints "key-loss scenarios: N, refused safely: N, plans touching held rows: 0"; exits 1 otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the tests' helpers live in the repository
    sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
from click.testing import CliRunner

from privacyops.cli import main as cli
from privacyops.erasure import BLOCKED, plan_erasure
from privacyops.erasure.holds_resolve import place_hold
from privacyops.ledger import open_case, rekey, suppression
from privacyops.workspace import open_workspace
from privacyops.workspace.key_backup import write_backup

PASS = "benchmark passphrase"
TABLES = ("meta", "cases", "audit_log", "erasure_plans", "legal_holds", "legal_hold_keys", "suppression",
          "consent_records")


def _ledger(ws) -> dict:
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    finally:
        con.close()


def _held_rows(ws) -> set[tuple[str, tuple]]:
    """Person 1's rows, from SQL: their row, their orders, their newsletter rows."""
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        orders = [r[0] for r in con.execute("SELECT oid FROM shop.orders WHERE pid = 1").fetchall()]
    finally:
        con.close()
    return {("people.person", (1,))} | {("shop.orders", (o,)) for o in orders}


def _touching(ws, case_id: str, held: set) -> int:
    plan = plan_erasure(ws, case_id, pick="people.person:1", save=False)
    return sum(1 for r in plan.rows if (r.dataset, r.key) in held and r.action != BLOCKED)


def _scenarios(other: bytes) -> list[tuple[str, Callable[[Path, bytes], Any]]]:
    return [("missing", lambda p, old: p.unlink()),
            ("zero-length", lambda p, old: p.write_bytes(b"")),
            ("truncated", lambda p, old: p.write_bytes(p.read_bytes()[:16])),
            ("wrong length", lambda p, old: p.write_bytes(p.read_bytes() + b"\x00" * 8)),
            ("garbage", lambda p, old: p.write_text("the key is in the safe\n")),
            ("another workspace's key", lambda p, old: p.write_bytes(other)),
            ("an earlier generation", lambda p, old: p.write_bytes(old))]


def run(root: Path | None = None) -> dict[str, Any]:
    """Run every scenario; returns the counts (and per-scenario details)."""
    from tests.support.mini import build_mini, erase_map

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(root or tmp)
        ws_root = build_mini(base / "mini")
        (ws_root / "privacyops.yaml").write_text(erase_map())
        os.environ["PRIVACYOPS_ACTOR"] = "benchmark"
        ws = open_workspace(ws_root)
        place_hold(ws, subject="people.person:1", reason="litigation", owner="legal")
        suppression.suppress(ws, "x@mini.example", "withdrawal")
        case_id = open_case(ws, "erasure", dt.date.today()).case_id
        old_key = (ws.keys_dir / "workspace.key").read_bytes()
        rekey.rotate(ws)  # so that "an earlier generation" is a real earlier key of this workspace
        backup = base / "keys.backup"
        write_backup(ws.keys_dir, backup, PASS)
        held = _held_rows(ws)
        baseline = _touching(ws, case_id, held)
        runner = CliRunner(env={"PRIVACYOPS_BACKUP_PASSPHRASE": PASS})
        commands = [["erase", "plan", "--case", case_id, "--pick", "people.person:1"],
                    ["hold", "add", "--subject", "people.person:3", "--reason", "audit", "--owner", "legal"],
                    ["suppress", "add", "new@mini.example", "--reason", "objection"],
                    ["suppress", "check", "x@mini.example"],
                    ["consent", "record", "people.person:3", "--purpose", "mail", "--method", "web", "--notice", "v1"],
                    ["case", "open", "--type", "access", "--received", dt.date.today().isoformat(), "--subject",
                     "jb@other.example"],
                    ["lookup", "janis@mini.example"]]
        path = ws.keys_dir / "workspace.key"
        details, safe, touching, restored = [], 0, 0, 0
        for name, damage in _scenarios(os.urandom(32)):
            before = _ledger(ws)
            damage(path, old_key)
            codes = []
            for args in commands:
                res = runner.invoke(cli, [*args, "-w", str(ws.root)])
                codes.append(res.exit_code if "Traceback" not in res.output else -1)
            try:
                touching += _touching(ws, case_id, held)  # a plan made anyway (through the API) must block
            except Exception as exc:  # noqa: BLE001 — refused: what matters is that no plan came out
                if type(exc).__name__ != "WorkspaceKeyError":
                    codes.append(-1)
            ok = all(c == 8 for c in codes) and _ledger(ws) == before
            safe += ok
            res = runner.invoke(cli, ["key", "restore", str(backup), "-w", str(ws.root)])
            back = res.exit_code == 0 and _touching(ws, case_id, held) == 0
            restored += back
            details.append({"scenario": name, "exit_codes": codes, "refused_safely": ok, "restored": back})
    return {"scenarios": len(details), "refused_safely": safe, "plans_touching_held_rows": touching,
            "restored_with_holds": restored, "held_rows": len(held), "baseline_touching": baseline,
            "seconds": round(time.perf_counter() - t0, 1), "details": details}


def main() -> int:
    got = run()
    for d in got["details"]:
        print(f"  {d['scenario']:24} exit codes {d['exit_codes']}  refused safely: {d['refused_safely']}  "
              f"restored with holds blocked: {d['restored']}")
    print(f"key-loss scenarios: {got['scenarios']}, refused safely: {got['refused_safely']}, plans touching held "
          f"rows: {got['plans_touching_held_rows']}")
    print(f"({got['held_rows']} held rows; restored with holds blocked: {got['restored_with_holds']}; "
          f"{got['seconds']} s)")
    fine = (got["refused_safely"] == got["scenarios"] and got["plans_touching_held_rows"] == 0
            and got["restored_with_holds"] == got["scenarios"] and got["baseline_touching"] == 0)
    return 0 if fine else 1


if __name__ == "__main__":
    sys.exit(main())
