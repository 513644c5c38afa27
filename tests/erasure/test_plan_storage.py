"""How a plan is stored: its body (the canonical JSON text its hash is over) sealed at rest, packed (zlib) when it
is long; plans stored before packing (sealed or clear) still load, approve and verify; a packed body altered or
damaged is refused. Expectations come from the stored text itself (unsealed here, hashed here)."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import pytest

from privacyops.erasure import ErasureError, approve_plan, erasure_inbox, load_plan, plan_erasure
from privacyops.errors import SealingError
from privacyops.ledger import open_case, open_ledger
from privacyops.workspace import open_workspace, sealing
from privacyops.workspace.keys import workspace_secret
from tests.support.mini import erase_map


@pytest.fixture()
def ews(mini_ws):
    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    return open_workspace(mini_ws.root)


def planned(ws, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, "M-001", as_of="2026-11-15")


def stored(ws, plan_id: str) -> str:
    with open_ledger(ws) as con:
        return con.execute("SELECT body FROM erasure_plans WHERE plan_id = ?", [plan_id]).fetchone()[0]


def store(ws, plan_id: str, body: str) -> None:
    with open_ledger(ws) as con:
        con.execute("UPDATE erasure_plans SET body = ? WHERE plan_id = ?", [body, plan_id])


def test_pack_keeps_short_texts_and_packs_long_ones(monkeypatch):
    assert sealing.pack('{"a":1}') == '{"a":1}'
    assert sealing.unpack('{"a":1}') == '{"a":1}'
    long = json.dumps({"rows": [{"reason": "erasure policy: delete", "n": i} for i in range(40_000)]})
    packed = sealing.pack(long)
    assert len(long) > sealing.PACK_OVER and packed.startswith(sealing.PACKED) and len(packed) < len(long) / 5
    assert zlib.decompress(base64.b64decode(packed[len(sealing.PACKED):])).decode() == long
    assert sealing.unpack(packed) == long
    with pytest.raises(SealingError, match="damaged"):
        sealing.unpack(packed[:-40])


def test_a_long_plan_is_stored_packed_and_sealed_and_loads_and_approves(ews, monkeypatch):
    monkeypatch.setattr(sealing, "PACK_OVER", 10)  # this small plan counts as long
    plan = planned(ews, monkeypatch)
    secret = workspace_secret(ews.keys_dir)
    token = stored(ews, plan.plan_id)
    inner = sealing.unseal(secret, sealing.PLAN_BODY, token).decode()
    assert inner.startswith(sealing.PACKED)
    text = zlib.decompress(base64.b64decode(inner[len(sealing.PACKED):])).decode()
    assert hashlib.sha256(text.encode()).hexdigest() == plan.plan_hash  # the canonical text, byte for byte
    assert json.loads(text)["rows"] and sealing.open_text(secret, sealing.PLAN_BODY, token) == text
    assert load_plan(ews, plan.plan_id).plan_hash == plan.plan_hash
    listed = erasure_inbox(ews, "bob").awaiting_approval  # the inbox counts the rows of the packed body
    rows = json.loads(text)["rows"]
    assert [(p.plan_id, p.delete, p.keep) for p in listed] == [
        (plan.plan_id, sum(r["action"] == "delete" for r in rows), sum(r["action"] == "retain" for r in rows))]
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approved = approve_plan(ews, plan.plan_id)
    assert approved.status == "approved" and approved.approved_by == "bob"
    again = load_plan(ews, plan.plan_id)
    assert (again.status, again.approved_by, again.approved_at, again.signatures) == (
        approved.status, approved.approved_by, approved.approved_at, approved.signatures)
    assert [r.to_dict() for r in again.rows] == [r.to_dict() for r in plan.rows]


@pytest.mark.parametrize("sealed", [True, False])
def test_a_plan_stored_before_packing_still_loads(ews, monkeypatch, sealed):
    plan = planned(ews, monkeypatch)
    secret = workspace_secret(ews.keys_dir)
    text = sealing.open_text(secret, sealing.PLAN_BODY, stored(ews, plan.plan_id))
    assert not text.startswith(sealing.PACKED)
    store(ews, plan.plan_id, sealing.seal_text(secret, sealing.PLAN_BODY, text) if sealed else text)
    assert load_plan(ews, plan.plan_id).compute_hash() == plan.plan_hash
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    assert approve_plan(ews, plan.plan_id).status == "approved"


def test_a_packed_body_altered_is_refused(ews, monkeypatch):
    monkeypatch.setattr(sealing, "PACK_OVER", 10)
    plan = planned(ews, monkeypatch)
    secret = workspace_secret(ews.keys_dir)
    text = sealing.open_text(secret, sealing.PLAN_BODY, stored(ews, plan.plan_id))
    assert '"action":"retain"' in text
    store(ews, plan.plan_id, sealing.seal_text(secret, sealing.PLAN_BODY,
                                               sealing.pack(text.replace('"action":"retain"', '"action":"delete"'))))
    with pytest.raises(ErasureError, match="altered"):
        load_plan(ews, plan.plan_id)
