"""The people registry: bootstrap (the first registration is your own key, as admin), admin-only registration and
revocation afterwards, audited and signed; the acting person's refusals (no key, unknown key, revoked, missing
role, a forged PRIVACYOPS_ACTOR); the CLI. Expectations come from SQL on the ledger and from the key files."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.errors import IdentityError
from privacyops.ledger import add_hold, audit, release_hold
from privacyops.ledger.people import (
    ADMIN,
    PREPARER,
    acting_person,
    register_person,
    registry_empty,
    revoke_person,
    signature_payload,
)
from privacyops.workspace import current_actor
from privacyops.workspace.person import verify
from tests.support.people import act_as, make_key, register_team


def ledger_rows(ws, sql, params=()):
    ws.close()
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_bootstrap_is_your_own_key_as_admin(mini_ws, tmp_path, monkeypatch):
    dpo, alice = make_key(tmp_path / "p", "dpo"), make_key(tmp_path / "p", "alice")
    act_as(monkeypatch, dpo)
    assert acting_person(mini_ws, PREPARER, action="x") is None  # nobody registered: unproven, as before
    with pytest.raises(IdentityError, match="must be your own key"):
        register_person(mini_ws, "alice", alice.public_key, "admin")
    with pytest.raises(IdentityError, match="first person registered is an admin"):
        register_person(mini_ws, "dpo", dpo.public_key, "approver")
    assert registry_empty(mini_ws)
    p = register_person(mini_ws, "Data Protection Officer", dpo.public_key, "approver,admin")
    assert p.roles == ("approver", "admin") and p.registered_by == "Data Protection Officer"
    rows = ledger_rows(mini_ws, "SELECT name, key_id, public_key, roles, revoked_at FROM people")
    assert rows == [("Data Protection Officer", dpo.key_id, dpo.public_key, "approver,admin", None)]
    assert current_actor() == "Data Protection Officer"  # the registry's name, not the OS user or the variable
    entry = audit.entries(mini_ws, action="person.register")[-1]
    assert entry.actor == "Data Protection Officer" and entry.details["bootstrap"] is True
    sig = entry.details["signature"]
    payload = signature_payload("person.register", "Data Protection Officer", dpo.key_id,
                                registered="Data Protection Officer", registered_key_id=dpo.key_id,
                                roles="approver,admin", db_role=None)
    assert verify(dpo.public_raw, payload, sig["sig"])


def test_only_an_admin_registers_and_revokes(mini_ws, tmp_path, monkeypatch):
    keys = register_team(mini_ws, tmp_path / "p", monkeypatch)
    eve = make_key(tmp_path / "p", "eve")
    act_as(monkeypatch, keys["alice"])
    with pytest.raises(IdentityError, match="alice may not register people: that needs the role admin"):
        register_person(mini_ws, "eve", eve.public_key, "preparer")
    with pytest.raises(IdentityError, match="may not revoke people"):
        revoke_person(mini_ws, "bob")
    act_as(monkeypatch, eve)  # not registered at all
    with pytest.raises(IdentityError, match=f"your key {eve.key_id} .* is not registered"):
        register_person(mini_ws, "eve", eve.public_key, "admin")
    assert ledger_rows(mini_ws, "SELECT count(*) FROM people WHERE key_id = ?", [eve.key_id]) == [(0,)]
    act_as(monkeypatch, keys["dpo"])
    register_person(mini_ws, "eve", eve.public_key, "preparer")
    revoked = revoke_person(mini_ws, "bob", reason="left the company")
    assert [p.key_id for p in revoked] == [keys["bob"].key_id]
    rows = ledger_rows(mini_ws, "SELECT name, revoked_by FROM people WHERE revoked_at IS NOT NULL")
    assert rows == [("bob", "dpo")]
    with pytest.raises(IdentityError, match="would leave no active admin"):
        revoke_person(mini_ws, "dpo")
    act_as(monkeypatch, keys["bob"])
    with pytest.raises(IdentityError, match="was revoked on"):
        acting_person(mini_ws, "approver", action="approve")
    actions = [e.action for e in audit.entries(mini_ws) if e.action.startswith("person.")]
    assert actions == ["person.register"] * 5 + ["person.revoke"]


def test_acting_refusals_say_what_to_do(mini_ws, tmp_path, monkeypatch):
    keys = register_team(mini_ws, tmp_path / "p", monkeypatch)
    act_as(monkeypatch, None)
    with pytest.raises(IdentityError, match="no person key at .*privacyops person init"):
        acting_person(mini_ws, PREPARER, action="prepare")
    act_as(monkeypatch, keys["bob"])
    with pytest.raises(IdentityError, match="bob may not prepare: that needs the role preparer"):
        acting_person(mini_ws, PREPARER, action="prepare")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")  # forged: bob's key, alice's name
    with pytest.raises(IdentityError, match="PRIVACYOPS_ACTOR is set to 'alice'.*registered as 'bob'"):
        acting_person(mini_ws, "approver", action="approve")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")  # the same name: allowed
    assert acting_person(mini_ws, "approver", action="approve").name == "bob"


def test_holds_are_signed_and_releasing_needs_an_approver(mini_ws, tmp_path, monkeypatch):
    keys = register_team(mini_ws, tmp_path / "p", monkeypatch)
    act_as(monkeypatch, keys["alice"])
    hold = add_hold(mini_ws, reason="litigation 2026-C-1", owner="legal", dataset=next(iter(mini_ws.datamap.datasets)))
    assert hold.created_by == "alice"
    entry = audit.entries(mini_ws, action="hold.add")[-1]
    assert entry.actor == "alice" and entry.details["signature"]["key_id"] == keys["alice"].key_id
    with pytest.raises(IdentityError, match="alice may not release hold"):
        release_hold(mini_ws, hold.hold_id)
    act_as(monkeypatch, keys["bob"])
    assert release_hold(mini_ws, hold.hold_id).released_by == "bob"
    sig = audit.entries(mini_ws, action="hold.release")[-1].details["signature"]
    assert verify(keys["bob"].public_raw, signature_payload("hold.release", "bob", keys["bob"].key_id,
                                                            hold_id=hold.hold_id), sig["sig"])


def test_cli_register_list_whoami_revoke(mini_ws, tmp_path, monkeypatch):
    dpo, ana = make_key(tmp_path / "p", "dpo"), make_key(tmp_path / "p", "ana")
    act_as(monkeypatch, dpo)
    w = ["--workspace", str(mini_ws.root)]
    run = (lambda *a: CliRunner().invoke(main, [*a, *w]))
    res = run("check", "--no-live")
    assert "identity not proven (no people registered)" in res.output
    res = run("person", "register", "dpo", dpo.public_key, "--roles", "admin,approver")
    assert res.exit_code == 0, res.output
    res = run("person", "register", "ana", ana.public_key, "--roles", "preparer", "--db-role", "ana_role")
    assert res.exit_code == 0 and "database role ana_role" in res.output
    res = run("person", "list", "--json")
    listed = {p["name"]: p for p in json.loads(res.output)}
    assert listed["ana"]["roles"] == ["preparer"] and listed["dpo"]["key_id"] == dpo.key_id
    act_as(monkeypatch, ana)
    res = run("person", "whoami", "--json")
    assert json.loads(res.output)["name"] == "ana" and json.loads(res.output)["status"] == "registered"
    res = run("person", "revoke", "dpo")
    assert res.exit_code == 7 and "may not revoke people" in res.output
    assert "identity not proven" not in run("check", "--no-live").output
    res = run("person", "grants")
    assert 'GRANT UPDATE (status, executed_by' in res.output and '"ana_role"' in res.output
    assert "approved_by" not in res.output  # ana is no approver: her role never gets the approval columns
    assert ADMIN not in [r for p in listed.values() if p["name"] == "ana" for r in p["roles"]]


@pytest.mark.slow
def test_postgres_ledger_db_roles_and_grants(mini_ws, tmp_path, monkeypatch, postgres_dsn):
    """A shared ledger: the session user must be the acting person's db_role, and with `person grants` applied the
    server itself denies an analyst's direct UPDATE of the approval columns and of the people table, while the
    analyst's and the approver's work goes through (plan, approve, execute)."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    from privacyops.erasure import approve_plan, execute_plan, plan_erasure
    from privacyops.ledger import open_case
    from privacyops.ledger.people import grants_sql
    from privacyops.workspace import open_workspace
    from tests.support import pg as pgserver
    from tests.support.mini import erase_map

    owner = pgserver.create_database(postgres_dsn, "people")
    tag = owner.rsplit("_", 1)[-1][:8]
    analyst_role, dpo_role = f"analyst_{tag}", f"dpo_{tag}"
    with pgserver.connect(owner) as con:
        con.execute(f'CREATE ROLE "{analyst_role}" LOGIN')
        con.execute(f'CREATE ROLE "{dpo_role}" LOGIN')
    as_role = (lambda role: make_conninfo(owner, user=role))
    (mini_ws.root / "privacyops.yaml").write_text(erase_map() + "ledger: {kind: postgres, dsn_env: TEAM_LEDGER_DSN}\n")
    ws = open_workspace(mini_ws.root)
    monkeypatch.setenv("TEAM_LEDGER_DSN", owner)
    dpo, alice = make_key(tmp_path / "p", "dpo"), make_key(tmp_path / "p", "alice")
    act_as(monkeypatch, dpo)
    register_person(ws, "dpo", dpo.public_key, "admin,approver", db_role=dpo_role)  # bootstrap, by the owner
    with pytest.raises(IdentityError, match=f"works as the database role '{dpo_role}', but the ledger connection "
                                            f"is 'postgres'"):
        register_person(ws, "alice", alice.public_key, "preparer", db_role=analyst_role)

    def apply_grants():
        with pgserver.connect(owner) as con:
            con.execute(grants_sql(ws))

    apply_grants()
    monkeypatch.setenv("TEAM_LEDGER_DSN", as_role(dpo_role))
    register_person(ws, "alice", alice.public_key, "preparer", db_role=analyst_role)
    apply_grants()  # again, now that alice names a role
    act_as(monkeypatch, alice)
    with pytest.raises(IdentityError, match=f"works as the database role '{analyst_role}'"):
        acting_person(ws, PREPARER, action="prepare")  # alice's key over the DPO's connection
    monkeypatch.setenv("TEAM_LEDGER_DSN", as_role(analyst_role))
    case_id = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, case_id, "M-001", as_of="2026-11-15")
    with pgserver.connect(as_role(analyst_role)) as con:  # the analyst goes around privacyops: the server says no
        for sql in ("UPDATE erasure_plans SET approved_by = 'dpo', status = 'approved'",
                    "UPDATE people SET roles = 'preparer,approver,admin'",
                    ("INSERT INTO people (key_id, name, public_key, roles, registered_by, registered_at) VALUES "
                     "('x', 'x', 'x', 'admin', 'x', now())"),
                    "UPDATE audit_log SET actor = 'someone'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(sql)
    with pgserver.connect(owner) as con:  # ground truth: nothing changed
        assert con.execute("SELECT status, approved_by FROM erasure_plans").fetchall() == [("planned", None)]
        assert con.execute("SELECT name, roles FROM people ORDER BY name").fetchall() == [
            ("alice", "preparer"), ("dpo", "approver,admin")]
    act_as(monkeypatch, dpo)
    monkeypatch.setenv("TEAM_LEDGER_DSN", as_role(dpo_role))
    approve_plan(ws, plan.plan_id)
    act_as(monkeypatch, alice)
    monkeypatch.setenv("TEAM_LEDGER_DSN", as_role(analyst_role))
    assert execute_plan(ws, plan.plan_id).ok
    with pgserver.connect(owner) as con:
        assert con.execute("SELECT status, approved_by, executed_by FROM erasure_plans").fetchall() == [
            ("done", "dpo", "alice")]


def test_rectification_is_applied_by_a_registered_preparer_and_signed(mini_ws, tmp_path, monkeypatch):
    from privacyops.ledger import open_case
    from privacyops.rectify import apply_rectification, plan_rectification

    keys = register_team(mini_ws, tmp_path / "p", monkeypatch)
    act_as(monkeypatch, keys["bob"])  # an approver, not a preparer
    case_id = open_case(mini_ws, "rectification", "2026-11-10").case_id
    plan = plan_rectification(mini_ws, case_id, "janis@mini.example", changes={"people.person.tel": "+371 2999 0000"})
    with pytest.raises(IdentityError, match="bob may not apply a rectification"):
        apply_rectification(mini_ws, plan)
    act_as(monkeypatch, keys["alice"])
    apply_rectification(mini_ws, plan)
    mini_ws.close()
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"), read_only=True)
    try:
        pid = con.execute("SELECT pid FROM people.person WHERE lower(trim(mail)) = 'janis@mini.example'").fetchone()[0]
        assert con.execute("SELECT tel FROM people.person WHERE pid = ?", [pid]).fetchone()[0] == "+371 2999 0000"
    finally:
        con.close()
    entry = audit.entries(mini_ws, action="rectify")[-1]
    assert entry.actor == "alice"
    payload = signature_payload("rectify.apply", "alice", keys["alice"].key_id, case_id=case_id,
                                planned_at=plan.planned_at, map_fingerprint=plan.map_fingerprint,
                                changes=len(plan.changes))
    assert verify(keys["alice"].public_raw, payload, entry.details["signature"]["sig"])


def test_demo_people_have_keys_beside_the_workspace_and_are_registered(mini_ws, monkeypatch):
    import stat

    from privacyops.demo import DEMO_PEOPLE, register_demo_people

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "someone")  # left in the shell: not taken as a claim by the generator
    paths = register_demo_people(mini_ws.root)
    assert {p.parent for p in paths.values()} == {mini_ws.root.parent / f"{mini_ws.root.name}-people"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths.values())
    rows = dict(ledger_rows(mini_ws, "SELECT name, roles FROM people"))
    assert rows == {name: roles for name, roles in DEMO_PEOPLE.values()}
    assert register_demo_people(mini_ws.root) == paths  # a second run reuses the keys, registers nobody twice
    assert len(ledger_rows(mini_ws, "SELECT key_id FROM people")) == 2


def test_confirm_person_names_the_key_in_place_for_display(mini_ws, tmp_path, monkeypatch):
    from privacyops.ledger.people import confirm_person

    assert confirm_person(mini_ws) is None  # nobody registered
    keys = register_team(mini_ws, tmp_path / "p", monkeypatch)
    act_as(monkeypatch, keys["bob"])
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "mallory")
    assert current_actor() == "mallory"  # not confirmed yet in this process: the unproven name
    assert confirm_person(mini_ws) == "bob" and current_actor() == "bob"
    act_as(monkeypatch, make_key(tmp_path / "p", "eve"))  # unregistered: nothing to show, nothing raised
    assert confirm_person(mini_ws) is None
