"""Sealing (encryption at rest with the workspace key): round trip, wrong key, tampering, purpose separation,
reading clear values from older ledgers, resealing a ledger and a file under a new secret.

Ground truth is the plaintext the test itself chose and, for AES-GCM, an independent decryption with the key the
test derives itself with HKDF (the documented derivation), not with privacyops' own helper."""

from __future__ import annotations

import base64
import os
import secrets

import duckdb
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from privacyops.errors import PrivacyOpsError, SealingError
from privacyops.ledger.store import LedgerConnection
from privacyops.workspace import sealing

A, B = secrets.token_bytes(32), secrets.token_bytes(32)
TEXT = '{"subject":"Jānis Bērziņš <janis@mini.example>","rows":[1,2,3]}'


def test_round_trip_and_the_ciphertext_holds_nothing_in_clear():
    token = sealing.seal_text(A, "erasure-plan-body", TEXT)
    assert sealing.is_sealed(token) and token.isascii() and "\n" not in token
    assert "janis" not in token.lower() and "Bērziņš" not in token
    assert sealing.unseal(A, "erasure-plan-body", token).decode() == TEXT
    assert sealing.open_text(A, "erasure-plan-body", token) == TEXT
    # Two seals of the same text differ (random nonce): equal contents cannot be matched in the ledger.
    assert sealing.seal_text(A, "erasure-plan-body", TEXT) != token


def test_the_documented_format_decrypts_independently():
    token = sealing.seal_text(A, "erasure-plan-body", TEXT)
    prefix, version, purpose, fp, data = token.split(":")
    assert (prefix, version, purpose) == ("po-sealed", "v1", "erasure-plan-body") and len(fp) == 16
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"privacyops-seal-v1",
               info=b"privacyops/seal/v1/erasure-plan-body").derive(A)
    blob = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    aad = f'{prefix}:{version}:{purpose}:{fp}'.encode()
    assert AESGCM(key).decrypt(blob[:12], blob[12:], aad).decode() == TEXT


def test_a_wrong_key_is_a_clear_typed_error_naming_both_keys():
    token = sealing.seal_text(A, "erasure-plan-body", TEXT)
    with pytest.raises(SealingError) as err:
        sealing.unseal(B, "erasure-plan-body", token)
    assert isinstance(err.value, PrivacyOpsError) and err.value.exit_code == 4
    msg = str(err.value)
    assert sealing.key_fingerprint(A) in msg and sealing.key_fingerprint(B) in msg and "workspace.key" in msg
    assert sealing.key_fingerprint(A) != sealing.key_fingerprint(B)


@pytest.mark.parametrize("where", ["ciphertext", "tag", "fingerprint", "truncated", "not-base64", "garbage"])
def test_a_tampered_value_is_a_clear_error_never_garbage(where):
    token = sealing.seal_text(A, "erasure-plan-body", TEXT)
    head, data = token.rsplit(":", 1)
    blob = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    if where == "ciphertext":
        blob[20] ^= 1
    elif where == "tag":
        blob[-1] ^= 0x80
    if where in ("ciphertext", "tag"):
        bad = f"{head}:{base64.urlsafe_b64encode(bytes(blob)).decode().rstrip('=')}"
        match = "altered or damaged"
    elif where == "fingerprint":  # another fingerprint in the header: named as another key, not decrypted
        bad = token.replace(sealing.key_fingerprint(A), "0" * 16)
        match = "0000000000000000"
    elif where == "truncated":
        bad = f"{head}:{data[:10]}"
        match = "truncated"
    elif where == "not-base64":
        bad = f"{head}:@@@@"
        match = "not base64"
    else:
        bad = "po-sealed:v1:erasure-plan-body"
        match = "not a sealed privacyops value"
    with pytest.raises(SealingError, match=match):
        sealing.unseal(A, "erasure-plan-body", bad)


def test_purposes_are_separated():
    token = sealing.seal_text(A, "erasure-plan-body", TEXT)
    with pytest.raises(SealingError, match="not a 'other-purpose'"):
        sealing.unseal(A, "other-purpose", token)
    # Relabelling the token's purpose does not help: the key differs and the header is authenticated.
    relabelled = token.replace(":erasure-plan-body:", ":other-purpose:")
    with pytest.raises(SealingError, match="altered or damaged"):
        sealing.unseal(A, "other-purpose", relabelled)
    assert sealing.derive_key(A, "erasure-plan-body") != sealing.derive_key(A, "other-purpose")
    with pytest.raises(ValueError):
        sealing.seal_text(A, "Bad:Purpose", TEXT)


def test_clear_values_from_older_ledgers_still_read():
    assert sealing.open_text(A, "erasure-plan-body", TEXT) == TEXT
    assert not sealing.is_sealed(TEXT) and not sealing.is_sealed(None)


def _ledger(path) -> LedgerConnection:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE erasure_plans (plan_id VARCHAR PRIMARY KEY, status VARCHAR, body VARCHAR)")
    con.execute("CREATE TABLE other_notes (id INTEGER PRIMARY KEY, note VARCHAR, n INTEGER)")
    con.execute("CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, details VARCHAR)")
    return LedgerConnection(con, "duckdb", str(path))


def test_reseal_ledger_moves_every_sealed_value_to_the_new_key(tmp_path):
    con = _ledger(tmp_path / "l.duckdb")
    texts = {f"P{i}": f"body {i} of jane{i}@example.com" for i in range(5)}
    for pid, text in texts.items():
        con.execute("INSERT INTO erasure_plans VALUES (?, 'done', ?)",
                    [pid, sealing.seal_text(A, "erasure-plan-body", text)])
    con.execute("INSERT INTO erasure_plans VALUES ('OLD', 'done', 'a clear body from an older ledger')")
    con.execute("INSERT INTO other_notes VALUES (1, ?, 7)", [sealing.seal_text(A, "note", "note of Jane")])
    audit_token = sealing.seal_text(A, "note", "never resealed: chained")
    con.execute("INSERT INTO audit_log VALUES (1, ?)", [audit_token])
    with con.transaction():
        n = sealing.reseal_ledger(con, A, B)
    assert n == 6
    got = dict(con.execute("SELECT plan_id, body FROM erasure_plans").fetchall())
    for pid, text in texts.items():
        assert sealing.parse(got[pid])[2] == sealing.key_fingerprint(B)
        assert sealing.open_text(B, "erasure-plan-body", got[pid]) == text
        with pytest.raises(SealingError):
            sealing.open_text(A, "erasure-plan-body", got[pid])
    assert got["OLD"] == "a clear body from an older ledger"
    note = con.execute("SELECT note FROM other_notes").fetchone()[0]
    assert sealing.open_text(B, "note", note) == "note of Jane"
    assert con.execute("SELECT details FROM audit_log").fetchone()[0] == audit_token
    # Again (an interrupted rotation run a second time): nothing left to change.
    assert sealing.reseal_ledger(con, A, B) == 0
    con.close()


def test_reseal_ledger_with_the_wrong_old_key_fails_and_the_transaction_rolls_back(tmp_path):
    con = _ledger(tmp_path / "l.duckdb")
    C = secrets.token_bytes(32)
    first, second = sealing.seal_text(A, "erasure-plan-body", "one"), sealing.seal_text(C, "erasure-plan-body", "2")
    con.execute("INSERT INTO erasure_plans VALUES ('P1', 'done', ?), ('P2', 'done', ?)", [first, second])
    with pytest.raises(SealingError, match="erasure_plans.body"), con.transaction():
        sealing.reseal_ledger(con, A, B)
    assert sorted(r[0] for r in con.execute("SELECT body FROM erasure_plans").fetchall()) == sorted([first, second])
    con.close()


def test_sealed_files_round_trip_and_reseal(tmp_path):
    path = tmp_path / "x.sealed"
    sealing.seal_file(path, A, "report-file", b"Jane Doe, +371 2000 1111")
    raw = path.read_bytes()
    assert b"Jane" not in raw and b"2000" not in raw
    assert os.stat(path).st_mode & 0o077 == 0
    assert sealing.unseal_file(path, A, "report-file") == b"Jane Doe, +371 2000 1111"
    assert sealing.reseal_file(path, A, B) is True
    assert sealing.reseal_file(path, A, B) is False
    assert sealing.unseal_file(path, B, "report-file") == b"Jane Doe, +371 2000 1111"
    with pytest.raises(SealingError, match=str(path.name)):
        sealing.unseal_file(path, A, "report-file")


@pytest.mark.slow
def test_reseal_ledger_on_a_postgresql_ledger(postgres_dsn):
    import psycopg

    from tests.support import pg as pgserver

    dsn = pgserver.create_database(postgres_dsn, "seal")
    raw = psycopg.connect(dsn, autocommit=True)
    con = LedgerConnection(raw, "postgres", "test")
    try:
        con.execute("CREATE TABLE erasure_plans (plan_id VARCHAR PRIMARY KEY, body TEXT NOT NULL, n INTEGER)")
        con.execute("CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, details VARCHAR)")
        sealed = {f"P{i}": sealing.seal_text(A, "erasure-plan-body", f"plan {i} 100% of jane@example.com")
                  for i in range(3)}
        for pid, token in sealed.items():
            con.execute("INSERT INTO erasure_plans VALUES (?, ?, 1)", [pid, token])
        con.execute("INSERT INTO erasure_plans VALUES ('OLD', ?, 2)", ["clear body with a % sign"])
        with con.transaction():
            assert sealing.reseal_ledger(con, A, B) == 3
        got = dict(con.execute("SELECT plan_id, body FROM erasure_plans").fetchall())
        assert got["OLD"] == "clear body with a % sign"
        for i in range(3):
            assert sealing.open_text(B, "erasure-plan-body", got[f"P{i}"]) == f"plan {i} 100% of jane@example.com"
    finally:
        raw.close()


def test_deterministic_seals_match_equal_values_and_nothing_else():
    a1 = sealing.seal_deterministic(A, "row-key", '["jane@example.com"]')
    assert a1 == sealing.seal_deterministic(A, "row-key", '["jane@example.com"]')  # SQL can match it
    assert a1 != sealing.seal_deterministic(A, "row-key", '["jane2@example.com"]')
    assert a1 != sealing.seal_deterministic(A, "other-purpose", '["jane@example.com"]')
    assert a1 != sealing.seal_deterministic(B, "row-key", '["jane@example.com"]')
    assert "jane" not in a1 and a1.split(":")[1] == "d1"
    assert sealing.open_text(A, "row-key", a1) == '["jane@example.com"]'
    with pytest.raises(SealingError, match="sealed with workspace key"):
        sealing.unseal(B, "row-key", a1)
    with pytest.raises(SealingError, match="not a 'other-purpose'"):
        sealing.unseal(A, "other-purpose", a1)
    head, data = a1.rsplit(":", 1)
    blob = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    blob[-1] ^= 1
    with pytest.raises(SealingError, match="altered or damaged"):
        sealing.unseal(A, "row-key", f"{head}:{base64.urlsafe_b64encode(bytes(blob)).decode().rstrip('=')}")
    # Resealed, it stays deterministic: equal values stay equal (a unique key stays unique) under the new key.
    b1 = sealing.reseal(a1, A, B)
    assert b1 == sealing.seal_deterministic(B, "row-key", '["jane@example.com"]')


def test_reseal_ledger_updates_deterministic_keys_in_key_columns(tmp_path):
    con = LedgerConnection(duckdb.connect(str(tmp_path / "l.duckdb")), "duckdb", "k")
    con.execute("CREATE TABLE restrictions (dataset VARCHAR, row_key VARCHAR, plan_id VARCHAR, "
                "PRIMARY KEY (dataset, row_key, plan_id))")
    keys = [f'["p{i}@example.com"]' for i in range(1200)]  # more than one batch of the replacement table
    for plan in ("P1", "P2"):  # the same row restricted by two plans: one token, two rows
        con.execute("INSERT INTO restrictions SELECT 'd', unnest(?), ?",
                    [[sealing.seal_deterministic(A, "row-key", k) for k in keys], plan])
    with con.transaction():
        assert sealing.reseal_ledger(con, A, B) == 2400
    got = con.execute("SELECT row_key, count(*) FROM restrictions GROUP BY row_key").fetchall()
    assert len(got) == 1200 and {n for _, n in got} == {2}
    assert {sealing.open_text(B, "row-key", t) for t, _ in got} == set(keys)
    con.close()
