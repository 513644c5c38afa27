"""Retention through a reference (`from: member_id.left_on`) and kept while the anchor is empty
(`keep_while_empty: true`), in every consumer: the per-row dates, the erasure decisions (a request, a due run, a
retention sweep), the letter's wording.

The workspace is hand-made here: a club in DuckDB (members with `left_on`; access cards counting from their
member's `left_on`, a legal obligation; rentals kept while not returned) and a front desk in SQLite in the same
workspace (lockers counting from the DuckDB member's `left_on` — another store; loans kept while not returned; loan
fees counting from their loan's `returned_at` — the same SQLite store). Every expected date comes from SQL written
here, independently of privacyops' SQL (DuckDB's `last_day`, SQLite's `date()` modifiers), checked against a few
calendar facts written out by hand.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from privacyops.access.letter import retention_text
from privacyops.erasure import (
    BLOCKED,
    DELETE,
    RETAIN,
    approve_plan,
    erase_due,
    execute_plan,
    plan_erasure,
    plan_retention,
)
from privacyops.erasure.decide import Decider
from privacyops.erasure.retention import as_date, binding_rule, erasable_from, is_binding, retained_until
from privacyops.erasure.retention_sql import end_dates, overdue_keys, rows_end_sql
from privacyops.ledger import open_case, schedule
from privacyops.workspace import open_workspace

D = dt.date
AS_OF = D(2026, 6, 1)

CLUB_MAP = """
version: 1
organisation:
  name: Anchor Club
  contact: privacy@club.example
  authority: {name: Test Authority, country: LV}
purposes:
  membership: {description: Run the club, legal_basis: contract}
  safety: {description: Site access records the law requires, legal_basis: legal_obligation}
retention:
  cards: {keep: 1 year, from: end_of_month(member_id.left_on), ground: "Site Security Act s.3"}
  rentals: {keep: 90 days, from: returned_at, keep_while_empty: true, ground: "Rental terms s.4"}
  lockers: {keep: 6 months, from: member_id.left_on, keep_while_empty: true, ground: "Locker terms s.2"}
  fees: {keep: 30 days, from: loan_id.returned_at, keep_while_empty: true, ground: "Fee terms s.1"}
sources:
  club: {kind: duckdb, path: clubhouse.duckdb, location: LV}
  desk: {kind: sqlite, path: desk.sqlite, location: LV}
datasets:
  club.members:
    source: club
    subject: member
    primary_key: member_id
    identities: {email: email}
    purposes: [membership]
    fields: {email: user.contact.email, full_name: user.name, left_on: system.operations}
  club.access_cards:
    source: club
    primary_key: card_id
    references: {member_id: club.members.member_id}
    purposes: [safety]
    retention: cards
    fields: {issued_at: system.operations}
  club.rentals:
    source: club
    primary_key: rental_id
    references: {member_id: club.members.member_id}
    purposes: [membership]
    retention: rentals
    erasure: {keep_fields: [rental_id, member_id, item, returned_at]}
    fields: {item: system.operations, rented_at: system.operations, returned_at: system.operations}
  desk.lockers:
    source: desk
    table: lockers
    primary_key: locker_id
    references: {member_id: club.members.member_id}
    purposes: [membership]
    retention: lockers
    fields: {label: system.operations}
  desk.loans:
    source: desk
    table: loans
    primary_key: loan_id
    references: {member_id: club.members.member_id}
    purposes: [membership]
    retention: rentals
    fields: {item: system.operations, returned_at: system.operations}
  desk.loan_fees:
    source: desk
    table: loan_fees
    primary_key: fee_id
    references: {loan_id: desk.loans.loan_id}
    purposes: [membership]
    retention: fees
    fields: {amount: system.operations}
"""

# dataset -> (store, independent SQL giving (key, last day kept) per row)
TRUTH = {
    # the end of the member's leaving month, plus 12 months: the last day of the month 12 months later
    "club.access_cards": ("club", "SELECT c.card_id, last_day(m.left_on + INTERVAL 12 MONTH) FROM club.access_cards c "
                                  "LEFT JOIN club.members m ON m.member_id = c.member_id"),
    "club.rentals": ("club", "SELECT rental_id, CAST(returned_at AS DATE) + 90 FROM club.rentals"),
    # the members live in DuckDB: copied into a temporary SQLite table first (see `truth`)
    "desk.lockers": ("desk", "SELECT l.locker_id, date(m.left_on, '+6 months') FROM lockers l "
                             "LEFT JOIN temp.m m ON m.member_id = l.member_id"),
    "desk.loans": ("desk", "SELECT loan_id, date(returned_at, '+90 days') FROM loans"),
    "desk.loan_fees": ("desk", "SELECT f.fee_id, date(l.returned_at, '+30 days') FROM loan_fees f "
                               "LEFT JOIN loans l ON l.loan_id = f.loan_id"),
}
RULED = list(TRUTH)
COLUMN = {"club.access_cards": "member_id.left_on", "club.rentals": "returned_at", "desk.lockers": "member_id.left_on",
          "desk.loans": "returned_at", "desk.loan_fees": "loan_id.returned_at"}


def build_club(root: Path) -> Path:
    """The club workspace (see the module docstring): a DuckDB file and a SQLite file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "privacyops.yaml").write_text(CLUB_MAP)
    con = duckdb.connect(str(root / "clubhouse.duckdb"))
    con.execute("CREATE SCHEMA club")
    con.execute("CREATE TABLE club.members (member_id INTEGER, full_name VARCHAR, email VARCHAR, left_on DATE)")
    con.execute("""INSERT INTO club.members VALUES
        (1, 'Anna Ozola', 'anna@club.example', DATE '2023-01-10'),
        (2, 'Boris Lapa', 'boris@club.example', DATE '2026-03-05'),
        (3, 'Clara Vītola', 'clara@club.example', NULL),
        (4, 'Dmitrijs Celms', 'dmitrijs@club.example', DATE '2024-02-29'),
        (5, 'Elza Kalna', 'elza@club.example', DATE '2025-05-20'),
        (6, 'Fricis Zars', 'fricis@club.example', DATE '2025-06-15')""")
    con.execute("CREATE TABLE club.access_cards (card_id INTEGER, member_id INTEGER, issued_at TIMESTAMP)")
    con.execute("""INSERT INTO club.access_cards VALUES
        (10, 1, TIMESTAMP '2020-01-05 09:00'), (11, 1, TIMESTAMP '2021-04-01 10:00'),
        (12, 2, TIMESTAMP '2022-02-02 11:00'), (13, 3, TIMESTAMP '2023-03-03 12:00'),
        (14, 4, TIMESTAMP '2021-05-05 13:00'), (15, 5, TIMESTAMP '2022-06-06 14:00'),
        (16, 6, TIMESTAMP '2023-07-07 15:00'), (17, 99, TIMESTAMP '2019-08-08 16:00'),
        (18, NULL, TIMESTAMP '2024-09-09 17:00')""")
    con.execute("CREATE TABLE club.rentals (rental_id INTEGER, member_id INTEGER, item VARCHAR, rented_at TIMESTAMP, "
                "returned_at TIMESTAMP)")
    con.execute("""INSERT INTO club.rentals VALUES
        (20, 1, 'Kayak', TIMESTAMP '2024-12-20 10:00', TIMESTAMP '2025-01-01 10:00'),
        (21, 2, 'Tent', TIMESTAMP '2026-02-01 09:00', NULL),
        (22, 3, 'Bike', TIMESTAMP '2026-05-01 08:00', TIMESTAMP '2026-05-20 18:30'),
        (23, 3, 'Helmet', TIMESTAMP '2026-05-01 08:00', NULL),
        (24, 6, 'Paddle', TIMESTAMP '2026-02-20 12:00', TIMESTAMP '2026-03-01 12:00'),
        (25, 5, 'Rope', TIMESTAMP '2026-03-01 09:00', TIMESTAMP '2026-03-05 09:00')""")
    con.close()
    lite = sqlite3.connect(root / "desk.sqlite")
    lite.executescript("""
        CREATE TABLE lockers (locker_id INTEGER PRIMARY KEY, member_id INTEGER, label TEXT);
        INSERT INTO lockers VALUES (30, 1, 'A1'), (31, 2, 'A2'), (32, 3, 'B1'), (33, 99, 'B2'), (34, 6, 'C1'),
                                   (35, 4, 'C2');
        CREATE TABLE loans (loan_id INTEGER PRIMARY KEY, member_id INTEGER, item TEXT, returned_at TEXT);
        INSERT INTO loans VALUES (40, 1, 'Towel', '2026-01-31 12:00:00'), (41, 2, 'Key', NULL),
                                 (42, 3, 'Lamp', '2026-05-01'), (43, 4, 'Map', '');
        CREATE TABLE loan_fees (fee_id INTEGER PRIMARY KEY, loan_id INTEGER, amount REAL);
        INSERT INTO loan_fees VALUES (50, 40, 2.5), (51, 41, 3.0), (52, 42, 1.0), (53, 43, 4.0);
    """)
    lite.commit()
    lite.close()
    return root


def truth(root: Path, dataset: str) -> dict[int, dt.date | None]:
    """{key: last day kept} of one dataset, from the independent SQL of TRUTH."""
    store, sql = TRUTH[dataset]
    if store == "club":
        con = duckdb.connect(str(root / "clubhouse.duckdb"), read_only=True)
        try:
            return {k: as_date(e) for k, e in con.execute(sql).fetchall()}
        finally:
            con.close()
    duck = duckdb.connect(str(root / "clubhouse.duckdb"), read_only=True)
    members = [(m, d.isoformat() if d else None) for m, d in
               duck.execute("SELECT member_id, left_on FROM club.members").fetchall()]
    duck.close()
    lite = sqlite3.connect(root / "desk.sqlite")
    try:
        lite.execute("CREATE TEMP TABLE m (member_id INTEGER, left_on TEXT)")
        lite.executemany("INSERT INTO temp.m VALUES (?, ?)", members)
        return {k: as_date(e) for k, e in lite.execute(sql).fetchall()}
    finally:
        lite.close()


def overdue(ends: dict, as_of: dt.date = AS_OF) -> set:
    return {k for k, e in ends.items() if e is not None and e < as_of}


@pytest.fixture(scope="module")
def club_template(tmp_path_factory) -> Path:
    return build_club(tmp_path_factory.mktemp("club-template") / "club")


@pytest.fixture()
def club(club_template, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return open_workspace(shutil.copytree(club_template, tmp_path / "club"))


def all_rows(ws, name: str) -> list[dict]:
    ds = ws.datamap.datasets[name]
    con = ws.connector(ds.source)
    return con.execute(f"SELECT * FROM {con.relation(ds)}").dicts()


def reopen(ws, old: str, new: str):
    text = (ws.root / "privacyops.yaml").read_text()
    assert text.count(old) == 1, old
    (ws.root / "privacyops.yaml").write_text(text.replace(old, new))
    return open_workspace(ws.root)


# -- the dates ----------------------------------------------------------------------------------------------------

def test_the_independent_sql_agrees_with_the_calendar(club_template):
    """The truth itself, on calendar facts written out by hand (so that a wrong truth cannot pass unnoticed)."""
    cards = truth(club_template, "club.access_cards")
    assert cards[10] == D(2024, 1, 31)  # left 2023-01-10: end of January 2023, plus a year
    assert cards[14] == D(2025, 2, 28)  # left 2024-02-29: the end of February, plus a year (clamped)
    assert cards[13] is cards[17] is cards[18] is None  # still a member; no such member; no member
    assert truth(club_template, "club.rentals")[21] is None
    assert truth(club_template, "desk.lockers")[33] is None  # a dangling reference across stores
    assert truth(club_template, "desk.loans")[43] is None  # blank text: no date
    assert truth(club_template, "desk.loan_fees")[52] == D(2026, 5, 31)


@pytest.mark.parametrize("name", RULED)
def test_retained_until_per_row_matches_independent_sql(club, name):
    """Python (the Decider's referenced dates + retained_until) and privacyops' SQL (per row and grouped) give the
    independent SQL's date for every row, in DuckDB, in SQLite, joined in one store and fetched across two."""
    ws, dm = club, club.datamap
    ds = dm.datasets[name]
    rule = dm.retention[ds.retention]
    expected = truth(ws.root, name)
    rows = all_rows(ws, name)
    referenced = Decider(ws, AS_OF).anchor_dates(ds, rows)
    got = {r[ds.primary_key[0]]: retained_until(rule, r, dm.settings, referenced) for r in rows}
    assert got == expected
    sql = rows_end_sql(ws, ds, ds.primary_key)
    if name == "desk.lockers":  # the members are in another store: no join, fetched in chunks instead
        assert sql is None
    else:
        con = ws.connector(ds.source)
        assert {k: as_date(e) for k, e in con.execute(sql).rows} == expected
        assert (" JOIN " in sql) == ("." in COLUMN[name])
    assert end_dates(ws, ds) == dict(Counter(expected.values()))
    assert overdue_keys(ws, ds, AS_OF) == sorted(((k,) for k in overdue(expected)),
                                                 key=lambda k: (expected[k[0]], k))
    ws.close()


@pytest.mark.parametrize("name, parent_source, parent_table", [
    ("club.access_cards", "club", '"club"."members"'),  # the same store
    ("desk.lockers", "club", '"club"."members"'),  # from SQLite to DuckDB
    ("desk.loan_fees", "desk", '"loans"'),  # within SQLite
])
def test_referenced_dates_are_read_in_one_query_per_dataset_never_per_row(club, name, parent_source, parent_table):
    ws = club
    ds = ws.datamap.datasets[name]
    rows = all_rows(ws, name)
    con = ws.connector(parent_source)
    seen: list[str] = []
    real = con.execute

    def counting(sql, params=()):
        if parent_table in sql and " IN (" in sql:
            seen.append(sql)
        return real(sql, params)

    con.execute = counting
    decider = Decider(ws, AS_OF)
    decider.anchor_dates(ds, rows)
    assert len(seen) == 1
    for r in rows:
        decider.decide(ds, r)
    decider.anchor_dates(ds, rows)
    assert len(seen) == 1, "deciding and asking again must use the fetched dates"
    ws.close()


# -- the decisions ------------------------------------------------------------------------------------------------

def expected_decision(ws, name: str, end: dt.date | None) -> tuple:
    """(action, until, due_on) a row gets on AS_OF: the rules of docs/datamap.md applied to the independent date."""
    ds = ws.datamap.datasets[name]
    rule = ws.datamap.retention[ds.retention]
    if end is None:
        return (RETAIN, None, None) if rule.keep_while_empty else (BLOCKED, None, None)
    if not is_binding(ws.datamap, ds):
        return DELETE, None, None  # a maximum: erased on request
    return (RETAIN, end, erasable_from(end)) if AS_OF <= end else (DELETE, end, None)


@pytest.mark.parametrize("name", RULED)
def test_every_row_is_decided_by_its_referenced_or_empty_anchor(club, name):
    ws, dm = club, club.datamap
    ds = dm.datasets[name]
    rule = dm.retention[ds.retention]
    expected = truth(ws.root, name)
    rows = all_rows(ws, name)
    decider = Decider(ws, AS_OF)
    decider.anchor_dates(ds, rows)
    for r in rows:
        key = r[ds.primary_key[0]]
        pr = decider.decide(ds, r)
        assert (pr.action, pr.until, pr.due_on) == expected_decision(ws, name, expected[key]), key
        if expected[key] is None and rule.keep_while_empty:  # whatever the legal basis (here: contract)
            assert f"kept while {COLUMN[name]} is empty ({rule.name}: {rule.ground})" in pr.reason
            assert pr.restricted and pr.scheduled and pr.rule == rule.name
        elif expected[key] is None:
            assert pr.reason.startswith("blocked: retention anchor not reached")
            assert f"{COLUMN[name]} is empty" in pr.reason
        elif pr.action == RETAIN:
            assert pr.reason.startswith(f"retained until {expected[key]}: cards") and pr.restricted
        elif is_binding(dm, ds):
            assert pr.reason == f"retention ended {expected[key]} ({rule.name}: {rule.ground})"
        else:
            assert "is a maximum, not a legal obligation to keep" in pr.reason
    ws.close()


def test_the_flag_decides_an_empty_anchor(club):
    """Without keep_while_empty a rule of a contract is a maximum (an open rental is erased); with it a binding rule
    keeps a card of a member who has not left, open-ended, instead of blocking it."""
    ws = reopen(club, "keep: 90 days, from: returned_at, keep_while_empty: true,", "keep: 90 days, from: returned_at,")
    ws = reopen(ws, 'from: end_of_month(member_id.left_on), ground', 'from: end_of_month(member_id.left_on), '
                                                                      'keep_while_empty: true, ground')
    dm = ws.datamap
    rentals, cards = dm.datasets["club.rentals"], dm.datasets["club.access_cards"]
    decider = Decider(ws, AS_OF)
    rental = next(r for r in all_rows(ws, "club.rentals") if r["rental_id"] == 21)
    assert binding_rule(dm, rentals, rental, {}) is None
    pr = decider.decide(rentals, rental)
    assert pr.action == DELETE and "is a maximum" in pr.reason and not pr.restricted
    card_rows = all_rows(ws, "club.access_cards")
    decider.anchor_dates(cards, card_rows)
    card = next(r for r in card_rows if r["card_id"] == 13)
    pr = decider.decide(cards, card)
    assert (pr.action, pr.until, pr.due_on, pr.restricted) == (RETAIN, None, None, True)
    assert "kept while member_id.left_on is empty (cards: Site Security Act s.3)" in pr.reason
    ended = next(r for r in card_rows if r["card_id"] == 10)  # a filled anchor: the rule works as before
    assert decider.decide(cards, ended).reason == "retention ended 2024-01-31 (cards: Site Security Act s.3)"
    ws.close()


def test_retention_sweep_erases_exactly_the_ended_records(club):
    """The sweep's plan holds the rows the independent SQL says ended before AS_OF (deleted: a binding rule that
    ended, or a maximum), and none kept while empty or not started; executed, they are gone and nothing else."""
    ws = club
    plan = plan_retention(ws, AS_OF)
    want = {(n, k) for n in RULED for k in overdue(truth(ws.root, n))}
    assert {(r.dataset, r.key[0]) for r in plan.rows} == want
    assert {r.action for r in plan.rows} == {DELETE}
    assert plan.row("club.access_cards", (10,)).reason.startswith("retention ended 2024-01-31 (cards")
    before = {n: set(truth(ws.root, n)) for n in RULED}
    result = execute_plan(ws, plan)
    assert result.ok, result.verification.problems
    for n in RULED:
        assert set(truth(ws.root, n)) == before[n] - {k for d, k in want if d == n}, n
    assert plan_retention(ws, AS_OF, save=False).rows == []


@pytest.mark.slow
def test_request_keeps_open_records_open_ended_and_the_due_run_erases_them_once_filled(club, monkeypatch):
    """Boris (member 2) asks for erasure: his card (a legal obligation, member left 2026-03-05) is retained until
    2027-03-31; his open rental, loan and the loan's fee are kept while empty, open-ended and restricted; due runs
    leave them be while empty, and erase them once the items are back (contract: the period is then a maximum)."""
    ws = club
    case_id = open_case(ws, "erasure", "2026-05-20").case_id
    plan = plan_erasure(ws, case_id, "boris@club.example", as_of=AS_OF)
    card = plan.row("club.access_cards", (12,))
    assert (card.action, card.until, card.due_on) == (RETAIN, D(2027, 3, 31), D(2027, 4, 1))
    for name, key in (("club.rentals", 21), ("desk.loans", 41), ("desk.loan_fees", 51)):
        pr = plan.row(name, (key,))
        assert (pr.action, pr.until, pr.due_on, pr.restricted, pr.scheduled) == (RETAIN, None, None, True, True)
        assert f"kept while {COLUMN[name]} is empty" in pr.reason
    assert plan.row("desk.lockers", (31,)).action == DELETE  # filled (left 2026-03-05): a maximum
    assert plan.row("club.rentals", (21,)).masks.keys() == {"rented_at"}  # kept: keep_fields and the key
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    entries = {(e.dataset, e.row_key): e for e in schedule.entries(ws)}
    assert entries[("club.rentals", "[21]")].due_on is None
    assert entries[("club.access_cards", "[12]")].due_on == D(2027, 4, 1)
    assert {(r.dataset, r.row_key) for r in schedule.restrictions(ws)} >= {("club.rentals", "[21]"),
                                                                             ("desk.loans", "[41]")}

    assert erase_due(ws, D(2026, 6, 15)) == []  # still out: kept as they are, nothing written again
    assert set(truth(ws.root, "club.rentals")) >= {21} and 51 in truth(ws.root, "desk.loan_fees")

    duck = duckdb.connect(str(ws.root / "clubhouse.duckdb"))
    duck.execute("UPDATE club.rentals SET returned_at = TIMESTAMP '2026-06-10 10:00' WHERE rental_id = 21")
    duck.close()
    lite = sqlite3.connect(ws.root / "desk.sqlite")
    lite.execute("UPDATE loans SET returned_at = '2026-06-12' WHERE loan_id = 41")
    lite.commit()
    lite.close()
    results = erase_due(ws, D(2026, 7, 1))
    assert results and all(r.ok for r in results)
    assert 21 not in truth(ws.root, "club.rentals")
    assert 41 not in truth(ws.root, "desk.loans") and 51 not in truth(ws.root, "desk.loan_fees")
    assert 12 in truth(ws.root, "club.access_cards")  # still within its legal obligation


# -- the words ----------------------------------------------------------------------------------------------------

def test_the_letter_says_it_in_words(club_template):
    dm = open_workspace(club_template).datamap
    cards = retention_text(dm, "club.access_cards")
    assert cards == ("1 year from the end of the month of the “left on” date of the related member. "
                     "Why: Site Security Act s.3")
    assert retention_text(dm, "club.rentals") == (
        "We keep it while there is no “returned at” date yet, because we still need it; then 90 days from the "
        "“returned at” date. Why: Rental terms s.4")
    fees = retention_text(dm, "desk.loan_fees")
    assert "no “returned at” date of the related loan yet" in fees
    assert retention_text(dm, "desk.lockers").endswith("then 6 months from the “left on” date of the related "
                                                       "member. Why: Locker terms s.2")
    for text in (cards, fees):
        assert not any(w in text for w in ("member_id", "loan_id", "left_on", "NULL", "empty", "column", "row"))
