"""Property: on any random company of the mini schema, a lookup returns exactly the chosen person's rows.

People share e-mails and items at random; orders and events belong to one person each. Whatever the data, a
picked person's records are precisely their own person row, orders and order events (computed here independently
of the lookup), shared items appear only as context, and an e-mail shared by several people yields candidates.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacyops.lookup import lookup
from privacyops.workspace import open_workspace
from tests.support.mini import MINI_MAP

pytestmark = pytest.mark.slow  # hypothesis: generated people looked up end to end

EMAILS = ["a@x.example", "b@x.example", "c@x.example", "d@x.example"]


@st.composite
def companies(draw):
    n_people = draw(st.integers(1, 6))
    people = [(pid, draw(st.sampled_from(EMAILS))) for pid in range(1, n_people + 1)]
    n_orders = draw(st.integers(0, 12))
    orders = [(100 + i, draw(st.integers(1, n_people)), draw(st.integers(10, 12))) for i in range(n_orders)]
    events = [(1000 + i, draw(st.sampled_from(orders))[0]) for i in range(draw(st.integers(0, 10)))] \
        if orders else []
    return people, orders, events


def build(root: Path, people, orders, events) -> None:
    root.mkdir(parents=True)
    (root / "privacyops.yaml").write_text(MINI_MAP)
    con = duckdb.connect(str(root / "main.duckdb"))
    con.execute("CREATE SCHEMA people; CREATE SCHEMA shop; CREATE SCHEMA mail")
    con.execute("CREATE TABLE people.person (pid INTEGER, full_name VARCHAR, mail VARCHAR, mail2 VARCHAR, "
                "tel VARCHAR, member_no VARCHAR)")
    con.executemany("INSERT INTO people.person VALUES (?, ?, ?, NULL, NULL, ?)",
                    [(pid, f"Person {pid}", mail, f"M-{pid}") for pid, mail in people])
    con.execute("CREATE TABLE shop.items (item_id INTEGER, title VARCHAR)")
    con.execute("INSERT INTO shop.items VALUES (10, 'Pen'), (11, 'Book'), (12, 'Lamp')")
    con.execute("CREATE TABLE shop.orders (oid INTEGER, pid INTEGER, item_id INTEGER, note VARCHAR, "
                "ordered_at DATE)")
    if orders:
        con.executemany("INSERT INTO shop.orders VALUES (?, ?, ?, NULL, DATE '2024-01-01')", orders)
    con.execute("CREATE TABLE mail.subscribers (sid INTEGER, address VARCHAR)")
    (root / "files" / "events").mkdir(parents=True)
    con.execute("CREATE TABLE ev (eid INTEGER, oid INTEGER, ip VARCHAR)")
    if events:
        con.executemany("INSERT INTO ev VALUES (?, ?, '10.0.0.1')", events)
    con.execute(f"COPY ev TO '{root / 'files' / 'events' / 'part-0.parquet'}' (FORMAT parquet)")
    con.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(companies())
def test_a_picked_person_gets_exactly_their_own_rows(company):
    people, orders, events = company
    tmp = Path(tempfile.mkdtemp())
    try:
        build(tmp / "ws", people, orders, events)
        ws = open_workspace(tmp / "ws")
        for pid, mail in people:
            r = lookup(ws, pick=f"people.person:{pid}", audit_log=False)
            own_orders = sorted(o for o, p, _ in orders if p == pid)
            own_events = sorted(e for e, o in events if o in own_orders)
            got = {name: sorted(k[0] for k in recs.keys()) for name, recs in r.records.items()}
            assert got.get("people.person") == [pid]
            assert got.get("shop.orders", []) == own_orders
            assert got.get("shop.order_events", []) == own_events
            assert "shop.items" not in r.records
            items = sorted({i for o, p, i in orders if p == pid})
            ctx_items = sorted(k[0] for k in r.context["shop.items"].keys()) if "shop.items" in r.context else []
            assert ctx_items == items

            sharing = sorted(p for p, m in people if m == mail)
            by_mail = lookup(ws, mail, audit_log=False)
            if len(sharing) > 1:
                assert by_mail.status == "ambiguous" and not by_mail.records
                assert sorted(c.key[0] for c in by_mail.candidates) == sharing
            else:
                assert by_mail.status == "found" and by_mail.subject.key == (pid,)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
