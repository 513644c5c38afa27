"""Batch erasure planned set-based: a batch plan of N subjects decides every row as N single plans do, its execution
does what it says (checked by SQL), and a batch killed mid-execution resumes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from privacyops.erasure import approve_plan, execute_plan, load_plan, plan_batch, plan_erasure
from privacyops.ledger import audit, open_case, open_ledger
from privacyops.workspace import open_workspace
from tests.support.mini import erase_map

AS_OF = "2026-11-15"
REPO = Path(__file__).resolve().parents[2]


def dq(ws, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def decided(pr) -> tuple:
    """What a plan decides for one row: its action, masked values, kept columns, dates, hold and restriction."""
    return (pr.action, json.dumps(pr.masks, sort_keys=True, default=str), sorted(pr.kept), str(pr.until),
            str(pr.due_on), pr.hold_id, pr.restricted, pr.scheduled, pr.owner, pr.party)


def batch_of(ws, tmp_path, ids: list[int], monkeypatch, **kw):
    f = tmp_path / "subjects.csv"
    f.write_text("pick\n" + "".join(f"crm.customers:{i}\n" for i in ids))
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return plan_batch(ws, f, open_case(ws, "erasure", "2026-11-10").case_id, as_of=AS_OF, **kw)


def random_customers(ws, n: int, seed: int) -> list[int]:
    """Customers with no link to another customer of the sample — a referral, a message between them — (rows two
    subjects share are decided once in a batch, for both: single plans each decide their part): by independent
    SQL."""
    ids = [r[0] for r in dq(ws, "SELECT customer_id FROM crm.customers ORDER BY 1")]
    rng = random.Random(seed)
    links = {tuple(r) for r in dq(ws, "SELECT referrer_id, referred_id FROM crm.referrals UNION "
                                      "SELECT sender_id, recipient_id FROM community.messages")}
    chosen: list[int] = []
    for cid in rng.sample(ids, len(ids)):
        if not any((cid, o) in links or (o, cid) in links for o in chosen):
            chosen.append(cid)
        if len(chosen) == n:
            break
    return chosen


def test_a_batch_plan_decides_every_row_as_single_plans_do(demo, tmp_path, monkeypatch):
    ws = demo
    ids = random_customers(ws, 40, seed=11)
    plan = batch_of(ws, tmp_path, ids, monkeypatch)
    assert [s["ref"] for s in plan.subjects] == [f"crm.customers:{i}" for i in ids]  # each subject listed
    single_rows: dict = {}
    single_not_erased: set = set()
    for cid in ids:
        one = plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, pick=f"crm.customers:{cid}",
                           as_of=AS_OF, save=False)
        for pr in one.rows:
            assert pr.rid not in single_rows  # the sample shares no row: the union is plain
            single_rows[pr.rid] = decided(pr)
        single_not_erased |= {(n.dataset, json.dumps(list(n.key), default=str), n.why) for n in one.not_erased}
    assert {pr.rid: decided(pr) for pr in plan.rows} == single_rows
    assert {(n.dataset, json.dumps(list(n.key), default=str), n.why) for n in plan.not_erased} == single_not_erased
    assert {pr.action for pr in plan.rows} >= {"delete", "retain"}  # the comparison covers both kinds
    # The rows are the customers' rows by independent SQL: their invoices and tickets are all planned.
    inv = {("billing.invoices", json.dumps([i])) for (i,) in dq(
        ws, f"SELECT invoice_id FROM billing.invoices WHERE customer_id IN ({', '.join('?' * len(ids))})", ids)}
    assert inv and inv <= set(single_rows)


def test_a_batch_execution_does_what_the_plan_says_checked_by_sql(demo, tmp_path, monkeypatch):
    ws = demo
    ids = random_customers(ws, 25, seed=5)
    others_before = dq(ws, f"SELECT * FROM crm.customers WHERE customer_id NOT IN ({', '.join('?' * len(ids))}) "
                           f"ORDER BY 1", ids)
    plan = batch_of(ws, tmp_path, ids, monkeypatch)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    checked = {"delete": 0, "masked": 0}
    for pr in plan.rows:
        ds = ws.datamap.datasets[pr.dataset]
        src = ws.datamap.sources[ds.source]
        rel = ('"{}"."{}"'.format(*ds.table.split(".")) if src.kind == "duckdb" else
               f"read_parquet('{ws.root / src.path / ds.table}')")
        where = " AND ".join(f'"{c}" = ?' for c in ds.primary_key)
        cur = con.execute(f"SELECT * FROM {rel} WHERE {where}", list(pr.key))
        got = [dict(zip([d[0] for d in cur.description], r)) for r in cur.fetchall()]
        if pr.action == "delete":
            assert got == [], pr.ref
            checked["delete"] += 1
        else:
            assert len(got) == 1, pr.ref
            for col, m in pr.masks.items():
                assert got[0][col] == m["value"] or str(got[0][col]) == str(m["value"]), (pr.ref, col)
                checked["masked"] += 1
    con.close()
    assert checked["delete"] and checked["masked"]
    assert dq(ws, f"SELECT count(*) FROM crm.customers WHERE customer_id IN ({', '.join('?' * len(ids))})",
              ids) == [(0,)] or all(pr.action != "delete" for pr in plan.rows if pr.dataset == "crm.customers")
    assert dq(ws, f"SELECT * FROM crm.customers WHERE customer_id NOT IN ({', '.join('?' * len(ids))}) "
                  f"ORDER BY 1", ids) == others_before  # nobody else touched
    cert = json.loads(result.certificate_path.read_text())["certificate"]
    listed = json.dumps(cert)
    assert all(s["ref_hash"] in listed for s in plan.subjects)  # the certificate lists each subject


def ledger(ws, sql, params=()):
    with open_ledger(ws) as con:
        return con.execute(sql, list(params)).fetchall()


def approved_batch(mini_ws, tmp_path, monkeypatch):
    """The erase map's workspace with a batch plan of M-001 and M-002, prepared by alice and approved by bob."""
    ws = open_workspace(mini_ws.root)
    (ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(ws.root)
    f = tmp_path / "subjects.csv"
    f.write_text("subject\nM-001\nM-002\n")
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    plan = plan_batch(ws, f, open_case(ws, "erasure", "2026-11-10").case_id, as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    return ws, plan


def test_a_batch_killed_mid_execution_resumes_and_completes(mini_ws, tmp_path, monkeypatch):
    ws, plan = approved_batch(mini_ws, tmp_path, monkeypatch)
    main = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    before = main.execute("SELECT * FROM people.person ORDER BY 1").fetchall()
    main.close()
    env = {**os.environ, "PRIVACYOPS_ACTOR": "bob", "PRIVACYOPS_TEST_PAUSE_BETWEEN_SOURCES": "60",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "privacyops.cli", "erase", "execute", plan.plan_id,
                             "-w", str(ws.root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the first source (the Parquet files) committed and recorded
            if ws.ledger_path.exists() and \
                    ledger(ws, "SELECT count(*) FROM erasure_sources WHERE plan_id = ?", [plan.plan_id])[0][0]:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the first source was never committed")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    main = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    assert main.execute("SELECT * FROM people.person ORDER BY 1").fetchall() == before  # main: untouched
    main.close()
    assert load_plan(ws, plan.plan_id).status == "executing"
    result = execute_plan(ws, plan.plan_id)
    assert result.ok and [s.status for s in result.sources] == ["skipped (committed by an earlier run)",
                                                                "committed"]
    main = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    assert main.execute("SELECT pid FROM people.person ORDER BY 1").fetchall() == [(3,), (4,)]
    main.close()
    events = duckdb.connect().execute(f"SELECT oid FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}')"
                                      f" ORDER BY 1").fetchall()
    assert events == [(104,)]  # the batch's order events gone; M-004's (not in the batch) kept
    cert = json.loads(result.certificate_path.read_text())["certificate"]
    assert [s["source"] for s in cert["sources"]] == ["files", "main"]
    assert len(plan.subjects) == 2 and all(s["ref_hash"] in json.dumps(cert) for s in plan.subjects)
    assert audit.verify(ws).ok


def test_a_batch_killed_between_two_datasets_commits_resumes_and_each_subject_ends_fully_erased(mini_ws, tmp_path,
                                                                                               monkeypatch):
    """A batch commits a DuckDB source dataset by dataset (its ART parts let go between): a kill -9 after the first
    dataset's commit leaves that dataset erased and the rest untouched (SQL), the plan executing; running it again
    erases the rest, verifies and certifies every subject."""
    ws, plan = approved_batch(mini_ws, tmp_path, monkeypatch)
    planned = {}
    for pr in plan.rows:
        if pr.source == "main" and pr.action == "delete":
            planned.setdefault(pr.dataset, set()).add(tuple(pr.key))
    assert len(planned) >= 2  # two datasets of the DuckDB source: a kill between their commits means something

    def present() -> dict[str, set]:
        con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
        try:
            out = {}
            for name, keys in planned.items():
                ds = ws.datamap.datasets[name]
                rows = con.execute(f"SELECT {', '.join(ds.primary_key)} FROM {ds.table}").fetchall()
                out[name] = {tuple(r) for r in rows} & keys
            return out
        finally:
            con.close()

    assert present() == planned
    env = {**os.environ, "PRIVACYOPS_ACTOR": "bob", "PRIVACYOPS_TEST_KILL_AFTER_DATASETS": "1",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "privacyops.cli", "erase", "execute", plan.plan_id,
                           "-w", str(ws.root)], env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    left = present()
    gone = [name for name in planned if not left[name]]
    assert len(gone) == 1 and all(left[n] == planned[n] for n in planned if n not in gone)  # one dataset committed
    assert load_plan(ws, plan.plan_id).status == "executing"
    result = execute_plan(ws, plan.plan_id)
    assert result.ok and [s.source for s in result.sources] == ["files", "main"]
    assert present() == {name: set() for name in planned}
    cert = json.loads(result.certificate_path.read_text())["certificate"]
    assert len(plan.subjects) == 2 and all(s["ref_hash"] in json.dumps(cert) for s in plan.subjects)
    assert audit.verify(ws).ok


def test_due_rows_of_several_plans_are_read_and_decided_together(mini_ws, monkeypatch, later_today):
    (mini_ws.root / "privacyops.yaml").write_text(erase_map())
    ws = open_workspace(mini_ws.root)
    origins = []
    for pick in ("people.person:2", "people.person:3", "people.person:4"):  # orders kept for the books until 2027
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
        plan = plan_erasure(ws, open_case(ws, "erasure", "2026-11-10").case_id, pick=pick, as_of=AS_OF)
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
        approve_plan(ws, plan.plan_id)
        assert execute_plan(ws, plan.plan_id).ok
        origins.append(plan.plan_id)
    kept = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    assert kept.execute("SELECT oid FROM shop.orders ORDER BY 1").fetchall() == [(100,), (101,), (102,), (103,),
                                                                                  (104,)]
    kept.close()
    from privacyops.erasure import plan_due
    from privacyops.sources import DuckDBConnector

    reads = []
    real = DuckDBConnector.execute
    monkeypatch.setattr(DuckDBConnector, "execute", lambda self, sql, params=(): (
        reads.append(sql) if '"shop"."orders"' in sql and sql.lstrip().upper().startswith("SELECT") else None)
        or real(self, sql, params))
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "scheduler")
    plans = plan_due(ws, "2028-01-01")
    assert len(reads) == 1  # the three plans' due orders in one statement (one per plan before)
    monkeypatch.setattr(DuckDBConnector, "execute", real)
    assert sorted(p.origin["plan_id"] for p in plans) == sorted(origins)  # one due plan per originating plan
    assert {p.origin["plan_id"]: [(r.dataset, r.key, r.action) for r in p.rows] for p in plans} == {
        origins[0]: [("shop.orders", (102,), "delete")], origins[1]: [("shop.orders", (103,), "delete")],
        origins[2]: [("shop.orders", (104,), "delete")]}
    assert all(execute_plan(ws, p.plan_id).ok for p in plans)
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    assert con.execute("SELECT oid FROM shop.orders ORDER BY 1").fetchall() == [(100,), (101,)]  # M-001's stay
    con.close()
    assert ledger(ws, "SELECT count(*) FROM erasure_schedule WHERE status = 'scheduled'") == [(0,)]
