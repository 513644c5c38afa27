"""Signed checkpoints: the `audit:` map section, the sinks (file, stdout, PostgreSQL), entries in the caller's
transaction, a crash between commit and checkpoint, ledgers from before entry MACs, export / verify-export."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.errors import DataMapError
from privacyops.ledger import audit, open_ledger
from privacyops.ledger import checkpoints as cps
from privacyops.map import parse_datamap
from privacyops.workspace import open_workspace
from privacyops.workspace.keys import workspace_secret
from tests.support import pg as pgserver
from tests.support.mini import MINI_MAP


def _with_audit(ws_root: Path, section: str):
    (ws_root / "privacyops.yaml").write_text(MINI_MAP + section + "\n")
    return open_workspace(ws_root)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


# -- the map section ------------------------------------------------------------------------------------------------


def test_map_audit_section_kinds_and_default():
    assert parse_datamap(MINI_MAP).audit.kind == "file"
    assert parse_datamap(MINI_MAP).audit.path == "audit.checkpoints"
    assert not parse_datamap(MINI_MAP).audit.explicit
    got = parse_datamap(MINI_MAP + "audit: {checkpoints: {kind: file, path: /mnt/audit/po.jsonl}}\n").audit
    assert (got.kind, got.path, got.explicit) == ("file", "/mnt/audit/po.jsonl", True)
    got = parse_datamap(MINI_MAP + "audit: {checkpoints: {kind: postgres, dsn_env: AUDIT_DSN}}\n").audit
    assert (got.kind, got.dsn_env) == ("postgres", "AUDIT_DSN")
    assert parse_datamap(MINI_MAP + "audit: {checkpoints: {kind: stdout}}\n").audit.kind == "stdout"


@pytest.mark.parametrize("section, says", [
    ("audit: {checkpoints: {kind: s3}}", "unknown checkpoint sink 's3'"),
    ("audit: {checkpoints: {kind: file}}", "a file sink needs path"),
    ("audit: {checkpoints: {kind: postgres}}", "exactly one of dsn_env"),
    ("audit: {checkpoints: {kind: postgres, dsn: 'postgresql://u:pw@h/db'}}", "would put connection details"),
    ("audit: {checkpoints: {kind: stdout, path: x}}", "path is for kind: file"),
    ("audit: {sink: file}", "sink"),
])
def test_map_audit_section_problems_name_the_line(section, says):
    with pytest.raises(DataMapError) as err:
        parse_datamap(MINI_MAP + section + "\n")
    assert says in str(err.value)
    assert "audit" in str(err.value)


# -- the file sink -------------------------------------------------------------------------------------------------


def test_every_append_writes_a_signed_numbered_checkpoint(mini_ws, tmp_path):
    held = tmp_path / "held" / "po.jsonl"
    ws = _with_audit(mini_ws.root, f"audit: {{checkpoints: {{kind: file, path: {held}}}}}")
    made = [audit.record(ws, "test.step", {"i": i}) for i in range(4)]
    lines = _lines(held)
    assert [(c["number"], c["seq"], c["entries"], c["hash"]) for c in lines] == \
        [(i + 1, e.seq, e.seq, e.hash) for i, e in enumerate(made)]
    # the signature is Ed25519 over the canonical JSON of the other fields, checkable with the public key alone
    from cryptography.hazmat.primitives import serialization

    pub = serialization.load_pem_public_key((ws.keys_dir / "signing.pub").read_bytes())
    for c in lines:
        body = {k: c[k] for k in ("number", "seq", "hash", "entries", "at", "key_id")}
        pub.verify(base64.b64decode(c["signature"]),
                   json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
        assert c["key_id"] == hashlib.sha256(pub.public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw)).hexdigest()[:16]
    result = audit.verify(ws)
    assert result.ok and (result.entries, result.checkpoints) == (4, 4)
    assert not any("inside the workspace" in n for n in result.notes)  # held elsewhere: no warning
    assert not (ws.root / "audit.checkpoints").exists()


def test_the_default_sink_in_the_workspace_is_flagged_as_weaker(mini_ws):
    audit.record(mini_ws, "a")
    assert (mini_ws.root / "audit.checkpoints").is_file()
    result = audit.verify(mini_ws)
    assert result.ok
    assert any("inside the workspace" in n for n in result.notes)
    got = CliRunner().invoke(main, ["audit", "verify", "-w", str(mini_ws.root)])
    assert got.exit_code == 0 and "inside the workspace" in got.output


def test_entry_macs_are_keyed_from_the_signing_key(mini_ws):
    e = audit.record(mini_ws, "a", {"n": 1})
    con = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    (mac,) = con.execute("SELECT mac FROM audit_log WHERE seq = 1").fetchone()
    con.close()
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = serialization.load_pem_private_key((mini_ws.keys_dir / "signing.key").read_bytes(), password=None)
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"privacyops-audit",
                   info=b"audit entry mac v1").derive(raw)
    assert mac == hmac.new(mac_key, f"audit-entry\x00{e.seq}\x00{e.hash}".encode(), hashlib.sha256).hexdigest()
    assert mac_key != workspace_secret(mini_ws.keys_dir)  # not the rotatable workspace key


def test_a_sink_held_elsewhere_is_synced_one_in_the_workspace_is_not(mini_ws, tmp_path, monkeypatch):
    synced: list[str] = []
    real = os.fsync
    monkeypatch.setattr(cps.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    audit.record(mini_ws, "inside")
    assert not any(p.endswith("audit.checkpoints") for p in synced)  # the ledger's commit is what is durable
    held = tmp_path / "held" / "po.jsonl"
    ws = _with_audit(mini_ws.root, f"audit: {{checkpoints: {{kind: file, path: {held}}}}}")
    audit.record(ws, "elsewhere")
    assert str(held) in synced


def test_a_checkpoint_line_lost_from_the_workspace_sink_is_written_again(mini_ws):
    for i in range(3):
        audit.record(mini_ws, "step", {"i": i})
    sink = mini_ws.root / "audit.checkpoints"
    lines = sink.read_text().splitlines(keepends=True)
    sink.write_text("".join(lines[:-1]))  # a crash before the unsynced last line reached the disk
    assert audit.verify(mini_ws).checkpoints == 2  # the head (in the workspace too) still confirms entry 3
    audit.record(mini_ws, "next")
    assert [c["number"] for c in _lines(sink)] == [1, 2, 3, 4]  # the lost one first, from the head
    assert _lines(sink)[2] == json.loads(lines[-1])
    assert audit.verify(mini_ws).ok


# -- one transaction per change -------------------------------------------------------------------------------------


def test_an_entry_in_a_rolled_back_transaction_leaves_nothing(mini_ws):
    audit.record(mini_ws, "before")
    with pytest.raises(RuntimeError):
        with open_ledger(mini_ws) as con, con.transaction(lock=True):
            con.execute("INSERT INTO suppression VALUES ('h', 'objection', now(), 'x', NULL)")
            audit.record(mini_ws, "inside", con=con)
            raise RuntimeError("the change fails after its entry")
    con = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    assert con.execute("SELECT count(*) FROM suppression").fetchone()[0] == 0
    assert con.execute("SELECT action FROM audit_log ORDER BY seq").fetchall() == [("before",)]
    con.close()
    assert [c["seq"] for c in _lines(mini_ws.root / "audit.checkpoints")] == [1]
    assert audit.verify(mini_ws).ok
    with open_ledger(mini_ws) as con, con.transaction(lock=True):  # two entries in one transaction
        audit.record(mini_ws, "one", con=con)
        audit.record(mini_ws, "two", con=con)
    assert [c["seq"] for c in _lines(mini_ws.root / "audit.checkpoints")] == [1, 2, 3]
    assert audit.verify(mini_ws).ok


def test_a_crash_between_commit_and_checkpoint_is_confirmed_by_the_next_append(mini_ws, monkeypatch, tmp_path,
                                                                                capsys):
    held = tmp_path / "held.jsonl"
    ws = _with_audit(mini_ws.root, f"audit: {{checkpoints: {{kind: file, path: {held}}}}}")
    audit.record(ws, "a")
    real = cps.write_checkpoint
    monkeypatch.setattr(audit, "write_checkpoint", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    audit.record(ws, "b")  # committed; its checkpoint could not be written: a warning, not an error
    assert "could not be written" in capsys.readouterr().err
    result = audit.verify(ws, against=held)
    assert (result.ok, result.unconfirmed) == (False, (2, 2))
    assert "entries 2..2 are not confirmed by any checkpoint" in str(result)
    monkeypatch.setattr(audit, "write_checkpoint", real)
    audit.record(ws, "c")
    assert [c["number"] for c in _lines(held)] == [1, 2, 3]  # the missing one is written first
    assert audit.verify(ws, against=held).ok


def test_entries_past_the_head_with_a_bad_mac_are_named_and_stay_reported(mini_ws, tmp_path):
    audit.record(mini_ws, "a")
    con = duckdb.connect(str(mini_ws.ledger_path))
    seq, prev = con.execute("SELECT seq, hash FROM audit_log").fetchone()
    h = cps.entry_hash(2, "t", "mallory", "x", None, None, "{}", prev)
    con.execute("INSERT INTO audit_log (seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, "
                "hash, mac) VALUES (2, 't', 'mallory', 'x', NULL, NULL, '{}', ?, ?, ?)", [prev, h, "0" * 64])
    con.close()
    assert audit.verify(mini_ws).first_broken == 2
    audit.record(mini_ws, "b")  # not silently: an audit.confirm entry names entry 2 as having no matching MAC
    con = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    (details,) = con.execute("SELECT details FROM audit_log WHERE action = 'audit.confirm'").fetchone()
    con.close()
    assert json.loads(details)["bad_mac"] == [2]
    assert audit.verify(mini_ws).first_broken == 2  # the key holder: its MAC
    pub = tmp_path / "signing.pub"
    pub.write_bytes((mini_ws.keys_dir / "signing.pub").read_bytes())
    (mini_ws.keys_dir / "signing.key").unlink()
    auditor = audit.verify(mini_ws, public_key=pub)  # without the key: the confirm entry
    assert (auditor.ok, auditor.first_broken) == (False, 2) and "without a matching MAC" in auditor.reason


def test_a_lost_signing_key_never_makes_a_new_one_and_its_entries_stay_reported(mini_ws, capsys):
    audit.record(mini_ws, "a")
    (mini_ws.keys_dir / "signing.key").unlink()
    audit.record(mini_ws, "b")  # the change is still logged, without MAC or checkpoint, with a warning
    assert "without MAC or checkpoint" in capsys.readouterr().err
    assert not (mini_ws.keys_dir / "signing.key").exists()
    result = audit.verify(mini_ws)
    assert not result.ok and result.unconfirmed == (2, 2)


# -- the stdout sink ----------------------------------------------------------------------------------------------


def test_stdout_sink_writes_one_line_on_stderr_and_keeps_json_output_clean(mini_ws, tmp_path):
    _with_audit(mini_ws.root, "audit: {checkpoints: {kind: stdout}}")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PRIVACYOPS_ACTOR": "a"}
    got = subprocess.run([sys.executable, "-m", "privacyops.cli", "case", "open", "-w", str(mini_ws.root),
                          "--type", "access", "--received", "2026-11-01", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["case_id"] == "DSR-2026-0001"  # stdout is pure JSON
    lines = [x for x in got.stderr.splitlines() if x.startswith("privacyops-audit-checkpoint ")]
    assert len(lines) == 1
    collected = tmp_path / "collected.jsonl"
    collected.write_text(lines[0].split(" ", 1)[1] + "\n")
    ws = open_workspace(mini_ws.root)
    assert audit.verify(ws, against=collected).ok
    result = audit.verify(ws)
    assert result.ok and any("cannot be read back" in n for n in result.notes)


# -- ledgers from before entry MACs ------------------------------------------------------------------------------------


def test_a_ledger_from_before_macs_verifies_then_gains_them(mini_ws):
    for i in range(3):
        audit.record(mini_ws, "old", {"i": i})
    con = duckdb.connect(str(mini_ws.ledger_path))
    con.execute("UPDATE audit_log SET mac = NULL")
    seq, h = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    con.close()
    mac = hmac.new(workspace_secret(mini_ws.keys_dir), f"audit-head\x00{seq}\x00{h}".encode(),
                   hashlib.sha256).hexdigest()
    (mini_ws.root / audit.HEAD_FILE).write_text(json.dumps({"seq": seq, "hash": h, "mac": mac}))
    (mini_ws.root / "audit.checkpoints").unlink()
    result = audit.verify(mini_ws)
    assert result.ok and any("before entry MACs" in n for n in result.notes)
    audit.record(mini_ws, "new")
    con = duckdb.connect(str(mini_ws.ledger_path), read_only=True)
    assert con.execute("SELECT count(*) FROM audit_log WHERE mac IS NULL").fetchone()[0] == 0
    con.close()
    assert [c["number"] for c in _lines(mini_ws.root / "audit.checkpoints")] == [1]
    assert audit.verify(mini_ws).ok


# -- missing keys, export, verify-export ---------------------------------------------------------------------------


def test_missing_keys_end_in_a_message(mini_ws):
    audit.record(mini_ws, "a")
    (mini_ws.keys_dir / "signing.pub").unlink()
    (mini_ws.keys_dir / "signing.key").unlink()
    result = audit.verify(mini_ws)
    assert not result.ok and "signing.pub is missing" in result.reason
    got = CliRunner().invoke(main, ["audit", "verify", "-w", str(mini_ws.root)])
    assert got.exit_code == 5 and "Traceback" not in got.output


def test_export_and_verify_export_offline(mini_ws, tmp_path):
    for i in range(6):
        audit.record(mini_ws, "step", {"i": i})
    out = tmp_path / "bundle.json"
    pub = tmp_path / "controller.pub"
    pub.write_bytes((mini_ws.keys_dir / "signing.pub").read_bytes())
    runner = CliRunner()
    got = runner.invoke(main, ["audit", "export", "-w", str(mini_ws.root), "--from", "2", "--to", "4",
                               "--out", str(out)])
    assert got.exit_code == 0, got.output
    bundle = json.loads(out.read_text())
    assert [e["seq"] for e in bundle["entries"]] == [2, 3, 4]
    assert "verify-export" in bundle["how_to_verify"] and "BEGIN PUBLIC KEY" in bundle["public_key"]
    got = runner.invoke(main, ["audit", "verify-export", str(out), "--public-key", str(pub)])
    assert got.exit_code == 0 and "audit log intact: 3 entries" in got.output
    bundle["entries"][1]["actor"] = "mallory"
    out.write_text(json.dumps(bundle))
    got = runner.invoke(main, ["audit", "verify-export", str(out), "--public-key", str(pub)])
    assert got.exit_code == 5 and "BROKEN at entry 3" in got.output
    # a forger who re-signs with their own key and ships it in the bundle is caught by the controller's key
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    bundle = json.loads(json.dumps(bundle))
    mallory = Ed25519PrivateKey.generate()
    bundle["public_key"] = mallory.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    out.write_text(json.dumps(bundle))
    got = runner.invoke(main, ["audit", "verify-export", str(out), "--public-key", str(pub), "--json"])
    assert got.exit_code == 5 and json.loads(got.output)["ok"] is False
    out.write_text("not json")
    got = runner.invoke(main, ["audit", "verify-export", str(out)])
    assert got.exit_code == 5 and "not an audit export" in got.output


# -- PostgreSQL: a shared ledger, checkpoints in a table of another database -----------------------------------------


@pytest.mark.slow
def test_postgres_ledger_and_postgres_checkpoint_sink(mini_ws, postgres_dsn, monkeypatch):
    ledger_dsn = pgserver.create_database(postgres_dsn, "ledger")
    sink_dsn = pgserver.create_database(postgres_dsn, "sink")
    monkeypatch.setenv("TEAM_LEDGER_DSN", ledger_dsn)
    monkeypatch.setenv("AUDIT_SINK_DSN", sink_dsn)
    ws = _with_audit(mini_ws.root, "ledger: {kind: postgres, dsn_env: TEAM_LEDGER_DSN}\n"
                                   "audit: {checkpoints: {kind: postgres, dsn_env: AUDIT_SINK_DSN}}")
    made = [audit.record(ws, "step", {"i": i}) for i in range(5)]
    with open_ledger(ws) as con, con.transaction(lock=True):
        con.execute("INSERT INTO suppression VALUES ('h', 'objection', now(), 'x', NULL)")
        audit.record(ws, "suppress.add", {"n": 1}, con=con)
    assert not ws.ledger_path.exists() and not (ws.root / "audit.checkpoints").exists()
    with pgserver.connect(sink_dsn) as con:
        rows = con.execute(f'SELECT number, seq, line FROM "{cps.SINK_TABLE}" ORDER BY number').fetchall()
    assert [(n, s) for n, s, _ in rows] == [(i, i) for i in range(1, 7)]
    assert json.loads(rows[4][2])["hash"] == made[4].hash
    with pgserver.connect(ledger_dsn) as con:
        (head,) = con.execute("SELECT checkpoint FROM audit_head WHERE id = 1").fetchone()
    assert json.loads(head)["seq"] == 6
    result = audit.verify(ws)
    assert result.ok and (result.entries, result.checkpoints) == (6, 6), str(result)
    with pgserver.connect(sink_dsn) as con:  # a checkpoint deleted from the sink
        con.execute(f'DELETE FROM "{cps.SINK_TABLE}" WHERE number = 3')
    assert "checkpoint 3 is missing" in audit.verify(ws).reason
    with pgserver.connect(ledger_dsn) as con:  # a forged append with a recomputed chain
        seq, prev = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        h = cps.entry_hash(seq + 1, "t", "m", "x", None, None, "{}", prev)
        con.execute("INSERT INTO audit_log (seq, recorded_at, actor, action, case_id, subject_hash, details, "
                    "prev_hash, hash, mac) VALUES (%s, 't', 'm', 'x', NULL, NULL, '{}', %s, %s, NULL)",
                    [seq + 1, prev, h])
    broken = audit.verify(ws)
    assert not broken.ok and broken.first_broken in (3, seq + 1)
