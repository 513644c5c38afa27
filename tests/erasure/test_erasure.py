"""Erasure (Art. 17): plans with a decision and reason per record, four-eyes approval, per-source all-or-nothing
execution, stale plans refused, interrupted runs completed, verification, the schedule and due erasures, holds,
suppression, the CLI — on the mini workspace (a DuckDB file and Parquet files), then on the demo company.

Every expectation comes from SQL against the data (or from the calendar), never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import (
    BLOCKED,
    DELETE,
    MASK,
    RETAIN,
    ErasureError,
    StalePlanError,
    approve_plan,
    erase_due,
    execute_plan,
    load_plan,
    plan_batch,
    plan_erasure,
    verify_certificate,
)
from privacyops.errors import DataMapError
from privacyops.ledger import add_hold, audit, open_case, open_ledger, release_hold, schedule
from privacyops.ledger.suppression import check as suppression_check
from privacyops.map import parse_datamap
from privacyops.workspace import open_workspace
from privacyops.workspace.keys import workspace_secret
from privacyops.workspace.sealing import PLAN_BODY, ROW_KEY, unseal
from tests.support.demo import dq
from tests.support.mini import MINI_MAP, erase_map

REPO = Path(__file__).resolve().parents[2]
D = dt.date
AS_OF = D(2026, 11, 15)


def reopen(ws, text: str | None = None):
    if text is not None:
        (ws.root / "privacyops.yaml").write_text(text)
    return open_workspace(ws.root)


@pytest.fixture()
def ews(mini_ws):
    return reopen(mini_ws, erase_map())


def actor(monkeypatch, name: str) -> None:
    monkeypatch.setenv("PRIVACYOPS_ACTOR", name)


def q(ws, sql: str, params=()):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def events(ws):
    con = duckdb.connect()
    return con.execute(f"SELECT eid, oid, ip FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}') "
                       "ORDER BY eid").fetchall()


def snapshot(ws) -> dict:
    return {t: q(ws, f"SELECT * FROM {t} ORDER BY 1") for t in
            ("people.person", "shop.orders", "shop.items", "mail.subscribers")} | {"events": events(ws)}


def case(ws) -> str:
    return open_case(ws, "erasure", "2026-11-10").case_id


def planned(ws, monkeypatch, subject="M-001", **kw):
    actor(monkeypatch, "alice")
    return plan_erasure(ws, case(ws), subject, as_of=kw.pop("as_of", AS_OF), **kw)


def approve(ws, monkeypatch, plan, who="bob"):
    actor(monkeypatch, who)
    return approve_plan(ws, plan.plan_id)


def ledger(ws, sql, params=()):
    with open_ledger(ws) as con:
        return con.execute(sql, list(params)).fetchall()


# ---------------------------------------------------------------------------------------------------------------
# Planning.


def test_plan_gives_each_record_an_action_and_its_reason(ews, monkeypatch):
    before = snapshot(ews)
    plan = planned(ews, monkeypatch)
    assert snapshot(ews) == before  # planning changes nothing
    acts = {(r.dataset, r.key): r.action for r in plan.rows}
    # Person 1: orders 100 (2020: kept through 2023-12-31, over) and 101 (2025: kept through 2028-12-31).
    assert acts == {("people.person", (1,)): DELETE, ("shop.orders", (100,)): DELETE,
                    ("shop.orders", (101,)): RETAIN, ("shop.order_events", (1000,)): DELETE,
                    ("shop.order_events", (1001,)): DELETE, ("mail.subscribers", (1,)): DELETE}
    kept = plan.row("shop.orders", (101,))
    assert kept.until == D(2028, 12, 31) and kept.due_on == D(2029, 1, 1)
    assert kept.rule == "orders" and kept.ground == "Test law s.1" and kept.restricted and kept.scheduled
    assert kept.masks == {"note": {"value": None, "strategy": "redact", "reason": "map: redact"}}  # NULL already
    assert sorted(kept.kept) == ["item_id", "oid", "ordered_at", "pid"]
    assert "Test law s.1" in kept.reason and "2028-12-31" in kept.reason
    assert "2023-12-31" in plan.row("shop.orders", (100,)).reason  # retention ended
    assert plan.counts() == {"people.person": {DELETE: 1}, "shop.orders": {DELETE: 1, RETAIN: 1},
                             "shop.order_events": {DELETE: 2}, "mail.subscribers": {DELETE: 1}}
    # Never touched, listed for review: the items (reference data), person 2's order mentioning his e-mail.
    ne = {(n.dataset, n.key, n.why.split(":")[0]) for n in plan.not_erased}
    assert ("shop.items", (10,), "not erased") in ne and ("shop.items", (11,), "not erased") in ne
    assert any(n.dataset == "shop.orders" and n.key == (102,) and "mentioning" in n.why for n in plan.not_erased)
    frame = plan.to_frame()
    assert set(frame.columns) >= {"dataset", "action", "records", "until", "why"}
    assert frame[(frame.dataset == "shop.orders") & (frame.action == RETAIN)].records.tolist() == [1]
    json.dumps(plan.to_dict())  # JSON-safe
    assert load_plan(ews, plan.plan_id).to_dict() == plan.to_dict()


def test_redact_is_applied_to_a_text_note(ews, monkeypatch):
    q_note = q(ews, "SELECT note FROM shop.orders WHERE oid = 101")[0][0]
    plan = planned(ews, monkeypatch)
    kept = plan.row("shop.orders", (101,))
    # order 101 has no note (NULL): masking leaves NULL. Order 100's note would be redacted had it been kept.
    assert q_note is None and kept.masks["note"]["value"] is None
    plan2 = planned(ews, monkeypatch, as_of=D(2023, 6, 1))  # then order 100 is still kept too
    assert plan2.row("shop.orders", (100,)).masks["note"] == {"value": "[erased]", "strategy": "redact",
                                                               "reason": "map: redact"}


def test_a_family_sharing_an_email_must_pick_and_the_other_is_never_planned(ews, monkeypatch):
    with pytest.raises(ErasureError, match="2 people match"):
        planned(ews, monkeypatch, subject="home@mini.example")
    plan = planned(ews, monkeypatch, subject=None, pick="people.person:3")
    keys = {(r.dataset, r.key) for r in plan.rows}
    assert ("people.person", (4,)) not in keys and ("shop.orders", (104,)) not in keys
    # The newsletter row under the shared address cannot be told apart: listed, not erased.
    assert any(n.dataset == "mail.subscribers" and n.key == (3,) and "shared" in n.why for n in plan.not_erased)
    assert ("mail.subscribers", (3,)) not in keys


def test_only_erasure_cases_that_are_open(ews, monkeypatch):
    actor(monkeypatch, "alice")
    access = open_case(ews, "access", "2026-11-10").case_id
    with pytest.raises(ErasureError, match="erasure case"):
        plan_erasure(ews, access, "M-001")
    with pytest.raises(Exception, match="unknown case"):
        plan_erasure(ews, "DSR-1999-0001", "M-001")


# ---------------------------------------------------------------------------------------------------------------
# Four eyes.


def test_four_eyes_preparer_cannot_approve_and_unapproved_plans_do_not_run(ews, monkeypatch):
    before = snapshot(ews)
    plan = planned(ews, monkeypatch)
    with pytest.raises(ErasureError, match="cannot also approve"):
        approve_plan(ews, plan.plan_id)  # alice prepared it
    with pytest.raises(ErasureError, match="not approved"):
        execute_plan(ews, plan.plan_id)
    actor(monkeypatch, "bob")
    with pytest.raises(ErasureError, match="not approved"):
        execute_plan(ews, plan.plan_id)
    assert snapshot(ews) == before
    assert approve_plan(ews, plan.plan_id).approved_by == "bob"
    with pytest.raises(ErasureError, match="only a planned plan"):
        approve_plan(ews, plan.plan_id)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok and result.plan.approved_by == "bob" and result.plan.prepared_by == "alice"
    with pytest.raises(ErasureError, match="already executed"):
        execute_plan(ews, plan.plan_id)


def test_roles_from_the_map(mini_ws, monkeypatch):
    ws = reopen(mini_ws, erase_map(roles="{preparers: [alice], approvers: [dpo]}"))
    actor(monkeypatch, "mallory")
    with pytest.raises(ErasureError, match="may not prepare"):
        plan_erasure(ws, case(ws), "M-001", as_of=AS_OF)
    plan = planned(ws, monkeypatch)
    actor(monkeypatch, "bob")
    with pytest.raises(ErasureError, match="may not approve"):
        approve_plan(ws, plan.plan_id)
    actor(monkeypatch, "dpo")
    assert approve_plan(ws, plan.plan_id).status == "approved"


def test_four_eyes_off_runs_without_a_second_person_and_says_so(mini_ws, monkeypatch):
    ws = reopen(mini_ws, erase_map(four_eyes=False))
    plan = planned(ws, monkeypatch)
    result = execute_plan(ws, plan.plan_id)  # alice alone
    assert result.ok and result.plan.approved_by == "alice"
    assert "four-eyes is off" in load_plan(ws, plan.plan_id).approval_note


@pytest.mark.parametrize("extra, message", [
    ("settings: {four_eyes: maybe}\n", "four_eyes: expected true or false"),
    ("roles: {approvers: dpo}\n", "roles.approvers: expected a list of actor names"),
    ("roles: {approver: [dpo]}\n", "unknown key 'approver' (did you mean 'approvers'?)"),
])
def test_map_validation_of_the_erasure_settings(extra, message):
    with pytest.raises(DataMapError) as err:
        parse_datamap(MINI_MAP + extra)
    assert message in str(err.value)


def test_map_defaults_four_eyes_on_and_no_roles():
    dm = parse_datamap(MINI_MAP)
    assert dm.settings.four_eyes is True and dm.roles.approvers == () and dm.roles.preparers == ()
    dm = parse_datamap(MINI_MAP + "settings: {four_eyes: false, fiscal_year_start: '07-01'}\nroles: {approvers: [a]}\n")
    assert dm.settings.four_eyes is False and dm.settings.fiscal_year_start == (7, 1) and dm.roles.approvers == ("a",)


# ---------------------------------------------------------------------------------------------------------------
# Executing and verifying.


def test_execution_changes_exactly_the_plan_and_verifies(ews, monkeypatch):
    others = {t: q(ews, f"SELECT * FROM {t} WHERE {c} <> 1 ORDER BY 1") for t, c in
              (("people.person", "pid"), ("shop.orders", "pid"), ("mail.subscribers", "sid"))}
    items = q(ews, "SELECT * FROM shop.items ORDER BY 1")
    order_101 = q(ews, "SELECT oid, pid, item_id, ordered_at FROM shop.orders WHERE oid = 101")
    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok, result.verification.problems
    assert q(ews, "SELECT pid FROM people.person ORDER BY 1") == [(2,), (3,), (4,)]
    assert q(ews, "SELECT oid FROM shop.orders WHERE pid = 1") == [(101,)]
    assert q(ews, "SELECT oid, pid, item_id, ordered_at FROM shop.orders WHERE oid = 101") == order_101
    assert [e[0] for e in events(ews)] == [1002, 1003]  # the Parquet file rewritten without his events
    assert q(ews, "SELECT sid FROM mail.subscribers ORDER BY 1") == [(2,), (3,)]
    # Nobody else's rows changed; reference data stayed.
    assert {t: q(ews, f"SELECT * FROM {t} WHERE {c} <> 1 ORDER BY 1") for t, c in
            (("people.person", "pid"), ("shop.orders", "pid"), ("mail.subscribers", "sid"))} == others
    assert q(ews, "SELECT * FROM shop.items ORDER BY 1") == items
    # Sources in reference order (the Parquet events belong to orders in the database): files first.
    assert [s.source for s in result.sources] == ["files", "main"]
    assert result.verification.remaining == {"shop.orders": 1}
    # Restricted and scheduled in the ledger.
    def opened(rows):  # row keys are sealed at rest (deterministically: the ledger matches them in SQL)
        return [(d, unseal(workspace_secret(ews.keys_dir), ROW_KEY, k).decode(), *r) for d, k, *r in rows]
    assert opened(ledger(ews, "SELECT dataset, row_key, retain_until, lifted_at FROM restrictions")) == [
        ("shop.orders", "[101]", D(2028, 12, 31), None)]
    assert opened(ledger(ews, "SELECT dataset, row_key, due_on, status FROM erasure_schedule")) == [
        ("shop.orders", "[101]", D(2029, 1, 1), "scheduled")]
    # The certificate verifies, and says what remains until when.
    cert = json.loads(result.certificate_path.read_text())
    assert result.certificate_path.parent == ews.root / "certificates"
    assert cert["certificate"]["remaining"][0]["until"] == "2028-12-31"
    assert cert["certificate"]["verification"]["ok"] is True
    assert verify_certificate(result.certificate_path, ews).ok
    # The audit log holds counts and hashes, never his identifiers.
    entries = audit.entries(ews)
    actions = [e.action for e in entries]
    for a in ("erasure.plan", "erasure.approve", "erasure.source", "erasure.execute"):
        assert a in actions
    assert [e.details["source"] for e in entries if e.action == "erasure.source"] == ["files", "main"]
    text = json.dumps([e.details for e in entries])
    for secret in ("janis", "Janis", "2000 1111", "jb@other", "Bērziņš"):
        assert secret not in text
    assert audit.verify(ews).ok


def test_due_erasure_removes_the_retained_rows_when_their_time_comes(ews, monkeypatch, later_today):
    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    execute_plan(ews, plan.plan_id)
    actor(monkeypatch, "scheduler")
    assert erase_due(ews, D(2028, 12, 31)) == []  # the last day it must be kept: nothing due
    assert q(ews, "SELECT oid FROM shop.orders WHERE oid = 101") == [(101,)]
    results = erase_due(ews, D(2029, 1, 1))
    assert len(results) == 1 and results[0].ok
    assert q(ews, "SELECT oid FROM shop.orders WHERE oid = 101") == []
    due = results[0].plan
    assert due.kind == "due" and due.origin["plan_id"] == plan.plan_id and due.approved_by == "bob"
    assert "approved with plan" in due.approval_note
    assert ledger(ews, "SELECT status, done_plan FROM erasure_schedule") == [("done", due.plan_id)]
    assert ledger(ews, "SELECT lifted_by FROM restrictions") == [(due.plan_id,)]
    assert verify_certificate(results[0].certificate_path, ews).ok
    assert erase_due(ews, D(2030, 1, 1)) == []  # nothing left


def test_a_legal_hold_on_the_subject_blocks_everything_until_released(ews, monkeypatch, later_today):
    before = snapshot(ews)
    actor(monkeypatch, "legal")
    hold = add_hold(ews, subject="jb@other.example", reason="litigation 2026-C-1", owner="legal team")
    plan = planned(ews, monkeypatch)
    assert {r.action for r in plan.rows} == {BLOCKED}
    assert all(r.hold_id == hold.hold_id and "litigation 2026-C-1" in r.reason for r in plan.rows)
    approve(ews, monkeypatch, plan)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok and snapshot(ews) == before
    # Blocked rows are scheduled without a date: every due run looks at them; while held, nothing happens.
    assert erase_due(ews, D(2040, 1, 1)) == [] and snapshot(ews) == before
    release_hold(ews, hold.hold_id, "settled")
    results = erase_due(ews, AS_OF)
    assert len(results) == 1 and results[0].ok
    assert q(ews, "SELECT pid FROM people.person ORDER BY 1") == [(2,), (3,), (4,)]
    assert q(ews, "SELECT oid, note FROM shop.orders WHERE pid = 1") == [(101, None)]  # kept (tax), masked
    assert [e[0] for e in events(ews)] == [1002, 1003]


def test_a_dataset_hold_blocks_that_dataset_only(ews, monkeypatch):
    add_hold(ews, dataset="shop.order_events", reason="security investigation", owner="ciso")
    plan = planned(ews, monkeypatch)
    assert {r.key for r in plan.rows if r.action == BLOCKED} == {(1000,), (1001,)}
    assert plan.row("people.person", (1,)).action == DELETE
    approve(ews, monkeypatch, plan)
    execute_plan(ews, plan.plan_id)
    assert [e[0] for e in events(ews)] == [1000, 1001, 1002, 1003]
    assert q(ews, "SELECT count(*) FROM people.person WHERE pid = 1") == [(0,)]


# ---------------------------------------------------------------------------------------------------------------
# Stale plans.


def test_a_changed_row_makes_the_plan_stale_and_nothing_changes(ews, monkeypatch):
    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    con = duckdb.connect(str(ews.root / "main.duckdb"))
    con.execute("UPDATE shop.orders SET item_id = 12 WHERE oid = 101")
    con.close()
    before = snapshot(ews)
    with pytest.raises(StalePlanError, match="stale") as err:
        execute_plan(ews, plan.plan_id)
    assert "shop.orders:101 changed" in str(err.value) and "Nothing was changed" in str(err.value)
    assert snapshot(ews) == before
    assert load_plan(ews, plan.plan_id).status == "refused"
    with pytest.raises(ErasureError, match="refused"):
        execute_plan(ews, plan.plan_id)


def test_a_changed_row_planned_for_deletion_is_not_deleted_blindly(ews, monkeypatch):
    plan = planned(ews, monkeypatch)
    assert plan.row("shop.orders", (100,)).action == DELETE
    approve(ews, monkeypatch, plan)
    con = duckdb.connect(str(ews.root / "main.duckdb"))  # re-dated: the bookkeeping rule would now keep it
    con.execute("UPDATE shop.orders SET ordered_at = DATE '2026-01-01' WHERE oid = 100")
    con.close()
    with pytest.raises(StalePlanError, match="shop.orders:100 changed"):
        execute_plan(ews, plan.plan_id)
    assert q(ews, "SELECT count(*) FROM shop.orders WHERE pid = 1") == [(2,)]
    assert [e[0] for e in events(ews)] == [1000, 1001, 1002, 1003]


def test_a_new_record_of_the_subject_makes_the_plan_stale(ews, monkeypatch):
    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    con = duckdb.connect(str(ews.root / "main.duckdb"))
    con.execute("INSERT INTO shop.orders VALUES (105, 1, 10, NULL, DATE '2026-11-01')")
    con.close()
    before = snapshot(ews)
    with pytest.raises(StalePlanError, match="not in the plan"):
        execute_plan(ews, plan.plan_id)
    assert snapshot(ews) == before


def test_rows_are_read_once_inside_each_sources_transaction(ews, monkeypatch):
    from privacyops.erasure import execute as erasure

    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    real, calls = erasure._check_source, []

    def counting(ws, plan_, src, con):
        calls.append((src, con.read_only))
        return real(ws, plan_, src, con)

    monkeypatch.setattr(erasure, "_check_source", counting)
    assert execute_plan(ews, plan.plan_id).ok
    # once per source, through the writer (its transaction, kept open for the writes)
    assert sorted(calls) == [("files", False), ("main", False)]


@pytest.mark.slow
def test_a_change_racing_the_transaction_is_caught_inside_it(ews, monkeypatch):
    """When the transaction the check opened was closed before the source's turn (its connectors let go), the
    source's rows are checked again inside a new one: a change made meanwhile refuses the plan there."""
    from privacyops.erasure import execute as erasure

    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    real, calls = erasure._check_source, []
    real_stop = erasure._stop_if_cancelled

    def racing(ws, plan_, src, con):
        calls.append(src)
        todo, problems, current = real(ws, plan_, src, con)
        if src == "main" and calls.count("main") == 2:  # the check inside main's new transaction
            problems = problems + ["people.person:1 changed since planning"]
        return todo, problems, current

    def closing(ws, plan_, results):
        if results:  # files committed: the connectors are let go (main's open transaction rolls back)
            ws.close()
        return real_stop(ws, plan_, results)

    monkeypatch.setattr(erasure, "_check_source", racing)
    monkeypatch.setattr(erasure, "_stop_if_cancelled", closing)
    main_before = q(ews, "SELECT * FROM people.person ORDER BY 1")
    with pytest.raises(StalePlanError, match="already erased by this plan"):
        execute_plan(ews, plan.plan_id)
    assert calls.count("main") == 2
    assert q(ews, "SELECT * FROM people.person ORDER BY 1") == main_before  # main rolled back
    assert [e[0] for e in events(ews)] == [1002, 1003]  # files were committed before
    assert load_plan(ews, plan.plan_id).status == "refused"
    assert audit.entries(ews, action="erasure.refused")[0].details["committed_sources"] == ["files"]


def test_a_changed_map_makes_the_plan_stale(ews, monkeypatch):
    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    ws = reopen(ews, erase_map() + "# edited\n")
    with pytest.raises(StalePlanError, match="map changed"):
        execute_plan(ws, plan.plan_id)


def test_a_plan_altered_in_the_ledger_is_refused(ews, monkeypatch):
    plan = planned(ews, monkeypatch)
    body = ledger(ews, "SELECT body FROM erasure_plans WHERE plan_id = ?", [plan.plan_id])[0][0]
    body = unseal(workspace_secret(ews.keys_dir), PLAN_BODY, body).decode()  # sealed at rest; altered in clear
    with open_ledger(ews) as con:
        con.execute("UPDATE erasure_plans SET body = ? WHERE plan_id = ?",
                    [body.replace('"action":"retain"', '"action":"delete"'), plan.plan_id])
    with pytest.raises(ErasureError, match="altered"):
        approve(ews, monkeypatch, plan)


# ---------------------------------------------------------------------------------------------------------------
# Interrupted runs.


@pytest.mark.slow
def test_an_exception_in_the_second_source_leaves_it_untouched_and_a_rerun_completes(ews, monkeypatch):
    from privacyops.erasure import execute as erasure

    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    main_before = {t: q(ews, f"SELECT * FROM {t} ORDER BY 1") for t in ("people.person", "shop.orders",
                                                                        "mail.subscribers")}
    real = erasure._apply

    def failing(ws, con, todo):
        got = real(ws, con, todo)
        if con.source.name == "main":
            raise RuntimeError("power cut")
        return got

    monkeypatch.setattr(erasure, "_apply", failing)
    with pytest.raises(RuntimeError, match="power cut"):
        execute_plan(ews, plan.plan_id)
    # files committed (the events are gone), main rolled back whole.
    assert [e[0] for e in events(ews)] == [1002, 1003]
    assert {t: q(ews, f"SELECT * FROM {t} ORDER BY 1") for t in main_before} == main_before
    assert [s for (s,) in ledger(ews, "SELECT source FROM erasure_sources")] == ["files"]
    [entry] = audit.entries(ews, action="erasure.interrupted")
    assert entry.details == {"plan_id": plan.plan_id, "source": "main", "error": "RuntimeError",
                             "committed_sources": ["files"]}
    monkeypatch.setattr(erasure, "_apply", real)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok
    assert [(s.source, s.status) for s in result.sources] == [
        ("files", "skipped (committed by an earlier run)"), ("main", "committed")]
    assert q(ews, "SELECT pid FROM people.person ORDER BY 1") == [(2,), (3,), (4,)]
    assert sorted(s for (s,) in ledger(ews, "SELECT source FROM erasure_sources")) == ["files", "main"]
    assert [e.details["source"] for e in audit.entries(ews, action="erasure.source")] == ["files", "main"]


@pytest.mark.slow
def test_a_commit_the_ledger_missed_is_recognised_by_the_rows(ews, monkeypatch):
    from privacyops.erasure import execute as erasure

    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    real = erasure._record_commit

    def crash(ws, plan_, src, counts, recovered):
        raise KeyboardInterrupt  # killed right after the source's commit, before the ledger heard of it

    monkeypatch.setattr(erasure, "_record_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        execute_plan(ews, plan.plan_id)
    assert [e[0] for e in events(ews)] == [1002, 1003] and ledger(ews, "SELECT * FROM erasure_sources") == []
    monkeypatch.setattr(erasure, "_record_commit", real)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok
    rec = {e.details["source"]: e.details["recovered"] for e in audit.entries(ews, action="erasure.source")}
    assert rec == {"files": True, "main": False}
    assert q(ews, "SELECT count(*) FROM people.person WHERE pid = 1") == [(0,)]


@pytest.mark.slow
def test_a_killed_execution_leaves_each_source_whole_and_a_rerun_completes(ews, monkeypatch):
    plan = planned(ews, monkeypatch)
    approve(ews, monkeypatch, plan)
    main_before = {t: q(ews, f"SELECT * FROM {t} ORDER BY 1") for t in ("people.person", "shop.orders",
                                                                        "mail.subscribers")}
    env = {**os.environ, "PRIVACYOPS_ACTOR": "bob", "PRIVACYOPS_TEST_PAUSE_BETWEEN_SOURCES": "60",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "privacyops.cli", "erase", "execute", plan.plan_id,
                             "-w", str(ews.root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the first source is committed and recorded
            if ews.ledger_path.exists() and \
                    ledger(ews, "SELECT count(*) FROM erasure_sources WHERE plan_id = ?", [plan.plan_id])[0][0]:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the first source was never committed")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert [e[0] for e in events(ews)] == [1002, 1003]  # files: wholly changed
    assert {t: q(ews, f"SELECT * FROM {t} ORDER BY 1") for t in main_before} == main_before  # main: untouched
    assert load_plan(ews, plan.plan_id).status == "executing"
    actor(monkeypatch, "bob")
    result = execute_plan(ews, plan.plan_id)
    assert result.ok and [s.status for s in result.sources] == ["skipped (committed by an earlier run)",
                                                                "committed"]
    assert q(ews, "SELECT pid FROM people.person ORDER BY 1") == [(2,), (3,), (4,)]
    assert q(ews, "SELECT oid FROM shop.orders WHERE pid = 1") == [(101,)]
    cert = json.loads(result.certificate_path.read_text())["certificate"]
    assert [s["source"] for s in cert["sources"]] == ["files", "main"]
    assert audit.verify(ews).ok


# ---------------------------------------------------------------------------------------------------------------
# Suppression.


def test_erasing_someone_who_objected_keeps_them_on_the_suppression_list(ews, monkeypatch):
    plan = planned(ews, monkeypatch, suppress="objection")
    assert len(plan.suppression["add"]) == 2  # both his addresses (Janis@Mini.example, jb@other.example)
    approve(ews, monkeypatch, plan)
    result = execute_plan(ews, plan.plan_id)
    assert result.suppression_added == 2
    for email in ("janis@mini.example", " JB@other.example "):
        entry = suppression_check(ews, email)
        assert entry is not None and entry.reason == "objection"
    assert suppression_check(ews, "janis2@mini.example") is None
    stored = json.dumps(ledger(ews, "SELECT * FROM suppression"), default=str)
    assert "mini.example" not in stored and "other.example" not in stored  # hashes only


def test_an_existing_suppression_entry_is_kept_and_a_withdrawal_case_adds_one(ews, monkeypatch):
    from privacyops.ledger import suppress

    suppress(ews, "jb@other.example", "withdrawal")
    plan = planned(ews, monkeypatch)
    assert len(plan.suppression["keep"]) == 1 and plan.suppression["add"] == []
    actor(monkeypatch, "alice")
    open_case(ews, "consent-withdrawal", "2026-11-01", subject="Janis@Mini.example")
    plan2 = plan_erasure(ews, case(ews), "M-001", as_of=AS_OF)
    assert plan2.suppression["reason"] == "withdrawal" and len(plan2.suppression["add"]) == 1


# ---------------------------------------------------------------------------------------------------------------
# Batch.


def test_batch_from_a_csv_file_is_one_plan_executed_set_based(ews, monkeypatch, tmp_path):
    f = tmp_path / "subjects.csv"
    f.write_text("subject,pick\nM-001,\nnobody@nowhere.example,\nhome@mini.example,\n,people.person:4\n")
    actor(monkeypatch, "alice")
    plan = plan_batch(ews, f, case(ews), as_of=AS_OF)
    assert [s["ref"] for s in plan.subjects] == ["people.person:1", "people.person:4"]
    assert [s["line"] for s in plan.skipped] == [3, 4]  # not found; two people share the address
    approve(ews, monkeypatch, plan)
    statements = []
    from privacyops.sources import DuckDBConnector

    real = DuckDBConnector.execute

    def spy(self, sql, params=()):
        if sql.lstrip().upper().startswith(("DELETE", "UPDATE")):
            statements.append(sql.split()[2])
        return real(self, sql, params)

    monkeypatch.setattr(DuckDBConnector, "execute", spy)
    result = execute_plan(ews, plan.plan_id)
    assert result.ok
    assert q(ews, "SELECT pid FROM people.person ORDER BY 1") == [(2,), (3,)]
    # Orders 101 (2025) and 104 (2024-06-06: kept through 2027-12-31) stay under the bookkeeping rule, masked.
    assert q(ews, "SELECT oid, note FROM shop.orders ORDER BY 1") == [
        (101, None), (102, "gift for janis@mini.example"), (103, None), (104, "[erased]")]
    assert [e[0] for e in events(ews)] == [1002]
    assert sum(s.endswith('"people"."person"') for s in statements) == 1  # both people deleted by one statement


@pytest.mark.slow
def test_cli_flow(ews, monkeypatch, tmp_path, later_today):
    runner = CliRunner()

    def run(who, *args):
        return runner.invoke(main, [*args, "-w", str(ews.root)], env={"PRIVACYOPS_ACTOR": who,
                                                                      "PRIVACYOPS_WORKSPACE": None})

    res = run("alice", "case", "open", "--type", "erasure", "--received", "2026-11-10")
    case_id = res.output.split()[0]
    res = run("alice", "erase", "janis2@mini.example", "--case", case_id, "--as-of", "2026-11-15", "--rows")
    assert res.exit_code == 0, res.output
    assert "Stored as ERP-" in res.output and "erasure policy: delete" in res.output
    plan_id = res.output.split("Stored as ")[1].split(".")[0]
    res = run("alice", "erase", "approve", plan_id)
    assert res.exit_code == 2 and "cannot also approve" in res.output and "Traceback" not in res.output
    res = run("alice", "erase", "execute", plan_id)
    assert res.exit_code == 2 and "not approved" in res.output
    assert run("bob", "erase", "approve", plan_id).exit_code == 0
    res = run("bob", "erase", "execute", plan_id, "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out[0]["verification"]["ok"] and out[0]["certificate"].endswith(f"{plan_id}.json")
    cert = out[0]["certificate"]
    res = run("bob", "certificate", "verify", cert)
    assert res.exit_code == 0 and "signed by this workspace's key" in res.output
    doc = json.loads(Path(cert).read_text())
    doc["certificate"]["summary"]["totals"]["delete"] += 1
    Path(cert).write_text(json.dumps(doc))
    res = run("bob", "certificate", "verify", cert)
    assert res.exit_code == 1 and "INVALID" in res.output
    res = run("bob", "erase", "--due", "--as-of", "2030-01-01")
    assert res.exit_code == 0, res.output
    assert "executed" in res.output  # his 2024 order (kept through 2027-12-31) is due
    assert q(ews, "SELECT count(*) FROM shop.orders WHERE pid = 2") == [(0,)]
    res = run("bob", "erase", "restrictions", "--all")
    assert res.exit_code == 0 and "shop.orders:102  lifted" in res.output and "Test law s.1" in res.output
    res = run("bob", "erase", "list", "--json")
    assert [p["kind"] for p in json.loads(res.output)] == ["request", "due"]
    res = run("bob", "erase", "show", "NOPE")
    assert res.exit_code == 2 and "unknown erasure plan" in res.output
    res = run("bob", "erase", "--from-file", str(tmp_path / "missing.csv"), "--case", case_id)
    assert res.exit_code == 2 and "cannot read" in res.output


def test_cli_holds_and_suppression(ews):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [*args, "-w", str(ews.root)], env={"PRIVACYOPS_ACTOR": "legal",
                                                                      "PRIVACYOPS_WORKSPACE": None})

    res = run("hold", "add", "--subject", "+371 2000 1111", "--reason", "audit 2026", "--owner", "cfo",
              "--review", "2027-01-01")
    assert res.exit_code == 0, res.output
    hold_id = res.output.split()[0]
    res = run("hold", "list", "--json")
    [h] = json.loads(res.output)
    assert h["hold_id"] == hold_id and h["owner"] == "cfo" and h["review_on"] == "2027-01-01"
    assert "2000" not in json.dumps(ledger(ews, "SELECT * FROM legal_hold_keys"))  # keyed hashes only
    assert run("hold", "add", "--reason", "x", "--owner", "y").exit_code == 2
    assert "unknown dataset" in run("hold", "add", "--dataset", "nope", "--reason", "x", "--owner", "y").output
    assert run("hold", "release", hold_id).exit_code == 0
    assert "already released" in run("hold", "release", hold_id).output
    assert "No active holds." in run("hold", "list").output
    res = run("suppress", "add", "Someone@Example.com", "--reason", "objection")
    assert res.exit_code == 0 and "Added" in res.output
    assert "Already listed" in run("suppress", "add", "someone@example.com", "--reason", "withdrawal").output
    res = run("suppress", "check", "SOMEONE@example.com ")
    assert res.exit_code == 0 and res.output.startswith("suppressed (objection")
    res = run("suppress", "check", "other@example.com")
    assert res.exit_code == 1 and "not suppressed" in res.output
    res = run("suppress", "add", "not-an-email", "--reason", "objection")
    assert res.exit_code == 2 and "not an e-mail" in res.output


# ---------------------------------------------------------------------------------------------------------------
# The demo company: Jānis (customer 1) with invoices from 2019, 2022 and 2025; the family; Anna (closed).


def lake(ws, sql, params=()):
    con = duckdb.connect()
    files = str(ws.root / "lake" / "web" / "analytics_events" / "*.parquet")
    return [r[0] for r in con.execute(sql.replace("EVENTS", f"read_parquet('{files}')"), list(params)).fetchall()]


@pytest.mark.slow
def test_demo_janis_is_erased_with_his_new_invoices_kept_under_the_tax_rule(demo, monkeypatch, later_today):
    ws = demo
    invoices = dict(dq(ws, "SELECT invoice_id, issued_at FROM billing.invoices WHERE customer_id = 1"))
    kept_inv = sorted(i for i, d in invoices.items() if d.year >= 2021)  # 5 years from the end of their year
    gone_inv = sorted(i for i, d in invoices.items() if d.year < 2021)
    assert kept_inv == [3, 4, 5] and gone_inv == [1, 2]
    kept_lines = dq(ws, f"SELECT line_id FROM billing.invoice_lines WHERE invoice_id IN {tuple(kept_inv)} ORDER BY 1")
    accounts = dq(ws, "SELECT account_id FROM app.user_accounts WHERE customer_id = 1")
    n_events = lake(ws, f"SELECT count(*) FROM EVENTS WHERE account_id IN {tuple(accounts)}")[0]
    assert n_events > 0
    consent_kept = dq(ws, "SELECT event_id FROM marketing.consent_events WHERE customer_id = 1 AND occurred_at >= "
                          "TIMESTAMP '2023-11-15'")  # 3 years from occurred_at still running on 2026-11-15
    others = {t: dq(ws, f"SELECT * FROM {t} WHERE customer_id <> 1 ORDER BY 1") for t in
              ("crm.customers", "billing.invoices", "support.tickets", "app.user_accounts")}
    products, agents = dq(ws, "SELECT * FROM catalog.products ORDER BY 1"), dq(ws, "SELECT * FROM support.agents")
    anna_msg = dq(ws, "SELECT * FROM support.ticket_messages WHERE message_id = 10")
    all_events = lake(ws, "SELECT count(*) FROM EVENTS")[0]

    c = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, c, "janis.berzins@example.lv", as_of=AS_OF)
    for i in kept_inv:
        r = plan.row("billing.invoices", (i,))
        assert r.action == RETAIN and "Accounting Law s.28 (LV)" in r.reason and r.rule == "tax_records"
        assert set(r.masks) == {"billing_name", "billing_address"}
    assert plan.row("billing.invoices", (4,)).until == D(2030, 12, 31)
    assert plan.row("billing.invoices", (3,)).until == D(2027, 12, 31)
    assert plan.row("billing.invoices", (4,)).masks["billing_name"]["strategy"] == "hmac"
    assert any("mentioning" in n.why and n.dataset == "support.ticket_messages" and n.key == (10,)
               for n in plan.not_erased)
    approve(ws, monkeypatch, plan)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems

    assert dq(ws, "SELECT count(*) FROM crm.customers WHERE customer_id = 1") == [0]
    assert dq(ws, "SELECT count(*) FROM app.user_accounts WHERE customer_id = 1") == [0]
    assert dq(ws, "SELECT count(*) FROM support.tickets WHERE customer_id = 1") == [0]
    assert dq(ws, "SELECT count(*) FROM support.ticket_messages WHERE ticket_id IN (1, 2)") == [0]
    assert dq(ws, "SELECT count(*) FROM marketing.email_sends WHERE customer_id = 1") == [0]
    assert dq(ws, "SELECT count(*) FROM marketing.newsletter_signups WHERE email = 'j.berzins@inbox.example.lv'") \
        == [0]
    assert lake(ws, f"SELECT count(*) FROM EVENTS WHERE account_id IN {tuple(accounts)}") == [0]
    assert lake(ws, "SELECT count(*) FROM EVENTS")[0] == all_events - n_events
    assert dq(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = 1 ORDER BY 1") == kept_inv
    rows = dq(ws, "SELECT billing_name, billing_address, invoice_no, amount_total FROM billing.invoices "
                  "WHERE customer_id = 1 ORDER BY invoice_id")
    for name, address, number, amount in rows:
        assert name.startswith("ps-") and "Bērziņš" not in name and address == "[erased]"
        assert number.startswith("BSF-") and amount is not None
    assert len({r[0] for r in rows}) == 1  # one pseudonym for one name: the records still link up
    assert dq(ws, "SELECT line_id FROM billing.invoice_lines WHERE invoice_id IN (1, 2, 3, 4, 5) ORDER BY 1") == \
        kept_lines
    assert dq(ws, "SELECT event_id FROM marketing.consent_events WHERE customer_id = 1 ORDER BY 1") == consent_kept
    # Other people's rows and shared reference data are untouched.
    assert {t: dq(ws, f"SELECT * FROM {t} WHERE customer_id <> 1 ORDER BY 1") for t in others} == others
    assert dq(ws, "SELECT * FROM catalog.products ORDER BY 1") == products
    assert dq(ws, "SELECT * FROM support.agents") == agents
    assert dq(ws, "SELECT * FROM support.ticket_messages WHERE message_id = 10") == anna_msg
    # Scheduled: invoice 3 and its lines on 2028-01-01, 4 and 5 on 2031-01-01.
    sched = {(e.dataset, e.key): e.due_on for e in schedule.entries(ws)}
    assert sched[("billing.invoices", (3,))] == D(2028, 1, 1)
    assert sched[("billing.invoices", (5,))] == D(2031, 1, 1)
    assert len(sched) == len(kept_inv) + len(kept_lines) + len(consent_kept)
    assert verify_certificate(result.certificate_path, ws).ok

    actor(monkeypatch, "scheduler")
    first = erase_due(ws, D(2028, 6, 1))
    assert dq(ws, "SELECT invoice_id FROM billing.invoices WHERE customer_id = 1 ORDER BY 1") == [4, 5]
    later = erase_due(ws, D(2031, 1, 1))
    assert all(r.ok for r in first + later)
    assert dq(ws, "SELECT count(*) FROM billing.invoices WHERE customer_id = 1") == [0]
    assert dq(ws, "SELECT count(*) FROM billing.invoice_lines WHERE invoice_id IN (1, 2, 3, 4, 5)") == [0]
    assert dq(ws, "SELECT count(*) FROM marketing.consent_events WHERE customer_id = 1") == [0]
    assert schedule.entries(ws) == [] and schedule.restrictions(ws) == []
    for r in first + later:
        assert verify_certificate(r.certificate_path, ws).ok
    # A tampered certificate fails.
    doc = json.loads(later[-1].certificate_path.read_text())
    doc["certificate"]["remaining"] = []
    doc["certificate"]["case_id"] = "DSR-2026-9999"
    assert not verify_certificate(doc, ws).ok


@pytest.mark.slow
def test_demo_family_only_the_chosen_persons_rows(demo, monkeypatch):
    ws = demo
    tables = ("crm.customers", "app.user_accounts", "support.tickets", "billing.invoices",
              "marketing.consent_events", "marketing.email_sends")
    ilze = {t: dq(ws, f"SELECT * FROM {t} WHERE customer_id = 4 ORDER BY 1") for t in tables}
    ilze_lines = dq(ws, "SELECT * FROM billing.invoice_lines WHERE invoice_id IN (10, 11) ORDER BY 1")
    signups = dq(ws, "SELECT * FROM marketing.newsletter_signups ORDER BY 1")
    c = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, c, pick="crm.customers:3", as_of=AS_OF)
    assert all(r.subject == "crm.customers:3" for r in plan.rows)
    approve(ws, monkeypatch, plan)
    assert execute_plan(ws, plan.plan_id).ok
    assert dq(ws, "SELECT count(*) FROM crm.customers WHERE customer_id = 3") == [0]
    assert {t: dq(ws, f"SELECT * FROM {t} WHERE customer_id = 4 ORDER BY 1") for t in tables} == ilze
    assert dq(ws, "SELECT * FROM billing.invoice_lines WHERE invoice_id IN (10, 11) ORDER BY 1") == ilze_lines
    assert dq(ws, "SELECT * FROM marketing.newsletter_signups ORDER BY 1") == signups


@pytest.mark.slow
def test_demo_anna_closed_with_only_old_invoices_leaves_nothing(demo, monkeypatch):
    ws = demo
    c = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, c, "anna.ozola@example.lv", as_of=AS_OF)
    # Everything of hers is deleted; in rows other people own she only appears (Jānis's message to her): only her
    # part of those is masked.
    appears = {("community.messages", (k,)) for k in dq(ws, "SELECT message_id FROM community.messages "
                                                            "WHERE recipient_id = 5")}
    appears |= {("crm.referrals", (k,)) for k in dq(ws, "SELECT referral_id FROM crm.referrals WHERE referred_id = 5")}
    assert appears
    assert {(r.dataset, r.key) for r in plan.rows if r.action != DELETE} == appears
    assert {r.action for r in plan.rows if (r.dataset, r.key) in appears} == {MASK}
    approve(ws, monkeypatch, plan)
    result = execute_plan(ws, plan.plan_id)
    stay = {}  # the rows she only appeared in stay (without her); nothing else does
    for name, _key in appears:
        stay[name] = stay.get(name, 0) + 1
    assert result.ok and result.verification.remaining == stay
    for t in ("crm.customers", "billing.invoices", "support.tickets", "marketing.consent_events"):
        assert dq(ws, f"SELECT count(*) FROM {t} WHERE customer_id = 5") == [0]
    assert dq(ws, "SELECT count(*) FROM support.ticket_messages WHERE ticket_id = 5") == [0]
    assert dq(ws, "SELECT count(*) FROM community.messages WHERE 5 IN (sender_id, recipient_id)") == [0]
    assert dq(ws, "SELECT count(*) FROM crm.referrals WHERE 5 IN (referrer_id, referred_id)") == [0]
    assert schedule.entries(ws) == []
    # Jānis's ticket message naming her e-mail is his record: listed for review, not erased.
    assert dq(ws, "SELECT count(*) FROM support.ticket_messages WHERE message_id = 1") == [1]


@pytest.mark.slow
def test_demo_batch_from_a_csv_file_with_progress(demo, tmp_path):
    ws = demo
    ids = list(range(10, 40))
    f = tmp_path / "subjects.csv"
    f.write_text("pick\n" + "".join(f"crm.customers:{i}\n" for i in ids))
    invoices = dict(dq(ws, f"SELECT invoice_id, issued_at FROM billing.invoices WHERE customer_id IN {tuple(ids)}"))
    kept = sorted(i for i, d in invoices.items() if d.year >= 2021)
    others = dq(ws, f"SELECT * FROM crm.customers WHERE customer_id NOT IN {tuple(ids)} ORDER BY 1")
    runner = CliRunner()

    def run(who, *args):
        return runner.invoke(main, [*args, "-w", str(ws.root)], env={"PRIVACYOPS_ACTOR": who,
                                                                     "PRIVACYOPS_WORKSPACE": None})

    case_id = run("alice", "case", "open", "--type", "erasure", "--received", "2026-11-10").output.split()[0]
    t0 = time.perf_counter()
    res = run("alice", "erase", "--from-file", str(f), "--case", case_id, "--as-of", "2026-11-15")
    assert res.exit_code == 0, res.output
    assert "planning: 100%" in res.stderr and f"{len(ids)}/{len(ids)}" in res.stderr  # the progress bar
    plan_id = res.stdout.split("Stored as ")[1].split()[0]
    assert run("bob", "erase", "approve", plan_id).exit_code == 0
    res = run("bob", "erase", "execute", plan_id)
    assert res.exit_code == 0, res.output
    elapsed = time.perf_counter() - t0
    assert dq(ws, f"SELECT count(*) FROM crm.customers WHERE customer_id IN {tuple(ids)}") == [0]
    assert dq(ws, f"SELECT invoice_id FROM billing.invoices WHERE customer_id IN {tuple(ids)} ORDER BY 1") == kept
    assert dq(ws, f"SELECT * FROM crm.customers WHERE customer_id NOT IN {tuple(ids)} ORDER BY 1") == others
    assert "Verified" in res.stdout and elapsed < 30


@pytest.mark.slow
def test_demo_prospect_known_only_by_her_newsletter_address(demo, monkeypatch):
    ws = demo
    n = dq(ws, "SELECT count(*) FROM marketing.newsletter_signups")[0]
    c = open_case(ws, "erasure", "2026-11-10").case_id
    plan = plan_erasure(ws, c, "marta.prospect@example.net", as_of=AS_OF)
    assert plan.subjects[0]["ref"] is None and plan.counts() == {"marketing.newsletter_signups": {DELETE: 1}}
    approve(ws, monkeypatch, plan)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok and result.verification.lookups == 1
    assert dq(ws, "SELECT count(*) FROM marketing.newsletter_signups WHERE email = 'marta.prospect@example.net'") \
        == [0]
    assert dq(ws, "SELECT count(*) FROM marketing.newsletter_signups")[0] == n - 1
