"""A person's key file: created owner-only outside any workspace, never overwritten, refused when others can read
it; the public key line an admin registers; the acting name (current_actor) before and after the registry proves
it."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacyops.cli import main
from privacyops.errors import IdentityError
from privacyops.workspace import current_actor
from privacyops.workspace.person import (
    KEY_ENV,
    forget_proven,
    init_person_key,
    load_person_key,
    parse_public_key,
    remember_proven,
    verify,
)


def test_init_writes_an_owner_only_key_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "keys" / "ana.key"
    key = init_person_key("Ana Ozola", path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["name"] == "Ana Ozola" and doc["public_key"] == key.public_key
    # ground truth: the private bytes in the file derive the public key on the line
    priv = Ed25519PrivateKey.from_private_bytes(base64.b64decode(doc["private_key"]))
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert parse_public_key(key.public_key) == raw
    import hashlib

    assert key.key_id == hashlib.sha256(raw).hexdigest()[:16]
    before = path.read_bytes()
    with pytest.raises(IdentityError, match="never overwritten"):
        init_person_key("Someone Else", path)
    assert path.read_bytes() == before


def test_init_refuses_a_path_inside_a_workspace(mini_ws):
    with pytest.raises(IdentityError, match="outside every workspace"):
        init_person_key("ana", mini_ws.root / "keys" / "ana.key")
    assert not (mini_ws.root / "keys" / "ana.key").exists()


def test_a_key_others_can_read_is_refused(tmp_path):
    key = init_person_key("ana", tmp_path / "ana.key")
    os.chmod(key.path, 0o644)
    with pytest.raises(IdentityError, match="chmod 600"):
        load_person_key(key.path)
    os.chmod(key.path, 0o600)
    assert load_person_key(key.path).key_id == key.key_id


def test_missing_key_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "none.key"))
    assert load_person_key(required=False) is None
    with pytest.raises(IdentityError, match="privacyops person init --name NAME"):
        load_person_key()


def test_signatures_verify_only_unchanged(tmp_path):
    key = init_person_key("ana", tmp_path / "ana.key")
    payload = {"purpose": "x", "plan_id": "P1", "plan_hash": "ab"}
    sig = key.sign(payload)
    assert verify(key.public_raw, payload, sig)
    assert not verify(key.public_raw, {**payload, "plan_id": "P2"}, sig)
    other = init_person_key("eve", tmp_path / "eve.key")
    assert not verify(other.public_raw, payload, sig)


def test_current_actor_is_the_registered_name_once_proven(tmp_path, monkeypatch):
    key = init_person_key("name in the file", tmp_path / "ana.key")
    monkeypatch.setenv(KEY_ENV, str(key.path))
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "claimed")
    forget_proven()
    assert current_actor() == "claimed"  # not proven: as before
    remember_proven(key.key_id, "Ana (registered)")
    try:
        assert current_actor() == "Ana (registered)"
        monkeypatch.setenv(KEY_ENV, str(tmp_path / "other.key"))  # another key in place: not proven
        assert current_actor() == "claimed"
    finally:
        forget_proven()


def test_cli_person_init_prints_the_public_key_line(tmp_path):
    out = tmp_path / "me.key"
    res = CliRunner().invoke(main, ["person", "init", "--name", "Ana", "--out", str(out)])
    assert res.exit_code == 0, res.output
    key = load_person_key(out)
    assert key.public_key in res.output and key.key_id in res.output
    assert "privacyops person register Ana" in res.output
    res = CliRunner().invoke(main, ["person", "init", "--name", "Ana", "--out", str(out)])
    assert res.exit_code == 7 and "never overwritten" in res.output
