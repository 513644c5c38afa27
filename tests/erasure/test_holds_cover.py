"""Holds cover what belongs to the held records, in every kind of plan, and shared reference data is never erased
for one person — on the mini workspace (tests/support/mini.py, with a bookkeeping rule on orders) and on the demo.

Regressions (a tester's findings): a dataset hold on tickets left their messages planned for deletion; `erase
--pick` of a shared reference dataset (`catalog.products:3`) planned to delete the shared product rows.

Every expectation comes from SQL against the data, never from the code under test.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from click.testing import CliRunner

from privacyops.cli import main
from privacyops.erasure import (
    BLOCKED,
    DELETE,
    ErasureError,
    approve_plan,
    erase_due,
    execute_plan,
    list_plans,
    plan_batch,
    plan_erasure,
    plan_retention,
)
from privacyops.erasure.holds_resolve import place_hold
from privacyops.ledger import add_hold, open_case, release_hold
from privacyops.workspace import open_workspace
from tests.support.demo import dq
from tests.support.mini import erase_map

TODAY = dt.date.today()  # plans that change data are never made for a later day
REFERENCE_DATA = ("{ref} is shared reference data (other people's records point at it): it is never erased for "
                  "one person; pick the person instead")

# Notes on orders (one table more for the mini map): they belong to their order and have a retention rule of their
# own that is only a maximum, so a retention sweep reads them without their orders or their people.
NOTES_RULE = '  notes: {keep: 1 year, from: written_at, ground: "Test policy: notes are kept a year"}\n'
NOTES = """  shop.order_notes:
    source: main
    primary_key: nid
    references: {oid: shop.orders.oid}
    purposes: [service]
    retention: notes
    fields: {text: {category: user.content, free_text: true}, written_at: system.operations}
"""
# Notes on catalogue items: the items are then both shared reference data (for orders) and what notes belong to.
ITEM_NOTES = """  shop.item_notes:
    source: main
    primary_key: inid
    references: {item_id: shop.items.item_id}
    purposes: [service]
    fields: {remark: system.operations}
"""


def reopen(ws, text: str):
    (ws.root / "privacyops.yaml").write_text(text)
    return open_workspace(ws.root)


@pytest.fixture()
def ews(mini_ws):
    return reopen(mini_ws, erase_map())


def q(ws, sql: str, params=()) -> list:
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return [r[0] if len(r) == 1 else r for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def write(ws, *statements: str) -> None:
    con = duckdb.connect(str(ws.root / "main.duckdb"))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def events(ws) -> list[tuple]:
    return duckdb.connect().execute(f"SELECT eid, oid, ip FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}')"
                                    f" ORDER BY eid").fetchall()


def actor(monkeypatch, name: str) -> None:
    monkeypatch.setenv("PRIVACYOPS_ACTOR", name)


def case(ws) -> str:
    return open_case(ws, "erasure", TODAY).case_id


def planned(ws, monkeypatch, subject: str | None = "M-001", **kw):
    actor(monkeypatch, "alice")
    return plan_erasure(ws, case(ws), subject, as_of=TODAY, **kw)


def run(ws, monkeypatch, plan):
    actor(monkeypatch, "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    return result


# ---------------------------------------------------------------------------------------------------------------
# A dataset hold covers the rows that belong to the held rows.


def test_a_dataset_hold_on_orders_holds_their_events_and_execution_leaves_them(ews, monkeypatch):
    hold = add_hold(ews, dataset="shop.orders", reason="tax audit 2026", owner="cfo")
    orders = q(ews, "SELECT oid FROM shop.orders WHERE pid = 1 ORDER BY 1")
    held_events = [e for e in events(ews) if e[1] in orders]
    assert orders and held_events
    plan = planned(ews, monkeypatch)
    for eid, oid, _ in held_events:
        r = plan.row("shop.order_events", (eid,))
        assert r.action == BLOCKED and r.hold_id == hold.hold_id and r.scheduled and not r.masks
        assert r.reason.startswith(f"blocked with shop.orders:{oid}, held by {hold.hold_id} (legal hold on dataset "
                                   f"shop.orders: tax audit 2026; owner cfo, since {hold.since})")
        assert r.basis.startswith("hold: ")
    assert {plan.row("shop.orders", (o,)).action for o in orders} == {BLOCKED}
    assert plan.row("people.person", (1,)).action == DELETE  # the person does not belong to the orders
    run(ews, monkeypatch, plan)
    assert [e for e in events(ews) if e[1] in orders] == held_events
    assert q(ews, "SELECT oid FROM shop.orders WHERE pid = 1 ORDER BY 1") == orders
    assert q(ews, "SELECT count(*) FROM people.person WHERE pid = 1") == [0]


def test_a_dataset_hold_on_people_holds_everything_that_belongs_to_them(ews, monkeypatch):
    hold = add_hold(ews, dataset="people.person", reason="class action", owner="legal")
    orders = q(ews, "SELECT oid FROM shop.orders WHERE pid = 1 ORDER BY 1")
    plan = planned(ews, monkeypatch)
    for oid in orders:
        r = plan.row("shop.orders", (oid,))
        assert r.action == BLOCKED and r.reason.startswith(f"blocked with people.person:1, held by {hold.hold_id}")
    for eid, oid, _ in (e for e in events(ews) if e[1] in orders):
        r = plan.row("shop.order_events", (eid,))  # two levels down: event -> order -> person
        assert r.action == BLOCKED and r.reason.startswith(f"blocked with people.person:1, held by {hold.hold_id}")
    # The newsletter row holds the person's e-mail but belongs to nobody: not covered by the hold.
    [sid] = q(ews, "SELECT sid FROM mail.subscribers WHERE address = (SELECT mail2 FROM people.person WHERE pid = 1)")
    assert plan.row("mail.subscribers", (sid,)).action == DELETE


def test_a_retention_sweep_never_erases_what_belongs_to_a_held_row_or_person(ews, monkeypatch):
    text = erase_map().replace("retention:\n", "retention:\n" + NOTES_RULE, 1) + NOTES
    ws = reopen(ews, text)
    write(ws, "CREATE TABLE shop.order_notes (nid INTEGER, oid INTEGER, text VARCHAR, written_at DATE)",
          "INSERT INTO shop.order_notes SELECT 500 + oid, oid, 'note', DATE '2020-01-01' FROM shop.orders")
    notes = dict(q(ws, "SELECT n.nid, o.pid FROM shop.order_notes n JOIN shop.orders o USING (oid)"))
    assert q(ws, "SELECT count(*) FROM shop.order_notes WHERE written_at + INTERVAL 1 YEAR >= ?", [TODAY]) == [0]
    actor(monkeypatch, "legal")
    hold, person = place_hold(ws, subject="M-001", reason="litigation", owner="legal")
    sweep = plan_retention(ws, TODAY, datasets=["shop.order_notes"], save=False)
    mine = {n for n, pid in notes.items() if pid == 1}
    assert {r.key[0] for r in sweep.rows} == set(notes) - mine and {r.action for r in sweep.rows} == {DELETE}
    skipped = {n.key[0]: n.why for n in sweep.not_erased}
    assert set(skipped) == mine
    assert all(why.startswith(f"not erased: blocked with {person.ref}, held by {hold.hold_id} (legal hold on the "
                              f"person: litigation") for why in skipped.values())
    release_hold(ws, hold.hold_id)
    held = add_hold(ws, dataset="shop.orders", reason="tax audit", owner="cfo")
    sweep = plan_retention(ws, TODAY, datasets=["shop.order_notes"])
    oid_of = dict(q(ws, "SELECT nid, oid FROM shop.order_notes"))
    assert sweep.rows == [] and {n.key[0] for n in sweep.not_erased} == set(notes)
    assert all(n.why.startswith(f"not erased: blocked with shop.orders:{oid_of[n.key[0]]}, held by {held.hold_id}")
               for n in sweep.not_erased)
    before = q(ws, "SELECT * FROM shop.order_notes ORDER BY 1")
    assert execute_plan(ws, sweep.plan_id).ok
    assert q(ws, "SELECT * FROM shop.order_notes ORDER BY 1") == before


def test_a_due_erasure_keeps_what_belongs_to_a_row_held_meanwhile(ews, monkeypatch):
    first = add_hold(ews, dataset="shop.order_events", reason="security investigation", owner="ciso")
    plan = planned(ews, monkeypatch)
    run(ews, monkeypatch, plan)  # the events are held and scheduled; order 101 is kept for the books
    mine = [e for e in events(ews) if e[1] in (100, 101)]
    assert [e[0] for e in mine] == [1000, 1001]
    release_hold(ews, first.hold_id)
    second = add_hold(ews, dataset="shop.orders", reason="tax audit", owner="cfo")
    staying = set(q(ews, "SELECT oid FROM shop.orders"))  # order 100 went (its rule ended), 101 stays
    assert 101 in staying and 100 not in staying
    actor(monkeypatch, "scheduler")
    [result] = erase_due(ews, TODAY)
    assert result.ok, result.verification.problems
    r = result.plan.row("shop.order_events", (1001,))
    assert r.action == BLOCKED and r.reason.startswith(f"blocked with shop.orders:101, held by {second.hold_id}")
    assert result.plan.row("shop.order_events", (1000,)).action == DELETE  # its order is gone: nothing holds it
    assert [e for e in events(ews) if e[1] in (100, 101)] == [e for e in mine if e[1] in staying]


def test_a_batch_plan_holds_what_belongs_to_held_rows_and_never_plans_reference_data(ews, monkeypatch, tmp_path):
    hold = add_hold(ews, dataset="shop.orders", reason="tax audit", owner="cfo")
    f = tmp_path / "subjects.csv"
    f.write_text("subject,pick\nM-001,\n,shop.items:10\n")
    actor(monkeypatch, "alice")
    plan = plan_batch(ews, f, case(ews), as_of=TODAY)
    orders = q(ews, "SELECT oid FROM shop.orders WHERE pid = 1")
    for eid, oid, _ in (e for e in events(ews) if e[1] in orders):
        r = plan.row("shop.order_events", (eid,))
        assert r.action == BLOCKED and r.reason.startswith(f"blocked with shop.orders:{oid}, held by {hold.hold_id}")
    assert not [r for r in plan.rows if r.dataset == "shop.items"]
    assert [(n.key, n.why) for n in plan.not_erased if n.dataset == "shop.items" and n.subject == "shop.items:10"] \
        == [((10,), "not erased: " + REFERENCE_DATA.format(ref="shop.items:10"))]


# ---------------------------------------------------------------------------------------------------------------
# Shared reference data is never erased for one person.


def test_a_pick_of_shared_reference_data_is_refused(ews, monkeypatch):
    referencing = q(ews, "SELECT count(*) FROM shop.orders WHERE item_id = 10")
    assert referencing != [0]  # other people's records point at it
    items = q(ews, "SELECT * FROM shop.items ORDER BY 1")
    with pytest.raises(ErasureError) as err:
        planned(ews, monkeypatch, None, pick="shop.items:10")
    assert str(err.value) == REFERENCE_DATA.format(ref="shop.items:10")
    assert list_plans(ews) == [] and q(ews, "SELECT * FROM shop.items ORDER BY 1") == items
    # A row of nobody's that no record points at (a newsletter address) is still erased when picked.
    plan = planned(ews, monkeypatch, None, pick="mail.subscribers:2")
    assert [(r.ref, r.action) for r in plan.rows] == [("mail.subscribers:2", DELETE)]


def test_a_row_shown_as_context_is_refused_and_an_unshared_one_of_the_same_dataset_is_not(ews, monkeypatch):
    ws = reopen(ews, erase_map() + ITEM_NOTES)
    write(ws, "INSERT INTO shop.items VALUES (13, 'Spare part')",
          "CREATE TABLE shop.item_notes (inid INTEGER, item_id INTEGER, remark VARCHAR)",
          "INSERT INTO shop.item_notes VALUES (1, 13, 'fragile'), (2, 10, 'bestseller')")
    assert q(ws, "SELECT count(*) FROM shop.orders WHERE item_id = 10") != [0]
    assert q(ws, "SELECT count(*) FROM shop.orders WHERE item_id = 13") == [0]
    with pytest.raises(ErasureError, match="^shop.items:10 is shared reference data"):
        planned(ws, monkeypatch, None, pick="shop.items:10")
    plan = planned(ws, monkeypatch, None, pick="shop.items:13")
    notes = q(ws, "SELECT inid FROM shop.item_notes WHERE item_id = 13")
    assert {(r.dataset, r.key) for r in plan.rows} == {("shop.items", (13,))} | {("shop.item_notes", (n,))
                                                                                 for n in notes}


# ---------------------------------------------------------------------------------------------------------------
# The demo.


def test_demo_a_dataset_hold_on_tickets_holds_their_messages(demo, monkeypatch):
    ws = demo
    cid, n = dq(ws, "SELECT t.customer_id, count(*) FROM support.tickets t JOIN support.ticket_messages m USING "
                    "(ticket_id) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1")[0]
    messages = dict(dq(ws, "SELECT m.message_id, m.ticket_id FROM support.ticket_messages m JOIN support.tickets t "
                           "USING (ticket_id) WHERE t.customer_id = ?", [cid]))
    assert len(messages) == n > 1
    before = dq(ws, "SELECT * FROM support.ticket_messages WHERE ticket_id IN (SELECT ticket_id FROM support.tickets "
                    "WHERE customer_id = ?) ORDER BY 1", [cid])
    actor(monkeypatch, "legal")
    hold = add_hold(ws, dataset="support.tickets", reason="complaint 2026-44", owner="dpo")
    plan = planned(ws, monkeypatch, None, pick=f"crm.customers:{cid}")
    for mid, tid in messages.items():
        r = plan.row("support.ticket_messages", (mid,))
        assert r.action == BLOCKED and r.hold_id == hold.hold_id
        assert r.reason.startswith(f"blocked with support.tickets:{tid}, held by {hold.hold_id}")
    run(ws, monkeypatch, plan)
    assert dq(ws, "SELECT * FROM support.ticket_messages WHERE message_id IN (SELECT unnest(?::INTEGER[])) "
                  "ORDER BY 1", [list(messages)]) == before
    assert dq(ws, "SELECT count(*) FROM crm.customers WHERE customer_id = ?", [cid]) == [0]


def test_demo_a_retention_sweep_of_messages_skips_those_of_held_tickets(demo, monkeypatch):
    ws = demo
    overdue = set(dq(ws, "SELECT message_id FROM support.ticket_messages WHERE CAST(sent_at AS DATE) + "
                         "INTERVAL 2 YEAR < ?", [TODAY]))  # the map: support_messages, 2 years from sent_at
    assert overdue
    actor(monkeypatch, "scheduler")
    add_hold(ws, dataset="support.tickets", reason="complaint 2026-44", owner="dpo")
    sweep = plan_retention(ws, TODAY, datasets=["support.ticket_messages"], save=False)
    assert [r for r in sweep.rows if r.dataset == "support.ticket_messages"] == []
    skipped = {n.key[0] for n in sweep.not_erased if "blocked with support.tickets:" in n.why}
    assert skipped == overdue


def test_demo_pick_of_a_catalogue_product_is_refused(demo, monkeypatch):
    ws = demo
    [product] = dq(ws, "SELECT min(product_id) FROM catalog.products WHERE product_id IN (SELECT product_id FROM "
                       "billing.invoice_lines)")
    products = dq(ws, "SELECT * FROM catalog.products ORDER BY 1")
    ref = f"catalog.products:{product}"
    with pytest.raises(ErasureError) as err:
        planned(ws, monkeypatch, None, pick=ref)
    assert str(err.value) == REFERENCE_DATA.format(ref=ref)
    got = CliRunner().invoke(main, ["erase", "plan", "-w", str(ws.root), "--case", case(ws), "--pick", ref])
    assert got.exit_code != 0 and REFERENCE_DATA.format(ref=ref) in " ".join(got.output.split())
    assert list_plans(ws) == [] and dq(ws, "SELECT * FROM catalog.products ORDER BY 1") == products
    # An employee (a subject, whom tickets point at as shared data) is still a person who can be erased.
    [agent] = dq(ws, "SELECT min(agent_id) FROM support.agents")
    plan = planned(ws, monkeypatch, None, pick=f"support.agents:{agent}")
    assert plan.row("support.agents", (agent,)).action != BLOCKED
