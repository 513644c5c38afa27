"""Property: holds and retention are never bypassed (hypothesis), checked against a model written independently of
privacyops' hold and retention code.

Each example generates a mini schema's data — people (e-mail, maybe a phone, maybe closed), their orders (dates, a
payment date or none), the orders' lines, a newsletter list by e-mail (people's and strangers' addresses) — and:

* rules: orders serve a legal obligation, kept for a random period from a random anchor (the order day, the end of
  its month or fiscal year, the payment day, which may be empty); people and the newsletter get a rule too, binding
  (a legal obligation) or only a maximum, with random periods;
* holds: on a person (placed by their e-mail, phone, reference or a reference with a leading zero, as
  `privacyops hold add` does) or on a dataset, each active or released, with or without a review date;
* the day of the plans (never after today) and the person whose erasure is requested.

Then a request plan (by a random identifier of the person) and a retention sweep are made. The model says which
rows may not be touched: every row of a person under an active subject hold (their row, orders, the orders' lines,
their newsletter rows); every row of a dataset under an active dataset hold and every row belonging to one (down
people -> orders -> lines); every row whose binding rule still runs (its anchor empty, or the day not past anchor +
period, months clamped to the month's end) and the lines of such an order. No plan deletes or masks such a row
(blocked, or retained whole: the binding datasets keep every field), and a sample of the plans is executed: every
such row is then exactly as it was (SQL).
"""

from __future__ import annotations

import calendar
import datetime as dt
import shutil
from dataclasses import dataclass

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacyops.erasure import BLOCKED, DELETE, MASK, RETAIN, approve_plan, execute_plan, plan_erasure, plan_retention
from privacyops.erasure.holds_resolve import place_hold
from privacyops.ledger import open_case, open_ledger, release_hold
from privacyops.workspace import open_workspace

pytestmark = pytest.mark.slow  # hypothesis: hundreds of generated plans and executions

D = dt.date
TODAY = dt.date.today()

MAP = """
version: 1
organisation: {{name: Props Org, contact: privacy@props.example, authority: {{name: Test Authority, country: LV}}}}
settings: {{fiscal_year_start: "{fy}"}}
purposes:
  service: {{description: Run the service, legal_basis: contract}}
  mail: {{description: Newsletters, legal_basis: consent}}
  books: {{description: Bookkeeping, legal_basis: legal_obligation}}
retention:
  orders: {{keep: {orders_keep}, from: "{orders_from}", ground: "Test law s.1"}}
  people: {{keep: {people_keep}, from: closed_at, ground: "Test law s.2"}}
  news: {{keep: {news_keep}, from: signed_up_at, ground: "Test law s.3"}}
sources:
  main: {{kind: duckdb, path: main.duckdb, location: LV}}
datasets:
  crm.people:
    source: main
    subject: person
    primary_key: pid
    identities: {{email: email, phone: phone, name: full_name}}
    purposes: [service{people_books}]
    retention: people
    fields: {{full_name: user.name, email: user.contact.email, phone: user.contact.phone_number,
             closed_at: system.operations}}
    erasure: {people_erasure}
  shop.orders:
    source: main
    primary_key: oid
    references: {{pid: crm.people.pid}}
    purposes: [service, books]
    retention: orders
    fields: {{note: {{category: user.content, free_text: true}}, ordered_at: system.operations,
             paid_at: system.operations}}
  shop.lines:
    source: main
    primary_key: lid
    references: {{oid: shop.orders.oid}}
    purposes: [service, books]
    fields: {{qty: system.operations}}
  mail.news:
    source: main
    primary_key: nid
    identities: {{email: address}}
    purposes: [mail{news_books}]
    retention: news
    fields: {{address: user.contact.email, signed_up_at: system.operations}}
"""
TABLES = ("crm.people", "shop.orders", "shop.lines", "mail.news")


# ---------------------------------------------------------------------------------------------------------------
# Generated cases.

days = st.dates(min_value=D(2015, 1, 1), max_value=TODAY)
periods = st.tuples(st.integers(min_value=1, max_value=8), st.sampled_from(["days", "months", "years"]))
person = st.tuples(st.booleans(), st.one_of(st.none(), days))  # has a phone, closed on
order = st.tuples(st.integers(0, 3), days, st.one_of(st.none(), days), st.lists(st.integers(1, 5), max_size=2))
signup = st.tuples(st.integers(0, 5), days)  # whose address (>= number of people: a stranger's), signed up on
hold = st.one_of(
    st.tuples(st.just("subject"), st.integers(0, 3), st.sampled_from(["email", "phone", "ref", "ref0"]),
              st.booleans(), st.one_of(st.none(), st.integers(1, 400))),
    st.tuples(st.just("dataset"), st.sampled_from(TABLES), st.just(""), st.booleans(),
              st.one_of(st.none(), st.integers(1, 400))),
)


@dataclass
class Case:
    people: list
    orders: list
    news: list
    orders_rule: tuple
    orders_from: str
    people_rule: tuple
    people_binding: bool
    people_mask: bool
    news_rule: tuple
    news_binding: bool
    fy: str
    holds: list
    as_of: D
    subject: int
    by: str
    execute: str


@st.composite
def cases(draw) -> Case:
    people = draw(st.lists(person, min_size=1, max_size=4))
    n = len(people)
    orders = [(p % n, day, paid, lines) for p, day, paid, lines in draw(st.lists(order, max_size=6))]
    return Case(
        people=people, orders=orders, news=draw(st.lists(signup, max_size=4)),
        orders_rule=draw(periods),
        orders_from=draw(st.sampled_from(["ordered_at", "end_of_month(ordered_at)", "end_of_fiscal_year(ordered_at)",
                                          "paid_at"])),
        people_rule=draw(periods), people_binding=draw(st.booleans()), people_mask=draw(st.booleans()),
        news_rule=draw(periods), news_binding=draw(st.booleans()), fy=draw(st.sampled_from(["01-01", "07-01"])),
        holds=[(k, t % n if k == "subject" else t, how, active, review)
               for k, t, how, active, review in draw(st.lists(hold, max_size=3))],
        as_of=draw(st.dates(min_value=D(2016, 1, 1), max_value=TODAY)),
        subject=draw(st.integers(0, n - 1)), by=draw(st.sampled_from(["email", "ref", "phone"])),
        execute=draw(st.sampled_from(["none", "none", "none", "none", "request", "sweep"])),
    )


def email(i: int) -> str:
    return f"p{i}@props.example"


def phone(i: int) -> str:
    return f"+371 2{i:03d} {5000 + i:04d}"


# ---------------------------------------------------------------------------------------------------------------
# The workspace of one case.


EMPTY = Case([(False, None)], [], [], (1, "years"), "ordered_at", (1, "years"), False, False, (1, "years"), False,
             "01-01", [], TODAY, 0, "email", "none")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Keys and an initialised ledger, made once (each example copies them, then writes its map and data)."""
    root = tmp_path_factory.mktemp("holds-props") / "template"
    root.mkdir()
    (root / "privacyops.yaml").write_text(render(EMPTY))
    write_data(root, EMPTY)
    place_hold(open_workspace(root), dataset="mail.news", reason="warm-up", owner="test")  # keys, ledger tables
    with open_ledger(open_workspace(root)) as con:
        con.execute("DELETE FROM legal_holds")
    (root / "main.duckdb").unlink()
    return root


def render(c: Case) -> str:
    keep = (lambda p: f"{p[0]} {p[1]}")
    erasure = ("{action: mask, mask: {full_name: redact, phone: redact}}" if c.people_mask else "{action: delete}")
    return MAP.format(fy=c.fy, orders_keep=keep(c.orders_rule), orders_from=c.orders_from,
                      people_keep=keep(c.people_rule), news_keep=keep(c.news_rule),
                      people_books=", books" if c.people_binding else "",
                      news_books=", books" if c.news_binding else "", people_erasure=erasure)


def write_data(root, c: Case) -> None:
    people = [(i + 1, f"Person Nr{i}", email(i), phone(i) if has_phone else None, closed)
              for i, (has_phone, closed) in enumerate(c.people)]
    orders = [(100 + j, p + 1, f"note {j}", day, paid) for j, (p, day, paid, _) in enumerate(c.orders)]
    lines = [(lid, oid, qty) for lid, (oid, qty) in enumerate(((100 + j, q) for j, o in enumerate(c.orders)
                                                               for q in o[3]), start=1)]
    news = [(k + 1, email(who) if who < len(c.people) else f"stranger{who}@else.example", day)
            for k, (who, day) in enumerate(c.news)]
    con = duckdb.connect(str(root / "main.duckdb"))
    con.execute("CREATE SCHEMA crm; CREATE SCHEMA shop; CREATE SCHEMA mail; "
                "CREATE TABLE crm.people (pid INTEGER, full_name VARCHAR, email VARCHAR, phone VARCHAR, "
                "closed_at DATE); "
                "CREATE TABLE shop.orders (oid INTEGER, pid INTEGER, note VARCHAR, ordered_at DATE, paid_at DATE); "
                "CREATE TABLE shop.lines (lid INTEGER, oid INTEGER, qty INTEGER); "
                "CREATE TABLE mail.news (nid INTEGER, address VARCHAR, signed_up_at DATE)")
    for table, rows in (("crm.people", people), ("shop.orders", orders), ("shop.lines", lines), ("mail.news", news)):
        if rows:  # one statement per table: an example's set-up stays a small part of its time
            marks = ", ".join("(" + ", ".join("?" for _ in rows[0]) + ")" for _ in rows)
            con.execute(f"INSERT INTO {table} VALUES {marks}", [v for r in rows for v in r])
    con.close()


def snapshot(root) -> dict[str, dict[int, tuple]]:
    """Every row of every table, by its key (the first column)."""
    con = duckdb.connect(str(root / "main.duckdb"), read_only=True)
    try:
        return {t: {r[0]: r for r in con.execute(f"SELECT * FROM {t}").fetchall()} for t in TABLES}
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------------------------
# The model (calendar arithmetic written out here, not privacyops').


def add(day: D, period: tuple) -> D:
    amount, unit = period
    if unit == "days":
        return day + dt.timedelta(days=amount)
    months = amount * (12 if unit == "years" else 1)
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return D(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def anchor(c: Case, ordered: D, paid: D | None) -> D | None:
    if c.orders_from == "paid_at":
        return paid
    if c.orders_from == "end_of_month(ordered_at)":
        return ordered.replace(day=calendar.monthrange(ordered.year, ordered.month)[1])
    if c.orders_from == "end_of_fiscal_year(ordered_at)":
        start = D(ordered.year, int(c.fy[:2]), 1)
        return (D(ordered.year + 1, start.month, 1) if ordered >= start else start) - dt.timedelta(days=1)
    return ordered


def runs(start: D | None, period: tuple, as_of: D) -> bool:
    """Whether a binding rule still holds the row on `as_of`: not started (no anchor), or kept through
    anchor + period."""
    return start is None or as_of <= add(start, period)


def protected(c: Case, before: dict, active: list) -> dict[tuple[str, int], str]:
    """(table, key) -> why it may not be touched."""
    out: dict[tuple[str, int], str] = {}
    orders, lines, news = before["shop.orders"], before["shop.lines"], before["mail.news"]
    for oid, _pid, _note, day, paid in orders.values():
        if runs(anchor(c, day, paid), c.orders_rule, c.as_of):
            out[("shop.orders", oid)] = "orders rule runs"
            out.update({("shop.lines", lid): "its order's rule runs" for lid, o, _ in lines.values() if o == oid})
    if c.people_binding:
        out.update({("crm.people", pid): "people rule runs" for pid, *_rest, closed in before["crm.people"].values()
                    if runs(closed, c.people_rule, c.as_of)})
    if c.news_binding:
        out.update({("mail.news", nid): "news rule runs" for nid, _a, day in news.values()
                    if runs(day, c.news_rule, c.as_of)})
    for kind, target, *_ in active:
        if kind == "subject":
            pids = {target + 1}
            out.update({("crm.people", p): "subject hold" for p in pids})
        elif target == "mail.news":
            out.update({("mail.news", n): "dataset hold" for n in news})
            continue
        else:
            pids = set(before["crm.people"]) if target == "crm.people" else set()
            out.update({("crm.people", p): "dataset hold" for p in pids})
        oids = {o for o, p, *_ in orders.values() if p in pids} | (set(orders) if target == "shop.orders" else set())
        out.update({("shop.orders", o): f"{kind} hold" for o in oids})
        out.update({("shop.lines", lid): f"{kind} hold" for lid, o, _ in lines.values()
                    if o in oids or target == "shop.lines"})
        if kind == "subject":
            out.update({("mail.news", n): "subject hold" for n, address, _ in news.values()
                        if address == email(target)})
    return out


# ---------------------------------------------------------------------------------------------------------------
# The property.


def place(ws, c: Case, monkeypatch) -> list:
    """Place the case's holds as `privacyops hold add` does; release the inactive ones. Returns the active ones."""
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "legal")
    active = []
    for kind, target, how, is_active, review in c.holds:
        since = TODAY - dt.timedelta(days=30)
        review_on = since + dt.timedelta(days=review) if review else None
        if kind == "subject":
            how = "email" if how == "phone" and not c.people[target][0] else how
            given_as = {"email": email(target), "phone": phone(target), "ref": f"crm.people:{target + 1}",
                        "ref0": f"crm.people:0{target + 1}"}[how]
            h, _ = place_hold(ws, subject=given_as, reason="litigation", owner="legal", since=since,
                              review_on=review_on)
        else:
            h, _ = place_hold(ws, dataset=target, reason="audit", owner="cfo", since=since, review_on=review_on)
        if is_active:
            active.append((kind, target))
        else:
            release_hold(ws, h.hold_id, "closed")
    return active


def plans(ws, c: Case, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    case_id = open_case(ws, "erasure", c.as_of).case_id
    by = "email" if c.by == "phone" and not c.people[c.subject][0] else c.by
    if by == "ref":
        request = plan_erasure(ws, case_id, pick=f"crm.people:{c.subject + 1}", as_of=c.as_of)
    else:
        request = plan_erasure(ws, case_id, email(c.subject) if by == "email" else phone(c.subject), as_of=c.as_of)
    sweep = plan_retention(ws, c.as_of, save=c.execute == "sweep")
    return request, sweep


SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_no_plan_touches_a_held_or_retained_row_and_executing_changes_none(template, monkeypatch, c):
    root = template.parent / "ws"  # one path for every example: the ledger's tables are then checked once
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(template, root)
    (root / "privacyops.yaml").write_text(render(c))
    write_data(root, c)
    ws = open_workspace(root)
    ledger = duckdb.connect(str(root / "ledger.duckdb"))
    try:
        check(ws, c, root, monkeypatch)
    finally:
        ledger.close()


# `ledger`, above: one connection to the ledger open for the whole example, so that DuckDB keeps the database in
# memory across privacyops' many short ledger connections (each would otherwise read the file again, ~10 ms apiece:
# most of an example's time). The sources are read read-only and written read-write, so none is held open for them.


def check(ws, c: Case, root, monkeypatch) -> None:
    before = snapshot(root)
    active = place(ws, c, monkeypatch)
    keep = protected(c, before, active)
    request, sweep = plans(ws, c, monkeypatch)
    for plan in (request, sweep):
        for r in plan.rows:
            why = keep.get((r.dataset, r.key[0]))
            if why is None:
                continue
            touched = r.action in (DELETE, MASK) or (r.action == RETAIN and r.masks)
            assert not touched, f"{plan.kind} plan: {r.ref} ({why}) planned {r.action}: {r.reason}"
            assert r.action in (BLOCKED, RETAIN)
            if why.endswith("hold"):
                assert r.action == BLOCKED and r.hold_id, f"{plan.kind} plan: {r.ref} ({why}): {r.reason}"
    if c.execute == "none":
        return
    plan = request if c.execute == "request" else sweep
    if c.execute == "request":
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
        approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    after = snapshot(root)
    changed = {(t, k): keep[(t, k)] for t in TABLES for k, row in before[t].items()
               if (t, k) in keep and after[t].get(k) != row}
    assert changed == {}
