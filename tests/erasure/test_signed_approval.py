"""Four-eyes as a control: with registered people the preparer, approver and executor sign; self-approval is refused
even with PRIVACYOPS_ACTOR forged; execution refuses an approval by an unregistered or revoked key and an approval
row written straight into the ledger; the certificate carries the signatures and `certificate verify` checks them
offline (and fails, saying what, when a signature or the approver's name is altered). Without registered people
everything works as before and says the identity is not proven. Ground truth: SQL on the data and the ledger."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import approve_plan, execute_plan, load_plan, plan_erasure, verify_certificate
from privacyops.errors import IdentityError
from privacyops.ledger import audit, open_case
from privacyops.ledger.people import NOT_PROVEN, revoke_person, signature_payload
from privacyops.workspace import open_workspace
from privacyops.workspace.person import verify
from tests.support.mini import erase_map
from tests.support.people import act_as, make_key, register_team

AS_OF = "2026-11-15"


@pytest.fixture()
def ews(mini_ws):
    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    return open_workspace(mini_ws.root)


@pytest.fixture()
def team(ews, tmp_path, monkeypatch):
    return register_team(ews, tmp_path / "people", monkeypatch)


def snapshot(ws):
    """Every row of the mini company database (SQL)."""
    ws.close()
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2").fetchall()
        return {f"{s}.{t}": sorted(map(repr, con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall())) for s, t in tables}
    finally:
        con.close()


def ledger_sql(ws, sql, params=()):
    ws.close()
    con = duckdb.connect(str(ws.ledger_path))
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def prepared(ws, monkeypatch, key):
    act_as(monkeypatch, key)
    case_id = open_case(ws, "erasure", "2026-11-10").case_id
    return plan_erasure(ws, case_id, "M-001", as_of=AS_OF)


@pytest.mark.slow
def test_signed_four_eyes_erases_and_the_certificate_names_who(ews, team, monkeypatch):
    plan = prepared(ews, monkeypatch, team["alice"])
    act_as(monkeypatch, team["bob"])
    approved = approve_plan(ews, plan.plan_id)
    assert approved.approved_by == "bob" and approved.prepared_by == "alice"
    act_as(monkeypatch, team["alice"])
    result = execute_plan(ews, plan.plan_id)
    assert result.ok and result.plan.executed_by == "alice"
    # ground truth from the ledger: the stored signatures verify with the registered keys
    row = ledger_sql(ews, "SELECT prepared_sig, approved_sig, executed_sig, plan_hash FROM erasure_plans WHERE "
                          "plan_id = ?", [plan.plan_id])[0]
    for sig_json, who, purpose in zip(row[:3], ("alice", "bob", "alice"), ("prepare", "approve", "execute")):
        sig = json.loads(sig_json)
        key = team[who]
        payload = signature_payload(f"erasure.{purpose}", who, key.key_id, plan_id=plan.plan_id, plan_hash=row[3])
        assert sig["person"] == who and verify(key.public_raw, payload, sig["sig"])
    details = {e.action: e for e in audit.entries(ews) if e.details.get("plan_id") == plan.plan_id}
    assert details["erasure.approve"].actor == "bob"
    assert details["erasure.approve"].details["signature"]["key_id"] == team["bob"].key_id
    assert details["erasure.execute"].details["signature"]["person"] == "alice"
    check = verify_certificate(result.certificate_path, ews)
    assert check.ok, check.reason
    assert "approved by bob" in check.signers and "prepared by alice" in check.signers
    assert "(different people: yes)" in check.signers
    res = CliRunner().invoke(main, ["certificate", "verify", str(result.certificate_path)])
    assert res.exit_code == 0 and "different people: yes" in res.output


def test_self_approval_refused_even_with_the_actor_variable_forged(ews, team, monkeypatch):
    plan = prepared(ews, monkeypatch, team["carol"])  # carol may prepare and approve, but not her own plan
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    with pytest.raises(IdentityError, match="PRIVACYOPS_ACTOR is set to 'bob'"):
        approve_plan(ews, plan.plan_id)
    monkeypatch.delenv("PRIVACYOPS_ACTOR")
    with pytest.raises(IdentityError, match="carol prepared plan .* cannot also approve"):
        approve_plan(ews, plan.plan_id)
    assert ledger_sql(ews, "SELECT status, approved_by FROM erasure_plans WHERE plan_id = ?",
                      [plan.plan_id]) == [("planned", None)]


def test_a_forged_approval_row_is_refused_at_execution(ews, team, monkeypatch):
    before = snapshot(ews)
    plan = prepared(ews, monkeypatch, team["alice"])
    ledger_sql(ews, "UPDATE erasure_plans SET status = 'approved', approved_by = 'bob' WHERE plan_id = ?",
               [plan.plan_id])  # what someone with write access to the ledger could do
    with pytest.raises(IdentityError, match="the approval of plan .* carries no signature"):
        execute_plan(ews, plan.plan_id)
    assert snapshot(ews) == before


def test_an_approval_relabelled_to_another_approver_is_refused(ews, team, monkeypatch):
    before = snapshot(ews)
    plan = prepared(ews, monkeypatch, team["alice"])
    act_as(monkeypatch, team["bob"])
    approve_plan(ews, plan.plan_id)
    ledger_sql(ews, "UPDATE erasure_plans SET approved_by = 'dpo' WHERE plan_id = ?", [plan.plan_id])
    act_as(monkeypatch, team["alice"])
    with pytest.raises(IdentityError, match="approved by dpo, but the approval was signed by bob"):
        execute_plan(ews, plan.plan_id)
    assert snapshot(ews) == before


def test_approvals_by_revoked_or_unregistered_keys_are_refused_at_execution(ews, team, monkeypatch, tmp_path):
    before = snapshot(ews)
    plan = prepared(ews, monkeypatch, team["alice"])
    act_as(monkeypatch, team["bob"])
    approve_plan(ews, plan.plan_id)
    act_as(monkeypatch, team["dpo"])
    revoke_person(ews, "bob")
    act_as(monkeypatch, team["alice"])
    with pytest.raises(IdentityError, match="signed by bob with key .* revoked"):
        execute_plan(ews, plan.plan_id)
    # an approval signed correctly, but with a key nobody registered, written into the ledger
    eve = make_key(tmp_path / "people", "eve")
    payload = signature_payload("erasure.approve", "eve", eve.key_id, plan_id=plan.plan_id, plan_hash=plan.plan_hash)
    forged = {"person": "eve", "key_id": eve.key_id, "public_key": eve.public_key, "sig": eve.sign(payload)}
    ledger_sql(ews, "UPDATE erasure_plans SET approved_by = 'eve', approved_sig = ? WHERE plan_id = ?",
               [json.dumps(forged), plan.plan_id])
    with pytest.raises(IdentityError, match=f"signed with key {eve.key_id}, which is not registered"):
        execute_plan(ews, plan.plan_id)
    assert snapshot(ews) == before


def test_a_plan_prepared_before_people_were_registered_does_not_run(ews, monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    case_id = open_case(ews, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ews, case_id, "M-001", as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ews, plan.plan_id)
    keys = register_team(ews, tmp_path / "people", monkeypatch)
    act_as(monkeypatch, keys["alice"])
    with pytest.raises(IdentityError, match="prepared without a signature"):
        execute_plan(ews, plan.plan_id)


@pytest.mark.slow
def test_certificate_verify_fails_when_a_signature_or_the_approver_is_altered(ews, team, monkeypatch, tmp_path):
    plan = prepared(ews, monkeypatch, team["alice"])
    act_as(monkeypatch, team["bob"])
    approve_plan(ews, plan.plan_id)
    act_as(monkeypatch, team["alice"])
    path = execute_plan(ews, plan.plan_id).certificate_path
    doc = json.loads(path.read_text())
    sig = doc["certificate"]["signatures"]["approved"]
    assert sig["public_key"] == team["bob"].public_key
    bad_sig = json.loads(json.dumps(doc))
    other = team["dpo"].sign({"anything": 1})
    bad_sig["certificate"]["signatures"]["approved"]["sig"] = other
    check = verify_certificate(bad_sig)
    assert not check.ok and "the approved signature of bob does not verify" in check.reason
    renamed = json.loads(json.dumps(doc))
    renamed["certificate"]["plan"]["approved_by"] = "dpo"
    check = verify_certificate(renamed)
    assert not check.ok and "the plan says approved by dpo, but the approved signature is bob's" in check.reason
    f = tmp_path / "renamed.json"
    f.write_text(json.dumps(renamed))
    res = CliRunner().invoke(main, ["certificate", "verify", str(f)])
    assert res.exit_code == 1 and "INVALID" in res.output and "approved by dpo" in res.output


def test_without_people_it_works_as_before_and_says_not_proven(ews, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    case_id = open_case(ews, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ews, case_id, "M-001", as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ews, plan.plan_id)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok
    cert = json.loads(result.certificate_path.read_text())["certificate"]
    assert cert["identity"] == NOT_PROVEN and cert["signatures"] == {}
    assert audit.entries(ews, action="erasure.approve")[-1].details["identity"] == NOT_PROVEN
    approved = json.loads(ledger_sql(ews, "SELECT approved_sig FROM erasure_plans WHERE plan_id = ?",
                                     [plan.plan_id])[0][0])
    assert approved == {"person": "bob", "identity": NOT_PROVEN}
    check = verify_certificate(result.certificate_path)
    assert check.ok and NOT_PROVEN in check.signers
    assert load_plan(ews, plan.plan_id).approved_by == "bob"


@pytest.mark.slow
def test_due_erasures_are_signed_by_whoever_runs_them(ews, team, monkeypatch, later_today):
    import datetime as dt

    from privacyops.erasure import erase_due

    plan = prepared(ews, monkeypatch, team["alice"])
    act_as(monkeypatch, team["bob"])
    approve_plan(ews, plan.plan_id)
    act_as(monkeypatch, team["alice"])
    execute_plan(ews, plan.plan_id)
    act_as(monkeypatch, None)  # a scheduler without a key: refused before anything
    with pytest.raises(IdentityError, match="no person key"):
        erase_due(ews, dt.date(2029, 1, 1))
    act_as(monkeypatch, team["bob"])  # an approver runs the due erasures (no second approval: the origin's)
    results = erase_due(ews, dt.date(2029, 1, 1))
    assert len(results) == 1 and results[0].ok
    ews.close()
    con = duckdb.connect(str(ews.root / "main.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM shop.orders WHERE oid = 101").fetchone()[0] == 0
    finally:
        con.close()
    check = verify_certificate(results[0].certificate_path, ews)
    assert check.ok and "prepared by bob" in check.signers and "executed by bob" in check.signers
