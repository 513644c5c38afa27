"""Erasure certificates: Ed25519-signed with the workspace key (private key owner-only in keys/), the public key
inside; any change to the content, the signature or the key is detected; another workspace's key is told apart."""

from __future__ import annotations

import base64
import copy
import json
import os
import stat

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from privacyops.cli import main
from privacyops.erasure import verify_certificate
from privacyops.erasure.certificate import canonical, sign
from privacyops.workspace import open_workspace
from privacyops.workspace.keys import SIGNING_KEY_FILE, SIGNING_PUB_FILE, key_id, public_key_raw, signing_key

CONTENT = {"type": "privacyops.erasure-certificate", "version": 1, "case_id": "DSR-2026-0001",
           "plan": {"plan_id": "ERP-1", "plan_hash": "ab" * 32}, "summary": {"totals": {"delete": 3}},
           "remaining": [{"dataset": "billing.invoices", "records": 2, "until": "2030-12-31"}]}


@pytest.fixture()
def doc(mini_ws):
    return sign(mini_ws, copy.deepcopy(CONTENT))


def test_the_key_pair_is_created_once_private_key_owner_only(mini_ws):
    key = signing_key(mini_ws.keys_dir)
    path = mini_ws.keys_dir / SIGNING_KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert (mini_ws.keys_dir / SIGNING_PUB_FILE).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = signing_key(mini_ws.keys_dir)
    assert public_key_raw(again) == public_key_raw(key)


def test_a_signed_certificate_verifies_and_names_its_key(mini_ws, doc):
    check = verify_certificate(doc, mini_ws)
    assert check.ok and check.workspace_key is True and check.plan_id == "ERP-1"
    assert check.key_id == key_id(public_key_raw(signing_key(mini_ws.keys_dir)))
    assert verify_certificate(doc).ok and verify_certificate(doc).workspace_key is None
    # The signature is over the canonical JSON of the content.
    pub = signing_key(mini_ws.keys_dir).public_key()
    pub.verify(base64.b64decode(doc["signature"]["value"]), canonical(doc["certificate"]))


@pytest.mark.parametrize("tamper, reason", [
    (lambda d: d["certificate"]["remaining"][0].update(until="2031-12-31"), "changed after it was signed"),
    (lambda d: d["certificate"]["summary"]["totals"].update(delete=4), "changed after it was signed"),
    (lambda d: d["certificate"].update(extra=True), "changed after it was signed"),
    (lambda d: d["signature"].update(value=base64.b64encode(b"x" * 64).decode()), "changed after it was signed"),
    (lambda d: d["signature"].update(value="***"), "damaged"),
    (lambda d: d["signature"].update(key_id="0" * 16), "key id"),
    (lambda d: d.pop("signature"), "not a privacyops certificate"),
    (lambda d: d["certificate"].update(type="other"), "not a privacyops erasure certificate"),
])
def test_any_tampering_fails(mini_ws, doc, tamper, reason):
    bad = copy.deepcopy(doc)
    tamper(bad)
    check = verify_certificate(bad, mini_ws)
    assert not check.ok and reason in check.reason


def test_a_swapped_key_signs_validly_but_is_not_the_workspaces(mini_ws, doc):
    other = Ed25519PrivateKey.generate()
    forged = copy.deepcopy(doc)
    forged["certificate"]["remaining"] = []
    raw = public_key_raw(other)
    forged["signature"] = {"algorithm": "Ed25519", "key_id": key_id(raw),
                           "public_key": base64.b64encode(raw).decode(),
                           "value": base64.b64encode(other.sign(canonical(forged["certificate"]))).decode()}
    check = verify_certificate(forged, mini_ws)
    assert check.ok and check.workspace_key is False  # intact, but not signed by this workspace
    assert "NOT this workspace's" in str(check)


def test_cli_verify(mini_ws, doc, tmp_path):
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(doc))
    runner = CliRunner()
    res = runner.invoke(main, ["certificate", "verify", str(path), "-w", str(mini_ws.root)])
    assert res.exit_code == 0 and "certificate valid" in res.output and "this workspace's key" in res.output
    res = runner.invoke(main, ["certificate", "verify", str(path), "--json", "-w", str(tmp_path / "nowhere")])
    assert res.exit_code == 0 and json.loads(res.output)["ok"] is True
    path.write_text(json.dumps(doc).replace("2030-12-31", "2020-12-31"))
    res = runner.invoke(main, ["certificate", "verify", str(path), "-w", str(mini_ws.root)])
    assert res.exit_code == 1 and "INVALID" in res.output
    path.write_text("{not json")
    res = runner.invoke(main, ["certificate", "verify", str(path), "-w", str(mini_ws.root)])
    assert res.exit_code == 1 and "not JSON" in res.output
    res = runner.invoke(main, ["certificate", "verify", str(tmp_path / "missing.json"), "-w", str(mini_ws.root)])
    assert res.exit_code == 2 and "cannot read" in res.output and "Traceback" not in res.output
    assert open_workspace(mini_ws.root)  # the workspace is untouched
