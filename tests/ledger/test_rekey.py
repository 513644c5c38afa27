"""`privacyops key rotate`, `key backup`, `key restore`, `key show` on the mini workspace.

Ground truth is computed here: the ledger is read with plain DuckDB SQL, keyed hashes with hmac from the key
file's bytes, expected rows of a person with SQL against the sources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import stat

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.consent import record_consent, withdraw_consent
from privacyops.erasure import BLOCKED, cancel_plan, plan_erasure
from privacyops.erasure.holds_resolve import place_hold
from privacyops.errors import WorkspaceKeyError
from privacyops.ledger import audit, open_case, rekey, suppression
from privacyops.reports import consent_report
from tests.consent.test_consent import AS_OF, setup_consent
from tests.ledger.test_holds import mini_rows_of

# Every keyed hash the ledger stores outside the audit log: (table, column, row identity).
STORED = (("suppression", "email_hash", "email_hash"), ("legal_hold_keys", "key_hash", "hold_id || key_hash"),
          ("consent_records", "subject_hash", "record_id"), ("cases", "subject_hash", "case_id"),
          ("erasure_plans", "subject_hash", "plan_id"))


def sql(ws, query: str, params=()) -> list:
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


def key_bytes(ws) -> bytes:
    return (ws.keys_dir / "workspace.key").read_bytes()


def fp(key: bytes) -> str:
    return hashlib.sha256(b"privacyops-workspace-key\x00" + key).hexdigest()[:16]


def chain(key: bytes, purpose: str, value: str) -> list[str]:
    """The value's hash under each generation of `key`, computed with hmac alone."""
    gens = [key[i:i + 32] for i in range(0, len(key), 32)]
    out = [hmac.new(gens[0], f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()]
    for k in gens[1:]:
        out.append(hmac.new(k, out[-1].encode(), hashlib.sha256).hexdigest())
    return out


def stored_hashes(ws) -> dict[str, set[str]]:
    return {t: {h for (h,) in sql(ws, f"SELECT {c} FROM {t} WHERE {c} IS NOT NULL")} for t, c, _ in STORED}


def meta(ws) -> dict[str, str]:
    return dict(sql(ws, "SELECT key, value FROM meta"))


def cli(ws, *args, **kw):
    res = CliRunner().invoke(main, [*args, "-w", str(ws.root)], **kw)
    assert "Traceback" not in res.output
    return res


def test_the_ledger_records_the_fingerprint_of_the_key_it_was_made_with(mini_ws):
    assert not (mini_ws.keys_dir / "workspace.key").exists()
    suppression.suppress(mini_ws, "x@mini.example", "objection")
    key = key_bytes(mini_ws)
    assert len(key) == 32 and stat.S_IMODE(os.stat(mini_ws.keys_dir / "workspace.key").st_mode) == 0o600
    assert meta(mini_ws)["workspace_key_fp"] == fp(key) and meta(mini_ws)["workspace_key_generations"] == "1"
    assert sql(mini_ws, "SELECT email_hash FROM suppression") == [(chain(key, "suppress", "x@mini.example")[0],)]
    shown = json.loads(cli(mini_ws, "key", "show", "--json").output)
    assert shown["workspace_key"] == shown["ledger_workspace_key"] == fp(key) and shown["ok"]
    assert key.hex()[:12] not in json.dumps(shown)


def _plan_rows(ws, subject="people.person:1"):
    plan = plan_erasure(ws, open_case(ws, "erasure", dt.date.today()).case_id, pick=subject, as_of=AS_OF,
                        save=False)
    return {(r.dataset, r.key): r.action for r in plan.rows}


@pytest.mark.slow
def test_rotating_twice_keeps_every_match_and_leaves_no_old_hash(mini_ws, monkeypatch):
    ws = setup_consent(mini_ws)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "dpo")
    suppression.suppress(ws, "x@mini.example", "objection")
    hold, _ = place_hold(ws, subject="people.person:1", reason="litigation", owner="legal")
    withdraw_consent(ws, "janis2@mini.example", "mail", at="2024-06-15")
    record_consent(ws, "people.person:1", "mail", method="phone", notice="v3", at="2025-02-15")
    case = open_case(ws, "objection", dt.date.today(), subject="jb@other.example")
    report = consent_report(ws, AS_OF, audit_log=False)
    before_report = ({(str(b.subject), b.key, b.withdrawal_by) for b in report.breaches},
                     report.privacyops_records, report.privacyops_unmatched)
    held = mini_rows_of(ws, 1)
    assert {a for (d, k), a in _plan_rows(ws).items() if (d, k) in held} == {BLOCKED}
    k1, old = key_bytes(ws), stored_hashes(ws)
    old_rows = {t: dict(sql(ws, f"SELECT {ident}, {c} FROM {t} WHERE {c} IS NOT NULL")) for t, c, ident in STORED}
    audit_before = sql(ws, "SELECT seq, subject_hash, hash FROM audit_log ORDER BY seq")

    res = cli(ws, "key", "rotate")
    assert res.exit_code == 0, res.output
    got = rekey.rotate(ws)
    k3 = key_bytes(ws)
    assert len(k3) == 96 and k3[:32] == k1 and got.generations == 3 and got.new == fp(k3)
    assert meta(ws)["workspace_key_fp"] == fp(k3) and meta(ws)["workspace_key_generations"] == "3"
    assert stat.S_IMODE(os.stat(ws.keys_dir / "workspace.key").st_mode) == 0o600
    k2, k3g = k3[32:64], k3[64:]
    for t, c, ident in STORED:  # every stored hash is HMAC(k3, HMAC(k2, old)), row by row
        now = dict(sql(ws, f"SELECT {ident}, {c} FROM {t} WHERE {c} IS NOT NULL"))
        expect = {i: hmac.new(k3g, hmac.new(k2, h.encode(), hashlib.sha256).hexdigest().encode(),
                              hashlib.sha256).hexdigest() for i, h in old_rows[t].items()}
        if t in ("suppression", "legal_hold_keys"):  # the hash is (part of) the row's identity
            assert set(now.values()) == set(expect.values()), t
        else:
            assert now == expect, t
    everything = set().union(*stored_hashes(ws).values())
    assert not everything & set().union(*old.values())  # no hash of the old key is left
    assert sum(map(len, old.values())) == len(everything) > 0

    assert suppression.check(ws, "x@mini.example").reason == "objection"
    assert chain(k3, "suppress", "x@mini.example")[-1] in stored_hashes(ws)["suppression"]
    assert "suppressed" in cli(ws, "suppress", "check", "X@mini.example").output
    rows = _plan_rows(ws)
    assert {a for (d, k), a in rows.items() if (d, k) in held} == {BLOCKED} and held <= set(rows)
    report = consent_report(ws, AS_OF, audit_log=False)
    assert ({(str(b.subject), b.key, b.withdrawal_by) for b in report.breaches}, report.privacyops_records,
            report.privacyops_unmatched) == before_report
    wanted = chain(k3, "subject", "jb@other.example")[-1]
    assert sql(ws, "SELECT case_id FROM cases WHERE subject_hash = ?", [wanted]) == [(case.case_id,)]
    assert audit.subject_hash(ws, "jb@other.example") == wanted
    # the audit log is never rewritten; a search by subject finds entries of every generation
    assert sql(ws, "SELECT seq, subject_hash, hash FROM audit_log ORDER BY seq")[:len(audit_before)] == audit_before
    found = audit.entries_for_subject(ws, "jb@other.example")
    assert [e.action for e in found] == ["case.open"]
    assert found[0].subject_hash == chain(k3, "subject", "jb@other.example")[0]
    assert audit.verify(ws).ok
    rotations = audit.entries(ws, action="key.rotate")
    assert [(e.details["old"], e.details["new"]) for e in rotations] == [(fp(k1), fp(k3[:64])), (fp(k3[:64]), fp(k3))]
    text = json.dumps([e.details for e in rotations])
    assert all(g.hex()[:12] not in text for g in (k1, k2, k3g))


def test_rotation_is_refused_while_an_erasure_plan_is_open(mini_ws):
    suppression.suppress(mini_ws, "x@mini.example", "objection")
    plan = plan_erasure(mini_ws, open_case(mini_ws, "erasure", dt.date.today()).case_id, "M-002")
    key, before = key_bytes(mini_ws), stored_hashes(mini_ws)
    with pytest.raises(WorkspaceKeyError, match=f"1 erasure plan\\(s\\) are still open \\({plan.plan_id}\\)"):
        rekey.rotate(mini_ws)
    assert key_bytes(mini_ws) == key and stored_hashes(mini_ws) == before
    assert meta(mini_ws)["workspace_key_fp"] == fp(key)
    assert not (mini_ws.keys_dir / "workspace.key.next").exists()
    cancel_plan(mini_ws, plan.plan_id, "rotate first")
    assert rekey.rotate(mini_ws).generations == 2
    assert suppression.check(mini_ws, "x@mini.example") is not None


def test_a_rotation_stopped_after_the_ledger_commit_is_finished_by_the_next_command(mini_ws, monkeypatch):
    suppression.suppress(mini_ws, "x@mini.example", "objection")
    old = key_bytes(mini_ws)

    def crash(ws, want):
        raise OSError("power cut")

    monkeypatch.setattr(rekey, "_promote", crash)
    with pytest.raises(OSError):
        rekey.rotate(mini_ws)
    new = (mini_ws.keys_dir / "workspace.key.next").read_bytes()
    assert key_bytes(mini_ws) == old and meta(mini_ws)["workspace_key_fp"] == fp(new)
    res = cli(mini_ws, "suppress", "check", "x@mini.example")
    assert res.exit_code == 0 and "suppressed" in res.output, res.output
    assert key_bytes(mini_ws) == new and not (mini_ws.keys_dir / "workspace.key.next").exists()


def test_backup_and_restore_round_trip(mini_ws, tmp_path):
    suppression.suppress(mini_ws, "x@mini.example", "objection")
    key = key_bytes(mini_ws)
    pw = tmp_path / "pw"
    pw.write_text("a long passphrase\n")
    out = tmp_path / "keys.backup"
    res = cli(mini_ws, "key", "backup", "--out", str(out), "--passphrase-file", str(pw))
    assert res.exit_code == 0 and stat.S_IMODE(os.stat(out).st_mode) == 0o600, res.output
    assert cli(mini_ws, "key", "backup", "--out", str(out), "--passphrase-file", str(pw)).exit_code == 8
    (mini_ws.keys_dir / "workspace.key").unlink()
    res = cli(mini_ws, "suppress", "check", "x@mini.example")
    assert res.exit_code == 8 and f"ledger was made with key {fp(key)}" in res.output
    assert not (mini_ws.keys_dir / "workspace.key").exists()
    res = cli(mini_ws, "key", "restore", str(out), env={"PRIVACYOPS_BACKUP_PASSPHRASE": "not the passphrase"})
    assert res.exit_code == 8 and "wrong passphrase" in res.output and "not the passphrase" not in res.output
    assert not (mini_ws.keys_dir / "workspace.key").exists()
    res = cli(mini_ws, "key", "restore", str(out), input="a long passphrase\n")
    assert res.exit_code == 0 and fp(key) in res.output and "a long passphrase" not in res.output, res.output
    assert key_bytes(mini_ws) == key
    assert stat.S_IMODE(os.stat(mini_ws.keys_dir / "workspace.key").st_mode) == 0o600
    assert "suppressed" in cli(mini_ws, "suppress", "check", "x@mini.example").output
    # a backup from before a rotation holds a key the ledger no longer takes
    assert cli(mini_ws, "key", "rotate").exit_code == 0
    rotated = key_bytes(mini_ws)
    res = cli(mini_ws, "key", "restore", str(out), "--passphrase-file", str(pw))
    assert res.exit_code == 8 and fp(key) in res.output and fp(rotated) in res.output
    assert key_bytes(mini_ws) == rotated
    # a new backup by prompt (asked twice, never echoed) restores the rotated key
    out2 = tmp_path / "keys2.backup"
    res = cli(mini_ws, "key", "backup", "--out", str(out2), input="another passphrase\nanother passphrase\n")
    assert res.exit_code == 0 and "another passphrase" not in res.output, res.output
    (mini_ws.keys_dir / "workspace.key").write_bytes(b"")
    res = cli(mini_ws, "key", "restore", str(out2), input="another passphrase\n")
    assert res.exit_code == 0 and key_bytes(mini_ws) == rotated, res.output
    assert [e.details["workspace_key"] for e in audit.entries(mini_ws, action="key.restore")] == [fp(key), fp(rotated)]


def test_restore_refuses_another_workspaces_key(mini_ws, tmp_path):
    suppression.suppress(mini_ws, "x@mini.example", "objection")
    other = tmp_path / "other"
    other.mkdir()
    foreign = os.urandom(32)
    (other / "workspace.key").write_bytes(foreign)
    from privacyops.workspace.key_backup import write_backup

    write_backup(other, tmp_path / "foreign.backup", "a long passphrase")
    key = key_bytes(mini_ws)
    res = cli(mini_ws, "key", "restore", str(tmp_path / "foreign.backup"),
              env={"PRIVACYOPS_BACKUP_PASSPHRASE": "a long passphrase"})
    assert res.exit_code == 8 and fp(foreign) in res.output and fp(key) in res.output
    assert key_bytes(mini_ws) == key


@pytest.mark.slow
def test_a_shared_postgresql_ledger_checks_rotates_and_restores(mini_ws, postgres_dsn, tmp_path):
    import psycopg

    from tests.support import pg as pgserver

    dsn = pgserver.create_database(postgres_dsn, "keys")
    (mini_ws.root / "keys").mkdir(exist_ok=True)
    (mini_ws.root / "keys" / "ledger.dsn").write_text(dsn)
    text = (mini_ws.root / "privacyops.yaml").read_text()
    (mini_ws.root / "privacyops.yaml").write_text(text + "\nledger: {kind: postgres, dsn_file: keys/ledger.dsn}\n")
    from privacyops.workspace import open_workspace

    ws = open_workspace(mini_ws.root)

    def pg(query, params=()):
        with psycopg.connect(dsn) as con:
            return con.execute(query, list(params)).fetchall()

    suppression.suppress(ws, "x@mini.example", "objection")
    k1 = key_bytes(ws)
    assert pg("SELECT value FROM meta WHERE key = 'workspace_key_fp'") == [(fp(k1),)]
    assert pg("SELECT email_hash FROM suppression") == [(chain(k1, "suppress", "x@mini.example")[0],)]
    write_backup_path = tmp_path / "pg.backup"
    got = rekey.rotate(ws)
    k2 = key_bytes(ws)
    assert got.new == fp(k2) and pg("SELECT value FROM meta WHERE key = 'workspace_key_fp'") == [(fp(k2),)]
    assert pg("SELECT email_hash FROM suppression") == [(chain(k2, "suppress", "x@mini.example")[1],)]
    assert suppression.check(ws, "x@mini.example") is not None and audit.verify(ws).ok
    env = {"PRIVACYOPS_BACKUP_PASSPHRASE": "pg pass phrase"}
    res = cli(ws, "key", "backup", "--out", str(write_backup_path), env=env)
    assert res.exit_code == 0, res.output
    (ws.keys_dir / "workspace.key").write_bytes(k1)  # the pre-rotation key
    before = pg("SELECT count(*) FROM audit_log")
    res = cli(ws, "suppress", "add", "y@mini.example", "--reason", "objection")
    assert res.exit_code == 8 and f"(key {fp(k1)})" in res.output and f"(key {fp(k2)})" in res.output
    assert pg("SELECT count(*) FROM audit_log") == before and pg("SELECT count(*) FROM suppression") == [(1,)]
    res = cli(ws, "key", "restore", str(write_backup_path), env=env)
    assert res.exit_code == 0 and key_bytes(ws) == k2, res.output
    assert "suppressed" in cli(ws, "suppress", "check", "x@mini.example").output
    import shutil

    shutil.rmtree(ws.keys_dir)  # the whole folder lost, with the ledger's DSN file in it
    res = cli(ws, "key", "restore", str(write_backup_path), env=env)
    assert res.exit_code == 0 and key_bytes(ws) == k2, res.output
    assert (ws.keys_dir / "ledger.dsn").read_text() == dsn
    assert "suppressed" in cli(ws, "suppress", "check", "x@mini.example").output


def test_key_show_reads_only_and_never_prints_a_secret(mini_ws):
    res = cli(mini_ws, "key", "show")
    assert res.exit_code == 0 and "no key yet" in res.output
    assert not (mini_ws.keys_dir / "workspace.key").exists()
    suppression.suppress(mini_ws, "x@mini.example", "objection")
    key = key_bytes(mini_ws)
    (mini_ws.keys_dir / "workspace.key").write_bytes(key[:20])
    res = cli(mini_ws, "key", "show")
    assert res.exit_code == 0 and "KEYS DO NOT MATCH THE LEDGER" in res.output and fp(key) in res.output
    assert "truncated or damaged (20 bytes" in res.output and key.hex()[:8] not in res.output
    (mini_ws.keys_dir / "workspace.key").unlink()
    shown = json.loads(cli(mini_ws, "key", "show", "--json").output)
    assert shown["workspace_key"] is None and shown["ledger_workspace_key"] == fp(key) and not shown["ok"]
    assert not (mini_ws.keys_dir / "workspace.key").exists()
