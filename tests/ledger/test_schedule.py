"""The erasure schedule and restriction register written set-based (one statement per call, as a batch of
thousands of kept rows needs): the same rows as one write per row would leave, on the embedded and the shared
ledger, checked with SQL on the ledger's tables."""

from __future__ import annotations

import datetime as dt

import pytest

from privacyops.ledger import open_ledger, schedule
from privacyops.ledger.schedule import key_json
from privacyops.workspace import keys, open_workspace, sealing
from tests.support import pg as pgserver
from tests.support.demo import ledger_rows

N = 1_500  # more rows than one statement of the former 200-row chunks, and than an IN list of CHUNK values


def _items(n: int) -> list[tuple]:
    return [("shop.orders" if i % 2 else "mail.subscribers", key_json([i] if i % 3 else [f"k{i}@x.example"]),
             dt.date(2030, 1, 1) + dt.timedelta(days=i % 40) if i % 5 else None,
             dt.date(2029, 12, 31) + dt.timedelta(days=i % 40) if i % 5 else None, f"retention: rule {i % 7}")
            for i in range(n)]


def _exercise(ws) -> None:
    items = _items(N)
    sealed = (lambda k: sealing.seal_deterministic(keys.workspace_secret(ws.keys_dir), sealing.ROW_KEY, k))
    with open_ledger(ws) as con, con.transaction():
        # An entry an earlier privacyops wrote with a clear key: taken over by the newer decision, not doubled.
        con.execute("INSERT INTO erasure_schedule (dataset, row_key, plan_id, basis, status, scheduled_at) VALUES "
                    "(?, ?, 'ERP-OLD', 'old', 'scheduled', now())", [items[7][0], items[7][1]])
        assert schedule.schedule(con, items + items[:10], "ERP-1", "C-1") == N  # a row named twice: once
        assert schedule.restrict(con, [(d, k, b, u) for d, k, _, u, b in items], "ERP-1", "C-1") == N
        assert schedule.restrict(con, [(d, k, b, u) for d, k, _, u, b in items[:20]], "ERP-1", "C-1") == 20
    assert ledger_rows(ws, "SELECT count(*), count(DISTINCT row_key), min(plan_id), max(plan_id), min(case_id) "
                           "FROM erasure_schedule") == [(N, N, "ERP-1", "ERP-1", "C-1")]
    assert ledger_rows(ws, "SELECT count(*) FROM restrictions WHERE plan_id = 'ERP-1' AND lifted_at IS NULL") == [
        (N,)]
    d, k, due_on, until, basis = items[11]
    assert ledger_rows(ws, "SELECT due_on, retain_until, basis, status, done_plan FROM erasure_schedule WHERE "
                           "dataset = ? AND row_key = ?", [d, sealed(k)]) == [(due_on, until, basis, "scheduled",
                                                                                None)]
    assert ledger_rows(ws, "SELECT count(*) FROM erasure_schedule WHERE due_on IS NULL") == [(N // 5,)]
    # A newer decision takes the rows over; finishing and lifting touch exactly the rows named.
    with open_ledger(ws) as con, con.transaction():
        schedule.schedule(con, [(d, k, None, None, "retention: new") for d, k, *_ in items[:300]], "ERP-2", None)
        schedule.finish(con, [(d, k) for d, k, *_ in items[:100]], "ERD-1")
        schedule.finish(con, [(d, k) for d, k, *_ in items[100:150]], "ERD-2", status=schedule.GONE)
        schedule.lift(con, [(d, k) for d, k, *_ in items[:1200]], "ERD-1")
        schedule.lift(con, [(d, k) for d, k, *_ in items[:1300]], "ERD-3")  # lifted ones stay lifted by ERD-1
    assert ledger_rows(ws, "SELECT plan_id, status, done_plan, count(*) FROM erasure_schedule GROUP BY 1, 2, 3 "
                           "ORDER BY 1, 2, 3") == [("ERP-1", "scheduled", None, N - 300),
                                               ("ERP-2", "done", "ERD-1", 100), ("ERP-2", "gone", "ERD-2", 50),
                                               ("ERP-2", "scheduled", None, 150)]
    assert ledger_rows(ws, "SELECT lifted_by, count(*) FROM restrictions GROUP BY 1 ORDER BY 1") == [
        ("ERD-1", 1200), ("ERD-3", 100), (None, N - 1300)]
    assert {(e.dataset, e.row_key) for e in schedule.entries(ws)} == {(d, k) for d, k, *_ in items[150:]}
    with open_ledger(ws) as con, con.transaction():  # nothing named: nothing written, no statement refused
        assert schedule.schedule(con, [], "ERP-3", None) == 0 and schedule.restrict(con, [], "ERP-3", None) == 0
        schedule.finish(con, [], "ERD-4")
        schedule.lift(con, [], "ERD-4")
    assert ledger_rows(ws, "SELECT count(*) FROM erasure_schedule") == [(N,)]


def test_schedule_writes_many_rows_at_once_embedded_ledger(mini_ws):
    with open_ledger(mini_ws):  # a new ledger makes the workspace key (row keys are sealed with it)
        pass
    _exercise(mini_ws)


@pytest.mark.slow
def test_schedule_writes_many_rows_at_once_shared_ledger(mini_ws, postgres_dsn):
    dsn = pgserver.create_database(postgres_dsn, "schedule")
    (mini_ws.root / "keys").mkdir(exist_ok=True)
    (mini_ws.root / "keys" / "ledger.dsn").write_text(dsn)
    text = (mini_ws.root / "privacyops.yaml").read_text()
    (mini_ws.root / "privacyops.yaml").write_text(text + "\nledger: {kind: postgres, dsn_file: keys/ledger.dsn}\n")
    ws = open_workspace(mini_ws.root)
    with open_ledger(ws):
        pass
    _exercise(ws)
    assert not ws.ledger_path.exists()  # the shared ledger took every row
