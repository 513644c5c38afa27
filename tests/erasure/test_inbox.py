"""The approval inbox (`erasure_inbox`, `allowed_actions`) on a copy of the small demo, with plans by three people
in every status. Expectations come from SQL on the ledger file (statuses, preparers, the actions in each plan's
stored body), never from the inbox itself; `allowed_actions` is checked against what the engine then does."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import pytest

from privacyops.demo import STORIES
from privacyops.erasure import (
    ErasureError,
    allowed_actions,
    approve_plan,
    cancel_plan,
    erasure_inbox,
    execute_plan,
    plan_erasure,
)
from privacyops.ledger import open_case
from privacyops.map.model import Roles
from privacyops.workspace import open_workspace, sealing
from privacyops.workspace.keys import workspace_secret


def lq(ws, sql, params=()):
    """Rows from the ledger file, read with DuckDB directly (closed again before privacyops opens it)."""
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return [r[0] if len(r) == 1 else r for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def plan_as(ws, monkeypatch, actor, subject, **kw):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", actor)
    case = open_case(ws, "erasure", dt.date.today())
    return plan_erasure(ws, case.case_id, subject["email"], **kw).plan_id


@pytest.fixture()
def plans(demo, monkeypatch):
    """Six plans: alice's planned and cancelled, bob's planned, approved and preview (dated later), carol's failed
    (set in the ledger: how a plan fails is test_erasure_failures'), and one executed by alice after dave
    approved it."""
    ws = demo
    p = {
        "alice_planned": plan_as(ws, monkeypatch, "alice", STORIES["two_emails"]),
        "alice_cancelled": plan_as(ws, monkeypatch, "alice", STORIES["closed"]),
        "bob_planned": plan_as(ws, monkeypatch, "bob", STORIES["withdrawn"]),
        "bob_approved": plan_as(ws, monkeypatch, "bob", STORIES["family_a"], pick="crm.customers:3"),
        "bob_preview": plan_as(ws, monkeypatch, "bob", STORIES["name_variant"],
                               as_of=dt.date.today() + dt.timedelta(days=400)),
        "carol_failed": plan_as(ws, monkeypatch, "carol", STORIES["family_b"], pick="crm.customers:4"),
        "alice_done": plan_as(ws, monkeypatch, "alice", STORIES["invited"]),
    }
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    approve_plan(ws, p["bob_approved"])
    cancel_plan(ws, p["alice_cancelled"], "asked twice")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "dave")
    approve_plan(ws, p["alice_done"])
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    assert execute_plan(ws, p["alice_done"]).ok
    con = duckdb.connect(str(ws.ledger_path))
    con.execute("UPDATE erasure_plans SET status = 'failed' WHERE plan_id = ?", [p["carol_failed"]])
    con.close()
    return p


def expected(ws, actor):
    """The four lists, by SQL on the ledger (newest first)."""
    order = " ORDER BY prepared_at DESC, plan_id"
    return {
        "awaiting_approval": lq(ws, "SELECT plan_id FROM erasure_plans WHERE status = 'planned' AND prepared_by <> ?"
                                + order, [actor]),
        "mine": lq(ws, "SELECT plan_id FROM erasure_plans WHERE prepared_by = ?" + order, [actor]),
        "to_execute": lq(ws, "SELECT plan_id FROM erasure_plans WHERE status IN ('approved', 'executing')" + order),
        "failed": lq(ws, "SELECT plan_id FROM erasure_plans WHERE status = 'failed'" + order),
    }


@pytest.mark.slow
def test_who_sees_what(demo, plans):
    ws = demo
    assert lq(ws, "SELECT count(*) FROM erasure_plans") == [len(plans)]
    statuses = dict(lq(ws, "SELECT plan_id, status FROM erasure_plans"))
    assert statuses[plans["bob_preview"]] == "preview" and statuses[plans["alice_done"]] == "done"

    for actor in ("alice", "bob", "carol", "erin"):
        inbox = erasure_inbox(ws, actor)
        got = {k: [p.plan_id for p in getattr(inbox, k)] for k in ("awaiting_approval", "mine", "to_execute",
                                                                    "failed")}
        assert got == expected(ws, actor), actor
        assert inbox.actor == actor

    alice, bob = erasure_inbox(ws, "alice"), erasure_inbox(ws, "bob")
    # Nobody is asked to approve their own plan; a preview (a later day) is never asked for at all.
    assert [p.plan_id for p in alice.awaiting_approval] == [plans["bob_planned"]]
    assert [p.plan_id for p in bob.awaiting_approval] == [plans["alice_planned"]]
    assert {p.plan_id for p in alice.mine} == {plans["alice_planned"], plans["alice_cancelled"],
                                                   plans["alice_done"]}
    assert {p.plan_id: p.status for p in bob.mine}[plans["bob_preview"]] == "preview"
    assert [p.plan_id for p in alice.to_execute] == [plans["bob_approved"]]
    assert [(p.plan_id, p.approved_by) for p in bob.to_execute] == [(plans["bob_approved"], "alice")]
    assert [p.plan_id for p in erasure_inbox(ws, "erin").failed] == [plans["carol_failed"]]
    assert erasure_inbox(ws, "erin").mine == []


@pytest.mark.slow
def test_rows_carry_the_ledger_columns_and_counts(demo, plans):
    ws = demo
    inbox = erasure_inbox(ws, "alice")
    items = {p.plan_id: p for p in inbox.mine + inbox.to_execute + inbox.awaiting_approval}
    assert len(items) == 5
    for pid, item in items.items():
        case_id, kind, status, prepared_by, approved_by, as_of = lq(
            ws, "SELECT case_id, kind, status, prepared_by, approved_by, as_of FROM erasure_plans WHERE plan_id = ?",
            [pid])[0]
        assert (item.case_id, item.kind, item.status, item.prepared_by, item.approved_by, item.as_of) == (
            case_id, kind, status, prepared_by, approved_by, as_of)
        # The counts per action, from the plan body stored in the ledger (sealed at rest: opened with the
        # workspace key), counted with DuckDB's JSON functions.
        body = sealing.open_text(workspace_secret(ws.keys_dir), sealing.PLAN_BODY,
                                 lq(ws, "SELECT body FROM erasure_plans WHERE plan_id = ?", [pid])[0])
        con = duckdb.connect()
        per = dict(con.execute("SELECT a, count(*) FROM (SELECT unnest(json_extract_string(?::JSON, "
                               "'$.rows[*].action')) AS a) GROUP BY a", [body]).fetchall())
        con.close()
        assert (item.delete, item.mask, item.keep, item.blocked) == (
            per.get("delete", 0), per.get("mask", 0), per.get("retain", 0), per.get("blocked", 0)), pid
    janis = items[plans["alice_planned"]]
    assert janis.delete > 0 and janis.keep > 0  # invoices kept for the accounting law
    # Another process (a second JupyterLab) opening the same workspace sees the same inbox.
    again = erasure_inbox(open_workspace(ws.root), "alice")
    assert again == inbox


@pytest.mark.slow
def test_mine_is_limited_to_the_newest(demo, plans):
    newest = lq(demo, "SELECT plan_id FROM erasure_plans WHERE prepared_by = 'alice' ORDER BY prepared_at DESC")
    assert [p.plan_id for p in erasure_inbox(demo, "alice", mine_limit=2).mine] == newest[:2]


@pytest.mark.slow
def test_allowed_actions_agree_with_the_engine(demo, plans, monkeypatch):
    ws = demo
    status = dict(lq(ws, "SELECT plan_id, status FROM erasure_plans"))
    by = dict(lq(ws, "SELECT plan_id, prepared_by FROM erasure_plans"))

    def allowed(name, actor):
        return allowed_actions(ws, status[plans[name]], by[plans[name]], actor)

    mine = allowed("alice_planned", "alice")
    assert mine.approve == ("you prepared this plan; another person approves it (the approver must differ from "
                            "the preparer)")
    assert "not approved yet" in mine.execute and mine.cancel is None and "only a failed plan" in mine.retry
    other = allowed("alice_planned", "bob")
    assert other.approve is None and other.execute is not None
    assert allowed("bob_approved", "alice").execute is None and allowed("bob_approved", "bob").approve
    failed = allowed("carol_failed", "alice")
    assert failed.retry is None and failed.cancel is None and "Retry" in failed.execute and failed.approve
    done = allowed("alice_done", "bob")
    assert all("already executed" in why for why in (done.approve, done.execute, done.cancel, done.retry))
    cancelled = allowed("alice_cancelled", "bob")
    assert cancelled.approve and cancelled.execute and cancelled.cancel and cancelled.retry
    preview = allowed("bob_preview", "alice")
    assert "preview" in preview.approve and "preview" in preview.execute and preview.cancel is None

    # The engine agrees: alice may not approve her own plan; bob may, and then it is alice's to execute.
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    with pytest.raises(ErasureError):
        approve_plan(ws, plans["alice_planned"])
    with pytest.raises(ErasureError):
        approve_plan(ws, plans["bob_preview"])
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plans["alice_planned"])
    assert lq(ws, "SELECT status, approved_by FROM erasure_plans WHERE plan_id = ?",
              [plans["alice_planned"]]) == [("approved", "bob")]
    assert allowed_actions(ws, "approved", "alice", "alice").execute is None
    assert plans["alice_planned"] in [p.plan_id for p in erasure_inbox(ws, "alice").to_execute]
    assert plans["alice_planned"] not in [p.plan_id for p in erasure_inbox(ws, "carol").awaiting_approval]


def test_roles_and_four_eyes_off(demo):
    ws = demo
    ws.datamap = dataclasses.replace(ws.datamap, roles=Roles(approvers=("carol",)))
    assert "only carol may approve" in allowed_actions(ws, "planned", "alice", "bob").approve
    assert allowed_actions(ws, "planned", "alice", "carol").approve is None
    ws.datamap = dataclasses.replace(ws.datamap, roles=Roles(),
                                     settings=dataclasses.replace(ws.datamap.settings, four_eyes=False))
    solo = allowed_actions(ws, "planned", "alice", "alice")
    assert solo.approve is None and solo.execute is None  # without four-eyes the preparer may run it


def test_no_ledger_yet_is_an_empty_inbox(demo):
    assert not demo.ledger_path.exists()
    inbox = erasure_inbox(demo, "alice")
    assert inbox.empty and inbox.actor == "alice"
