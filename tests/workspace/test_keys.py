"""The workspace key on disk: its format is checked (never silently replaced), keyed hashes chain over key
generations, pseudonyms stay stable, and key backups are sealed under a passphrase.

Expected hashes are computed here with hmac/hashlib directly, never with the functions under test.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat

import pytest

from privacyops.errors import WorkspaceKeyError
from privacyops.erasure.masking import pseudonym
from privacyops.workspace.key_backup import header_of, open_backup, write_backup
from privacyops.workspace.keys import (
    fingerprint,
    forward_forms,
    keyed_hash,
    keyed_hash_generations,
    read_key,
    workspace_secret,
)


def h(key: bytes, msg: bytes) -> str:
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("data, problem", [
    (b"", "is empty"),
    (secrets.token_bytes(31), "is truncated or damaged (31 bytes"),
    (secrets.token_bytes(48), "is truncated or damaged (48 bytes"),
    (b"0123456789abcdef" * 4, "is text, not a key"),
], ids=["empty", "31-random-bytes", "48-random-bytes", "text"])  # fixed ids: every pytest process collects alike
def test_a_damaged_key_is_refused_and_never_replaced(tmp_path, data, problem):
    (tmp_path / "workspace.key").write_bytes(data)
    with pytest.raises(WorkspaceKeyError) as err:
        read_key(tmp_path)
    assert f"keys/workspace.key {problem}" in str(err.value) and "privacyops key restore BACKUP" in str(err.value)
    assert (tmp_path / "workspace.key").read_bytes() == data  # untouched


def test_a_missing_key_is_never_created_by_reading(tmp_path):
    assert read_key(tmp_path) is None
    with pytest.raises(WorkspaceKeyError, match="keys/workspace.key is missing"):
        workspace_secret(tmp_path)
    assert not (tmp_path / "workspace.key").exists()


def test_hashes_chain_over_generations_and_one_generation_is_plain_hmac():
    k1, k2, k3 = (secrets.token_bytes(32) for _ in range(3))
    first = h(k1, b"suppress\x00a@b.example")
    assert keyed_hash(k1, "a@b.example", "suppress") == first  # the hashes of every earlier version
    assert keyed_hash(k1 + k2, "a@b.example", "suppress") == h(k2, first.encode())
    assert keyed_hash(k1 + k2 + k3, "a@b.example", "suppress") == h(k3, h(k2, first.encode()).encode())
    assert keyed_hash_generations(k1 + k2 + k3, "a@b.example", "suppress") == [
        first, h(k2, first.encode()), h(k3, h(k2, first.encode()).encode())]
    # a hash kept from generation 1 (an earlier plan's body) is carried to the current generation
    assert h(k3, h(k2, first.encode()).encode()) in forward_forms(k1 + k2 + k3, [first])
    # ...and one from generation 2 too
    assert h(k3, h(k2, first.encode()).encode()) in forward_forms(k1 + k2 + k3, [h(k2, first.encode())])
    # an old generation alone cannot produce the current hash
    assert keyed_hash(k1, "a@b.example", "suppress") != keyed_hash(k1 + k2, "a@b.example", "suppress")


def test_fingerprints_name_keys_without_revealing_them():
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    assert fingerprint(k1) == hashlib.sha256(b"privacyops-workspace-key\x00" + k1).hexdigest()[:16]
    assert fingerprint(k1) != fingerprint(k2) != fingerprint(k1 + k2)
    assert k1.hex()[:16] not in fingerprint(k1)


def test_pseudonyms_stay_the_same_across_rotations():
    k1, k2 = secrets.token_bytes(32), secrets.token_bytes(32)
    expected = "ps-" + h(k1, b"mask\x00Janis")[:16]
    assert pseudonym(k1, "Janis") == pseudonym(k1 + k2, "Janis") == expected


def _keys(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "workspace.key").write_bytes(secrets.token_bytes(64))
    (keys / "signing.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")
    (keys / ".workspace.key.123.tmp").write_bytes(b"half")  # a write in progress is not backed up
    return keys


def test_backup_round_trip_is_private_and_sealed(tmp_path):
    keys = _keys(tmp_path)
    out = tmp_path / "keys.backup"
    assert write_backup(keys, out, "correct horse battery") == ["signing.key", "workspace.key"]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    data = out.read_bytes()
    assert (keys / "workspace.key").read_bytes() not in data and b"PRIVATE KEY" not in data
    assert header_of(data)["workspace_key"] == hashlib.sha256(
        b"privacyops-workspace-key\x00" + (keys / "workspace.key").read_bytes()).hexdigest()[:16]
    got = open_backup(out, "correct horse battery")
    assert got == {n: (keys / n).read_bytes() for n in ("signing.key", "workspace.key")}


def test_backup_refusals(tmp_path):
    keys = _keys(tmp_path)
    out = tmp_path / "keys.backup"
    write_backup(keys, out, "correct horse battery")
    before = out.read_bytes()
    with pytest.raises(WorkspaceKeyError, match="already exists: a backup never overwrites"):
        write_backup(keys, out, "another passphrase")
    assert out.read_bytes() == before
    with pytest.raises(WorkspaceKeyError, match="does not exist: there are no keys to back up"):
        write_backup(tmp_path / "nokeys", tmp_path / "b2", "correct horse battery")
    with pytest.raises(WorkspaceKeyError, match="does not exist: create the folder"):
        write_backup(keys, tmp_path / "missing" / "b3", "correct horse battery")
    with pytest.raises(WorkspaceKeyError, match="too short"):
        write_backup(keys, tmp_path / "b4", "short")
    assert not (tmp_path / "b4").exists()
    with pytest.raises(WorkspaceKeyError, match="wrong passphrase, or the file was damaged"):
        open_backup(out, "wrong horse battery")
    tampered = bytearray(before)
    tampered[-5] ^= 1
    (tmp_path / "tampered").write_bytes(bytes(tampered))
    with pytest.raises(WorkspaceKeyError, match="wrong passphrase, or the file was damaged"):
        open_backup(tmp_path / "tampered", "correct horse battery")
    (tmp_path / "notabackup").write_bytes(b"hello\n")
    with pytest.raises(WorkspaceKeyError, match="not a privacyops key backup"):
        open_backup(tmp_path / "notabackup", "correct horse battery")
