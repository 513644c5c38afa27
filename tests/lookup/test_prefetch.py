"""Reader.prefetch: the walk's independent reads of one step run two at a time, and the answers stay exactly those of
the reads run one after another (rows, their order, whose they are)."""

from __future__ import annotations

import random
import threading

import duckdb

from privacyops.lookup import lookup
from privacyops.lookup import prefetch as reader_mod
from privacyops.lookup.reader import Reader


def full(r) -> dict:
    """Everything the answer holds, rows and their order included."""
    def recs(d):
        return {n: (x.columns, [sorted(map(str, row.items())) for row in x.rows], x.roles, x.owner, x.co_owned,
                    x.withheld, sorted(x.via)) for n, x in d.items()}
    return {"status": r.status, "subject": r.subject.ref if r.subject else None, "records": recs(r.records),
            "shared": recs(r.shared), "context": recs(r.context), "notes": r.notes,
            "mentions": [(m.dataset, str(m.key), m.field, m.matched) for m in r.mentions]}


def sample(ws, n: int) -> list[tuple]:
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT customer_id, email, phone FROM crm.customers ORDER BY customer_id").fetchall()
    finally:
        con.close()
    return random.Random(5).sample(rows, n)


def test_prefetched_lookups_answer_as_sequential_ones_and_use_the_helper_thread(demo_ws, monkeypatch):
    demo_ws.keep_open = 60
    subjects = sample(demo_ws, 40)
    helper_reads = []
    real_select = reader_mod.DuckDBConnector.select_in

    def counting(self, *a, **k):
        if threading.current_thread().name.startswith("privacyops-lookup"):
            helper_reads.append(a[0].name)
        return real_select(self, *a, **k)

    monkeypatch.setattr(reader_mod.DuckDBConnector, "select_in", counting)
    together = [lookup(demo_ws, email or str(cid), audit_log=False) for cid, email, _ in subjects]
    assert helper_reads, "no read ran in the helper thread: prefetch did nothing"
    monkeypatch.setattr(Reader, "prefetch", lambda self, asks, least=2: None)
    one_by_one = [lookup(demo_ws, email or str(cid), audit_log=False) for cid, email, _ in subjects]
    assert sum(x.count for a in together for x in a.records.values()) > 40  # not vacuous: the subjects have rows
    for a, b in zip(together, one_by_one):
        assert full(a) == full(b), a.query


def test_prefetch_leaves_writers_alone(demo_ws, monkeypatch):
    """Reads through a connector opened for writing are never moved to another cursor (it would not see the
    writer's open transaction); once it is closed, the same lookup reads two at a time again."""
    submitted = []
    real_pool = reader_mod._pool

    class Spy:
        def submit(self, *a, **k):
            submitted.append(1)
            return real_pool().submit(*a, **k)

    monkeypatch.setattr(reader_mod, "_pool", lambda: Spy())
    email = sample(demo_ws, 1)[0][1]
    demo_ws.keep_open = 60
    for name in demo_ws.datamap.sources:
        demo_ws.writer(name)
    writing = lookup(demo_ws, email, audit_log=False)
    assert submitted == []
    demo_ws.close()
    reading = lookup(demo_ws, email, audit_log=False)
    assert submitted
    assert full(writing) == full(reading)


def test_a_forked_process_gets_its_own_helper_thread(monkeypatch):
    first = reader_mod._pool()
    assert reader_mod._pool() is first
    monkeypatch.setattr(reader_mod.os, "getpid", lambda: -1)
    second = reader_mod._pool()
    assert second is not first
    assert second.submit(lambda: 7).result(timeout=10) == 7
