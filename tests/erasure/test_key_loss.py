"""A lost key or a key from another workspace never leads to a plan that touches a held row.

The tester's finding: with keys/workspace.key deleted, privacyops made a new key and an erasure plan of a person
under a legal hold went from "28 blocked" to "28 delete"; `suppress check` said "not suppressed" for a suppressed
address. Here, on the mini workspace with a person on hold, every way of losing the key (missing, empty,
truncated, wrong length, garbage, another workspace's key, an earlier generation) makes every command that needs the
key refuse — exit code 8, the message naming the ledger's key, no traceback, no ledger row written, no source row
changed — and after `privacyops key restore` the plan shows the held rows blocked again.

Ground truth: the person's rows come from SQL against the sources; the ledger is read with plain DuckDB.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import BLOCKED, approve_plan, plan_erasure
from privacyops.erasure.holds_resolve import place_hold
from privacyops.ledger import open_case, rekey, suppression
from privacyops.workspace import open_workspace, sealing
from privacyops.workspace.keys import workspace_secret
from privacyops.workspace.key_backup import write_backup
from tests.ledger.test_holds import mini_rows_of
from tests.support.mini import erase_map

PASS = "a long passphrase"
TODAY = dt.date.today().isoformat()
TABLES = ("meta", "cases", "audit_log", "erasure_plans", "erasure_sources", "erasure_schedule", "restrictions",
          "legal_holds", "legal_hold_keys", "suppression", "consent_records", "exports")


def fp(key: bytes) -> str:
    return hashlib.sha256(b"privacyops-workspace-key\x00" + key).hexdigest()[:16]


def ledger_state(ws) -> dict:
    """Every ledger row (and the audit head file): nothing may change while a key is refused."""
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        state = {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in TABLES}
    finally:
        con.close()
    state["head"] = (ws.root / "audit.head").read_text()
    return state


def source_state(ws) -> list:
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return [con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in
                ("people.person", "shop.orders", "mail.subscribers")]
    finally:
        con.close()


# (name, what is done to keys/workspace.key, what the refusal says about the file)
SCENARIOS = [
    ("missing", lambda path, other: path.unlink(), "keys/workspace.key is missing"),
    ("zero-length", lambda path, other: path.write_bytes(b""), "keys/workspace.key is empty"),
    ("truncated", lambda path, other: path.write_bytes(path.read_bytes()[:16]),
     "keys/workspace.key is truncated or damaged (16 bytes"),
    ("wrong length", lambda path, other: path.write_bytes(path.read_bytes() + b"\x00" * 8),
     "keys/workspace.key is truncated or damaged (40 bytes"),
    ("garbage", lambda path, other: path.write_text("my key is in the safe\n"), "keys/workspace.key is text"),
    ("another workspace's key", lambda path, other: path.write_bytes(other), "is not the key this workspace's"),
]


def commands(case_id: str, plan_id: str) -> list[list[str]]:
    """Every command that needs the key (each is refused while it is lost)."""
    return [["erase", "plan", "--case", case_id, "--pick", "people.person:1"],
            ["erase", "execute", plan_id],
            ["hold", "add", "--subject", "people.person:3", "--reason", "audit", "--owner", "legal"],
            ["suppress", "add", "new@mini.example", "--reason", "objection"],
            ["suppress", "check", "x@mini.example"],
            ["consent", "record", "people.person:3", "--purpose", "mail", "--method", "web_form", "--notice", "v1"],
            ["case", "open", "--type", "access", "--received", TODAY, "--subject", "jb@other.example"],
            ["lookup", "janis@mini.example"]]


@pytest.fixture()
def held(mini_ws, monkeypatch, tmp_path):
    """The mini workspace with person 1 on hold, an erasure case for them, a suppressed address, an approved plan
    for person 2 and a key backup."""
    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(mini_ws.root)
    place_hold(ws, subject="people.person:1", reason="litigation 2026-C-7", owner="legal")
    suppression.suppress(ws, "x@mini.example", "withdrawal")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    case_id = open_case(ws, "erasure", TODAY).case_id
    plan = plan_erasure(ws, open_case(ws, "erasure", TODAY).case_id, "M-002")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    write_backup(ws.keys_dir, tmp_path / "keys.backup", PASS)
    monkeypatch.setenv("PRIVACYOPS_BACKUP_PASSPHRASE", PASS)
    return ws, case_id, plan.plan_id, tmp_path / "keys.backup"


def run(ws, args: list[str]):
    res = CliRunner().invoke(main, [*args, "-w", str(ws.root)])
    assert "Traceback" not in res.output and (res.exception is None or isinstance(res.exception, SystemExit)), \
        (args, res.output, res.exception)
    return res


def plan_actions(ws, case_id: str) -> dict:
    plan = plan_erasure(ws, case_id, pick="people.person:1", save=False)
    return {(r.dataset, r.key): r.action for r in plan.rows}


@pytest.mark.slow
def test_every_key_loss_is_refused_and_restore_brings_the_holds_back(held):
    ws, case_id, plan_id, backup = held
    path = ws.keys_dir / "workspace.key"
    key = path.read_bytes()
    rows = mini_rows_of(ws, 1)
    assert rows and {a for r, a in plan_actions(ws, case_id).items() if r in rows} == {BLOCKED}
    other = os.urandom(32)
    for name, damage, says in SCENARIOS:
        ledger, sources = ledger_state(ws), source_state(ws)
        damage(path, other)
        for args in commands(case_id, plan_id):
            res = run(ws, args)
            assert res.exit_code == 8, (name, args, res.output)
            assert says in res.output and f"key {fp(key)}" in res.output, (name, args, res.output)
            assert "privacyops key restore BACKUP" in res.output, (name, args, res.output)
            if name == "another workspace's key":
                assert f"(key {fp(other)})" in res.output
        assert ledger_state(ws) == ledger, name  # not one ledger row, not the head file
        assert source_state(ws) == sources, name
        if name != "missing":
            assert path.exists()  # the damaged file is left for inspection, never replaced
        res = run(ws, ["key", "restore", str(backup)])
        assert res.exit_code == 0, (name, res.output)
        assert path.read_bytes() == key
        assert {a for r, a in plan_actions(ws, case_id).items() if r in rows} == {BLOCKED}, name
        assert "suppressed" in run(ws, ["suppress", "check", "x@mini.example"]).output


def test_an_earlier_generation_of_the_key_is_refused(held):
    ws, case_id, plan_id, backup = held
    run(ws, ["erase", "cancel", plan_id, "--reason", "rotate first"])
    path = ws.keys_dir / "workspace.key"
    old = path.read_bytes()
    new = rekey.rotate(ws).new
    ledger, rows = ledger_state(ws), mini_rows_of(ws, 1)
    shutil.copy(path, path.with_name("rotated"))
    path.write_bytes(old)  # someone copies the pre-rotation key back
    res = run(ws, ["erase", "plan", "--case", case_id, "--pick", "people.person:1"])
    assert res.exit_code == 8 and f"(key {fp(old)})" in res.output and f"(key {new})" in res.output
    assert ledger_state(ws) == ledger
    res = run(ws, ["key", "restore", str(backup)])  # the pre-rotation backup is refused too
    assert res.exit_code == 8 and fp(old) in res.output and new in res.output
    shutil.copy(path.with_name("rotated"), path)
    assert {a for r, a in plan_actions(ws, case_id).items() if r in rows} == {BLOCKED}


def test_a_fresh_workspace_reads_without_a_key_and_makes_one_on_its_first_ledger_write(mini_ws):
    path = mini_ws.keys_dir / "workspace.key"
    res = run(mini_ws, ["suppress", "check", "x@mini.example"])
    assert res.exit_code == 1 and "not suppressed" in res.output.lower(), res.output  # 1: "may be mailed"
    assert not path.exists() and not mini_ws.ledger_path.exists()
    res = run(mini_ws, ["lookup", "janis@mini.example"])
    assert res.exit_code == 0, res.output
    con = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    try:
        recorded = con.execute("SELECT value FROM meta WHERE key = 'workspace_key_fp'").fetchone()
        subject = con.execute("SELECT subject_hash FROM audit_log WHERE action = 'lookup'").fetchall()
    finally:
        con.close()
    assert recorded == (fp(path.read_bytes()),) and len(subject) == 1


@pytest.mark.slow
def test_the_signing_key_is_held_to_the_id_the_ledger_recorded(held, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from privacyops.erasure import execute_plan
    from privacyops.errors import WorkspaceKeyError

    ws, case_id, plan_id, backup = held
    assert execute_plan(ws, plan_id).ok  # the first certificate: the ledger records the signing key's id
    pub = serialization.load_pem_public_key((ws.keys_dir / "signing.pub").read_bytes())
    kid = hashlib.sha256(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).hexdigest()[:16]
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'signing_key_id'").fetchone() == (kid,)
    finally:
        con.close()
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_erasure(ws, open_case(ws, "erasure", TODAY).case_id, pick="people.person:3")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    other = Ed25519PrivateKey.generate()  # another workspace's signing key put in its place
    (ws.keys_dir / "signing.key").write_bytes(other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ledger, sources = ledger_state(ws), source_state(ws)
    with pytest.raises(WorkspaceKeyError, match=f"is not the key this workspace signed its certificates with "
                                                f"\\(key {kid}\\)"):
        execute_plan(ws, plan.plan_id)
    assert ledger_state(ws) == ledger and source_state(ws) == sources


def test_a_due_run_after_rotations_still_matches_the_hold_its_plan_was_made_under(mini_ws, monkeypatch):
    """A finished plan's body keeps the hold hashes of the key it was planned with; `erase --due` compares them
    after the key was rotated (twice): the held person's rows must stay blocked, not become deletions."""
    from privacyops.erasure import erase_due, execute_plan
    from privacyops.ledger import add_hold

    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(mini_ws.root)
    hold = add_hold(ws, subject="M-001", reason="litigation", owner="legal")
    rows = mini_rows_of(ws, 1)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_erasure(ws, open_case(ws, "erasure", TODAY).case_id, "M-001")
    assert {r.action for r in plan.rows if (r.dataset, r.key) in rows} == {BLOCKED}
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    assert execute_plan(ws, plan.plan_id).ok
    sources = source_state(ws)
    rekey.rotate(ws)
    rekey.rotate(ws)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "scheduler")
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:  # the held rows wait in the schedule with no date: every due run looks at them again
        waiting = con.execute("SELECT dataset, row_key FROM erasure_schedule WHERE status = 'scheduled' AND "
                              "due_on IS NULL AND basis LIKE 'hold%'").fetchall()
    finally:
        con.close()
    secret = workspace_secret(ws.keys_dir)  # row keys are sealed at rest: open them with the workspace key
    opened = {(d, tuple(json.loads(sealing.open_text(secret, sealing.ROW_KEY, k)))) for d, k in waiting}
    assert opened >= {r for r in rows if r[0] == "people.person"}
    results = erase_due(ws, TODAY)
    assert not [r for res in results for r in res.plan.rows if (r.dataset, r.key) in rows and r.action != BLOCKED]
    assert source_state(ws) == sources  # nothing of the held person was erased
    assert hold.hold_id
