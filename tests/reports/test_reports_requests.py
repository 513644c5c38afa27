"""The requests report: a register of cases seeded through the cases API (closing dates set in the ledger), the
report's figures checked against direct SQL on the ledger, and the as-of rules (received later: not counted; closed
later: still open; an extension the subject was told of later: not yet extended)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from privacyops.ledger import close_case, extend_case, open_case
from privacyops.reports import requests_report
from privacyops.reports.requests_report import CLOSED_LATE, CLOSED_ON_TIME, DUE_SOON, EXTENDED, ON_TIME, OVERDUE

D = dt.date
AS_OF = D(2026, 3, 31)


@pytest.fixture()
def register(mini_ws, monkeypatch):
    """Ten cases around 2026-03-31; returns {letter: case id}."""
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "analyst")
    ws = mini_ws
    ids = {}

    def case(letter, kind, received):
        ids[letter] = open_case(ws, kind, received).case_id

    def closed(letter, on):
        close_case(ws, ids[letter], "answered", at=on)  # a date: noon that day

    case("A", "access", "2026-01-05")            # due 02-05: overdue
    case("B", "erasure", "2026-03-10")           # due 04-10: on time
    case("C", "portability", "2026-03-01")       # due 04-01: due soon
    case("D", "rectification", "2026-01-10")     # extended by 2 months to 04-10, told 02-01
    extend_case(ws, ids["D"], 2, "many systems to correct", informed="2026-02-01", today=D(2026, 2, 1))
    case("E", "access", "2026-01-02")
    closed("E", D(2026, 1, 20))                  # 18 days, on time
    case("F", "erasure", "2025-12-01")
    closed("F", D(2026, 1, 15))                  # due 01-01: 45 days, late
    case("G", "complaint", "2026-02-01")         # due 03-01: overdue
    case("H", "access", "2026-04-10")            # received after the report date
    case("I", "objection", "2026-03-01")
    closed("I", D(2026, 4, 5))                   # closed after the report date: open then, due 04-01: due soon
    case("J", "access", "2026-03-20")            # extended, but the subject was told only on 04-05
    extend_case(ws, ids["J"], 1, "complex", informed="2026-04-05", today=D(2026, 4, 5))
    return ids


def ledger_sql(ws, query, params=()):
    con = duckdb.connect(str(ws.ledger_path), read_only=True)
    try:
        return con.execute(query, list(params)).fetchall()
    finally:
        con.close()


DEADLINE = "coalesce(CASE WHEN subject_informed <= $d THEN extended_due END, due)"
OPEN = "received <= $d AND (closed_at IS NULL OR CAST(closed_at AS DATE) > $d)"


def test_figures_match_the_ledger(mini_ws, register):
    r = requests_report(mini_ws, AS_OF)
    f = r.figures()
    one = (lambda q: ledger_sql(mini_ws, q.replace("$d", "?"), [AS_OF] * q.count("$d"))[0][0])
    assert f["received"] == one("SELECT count(*) FROM cases WHERE received <= $d") == 9
    assert f["open"] == one(f"SELECT count(*) FROM cases WHERE {OPEN}") == 7
    assert f["overdue"] == one(f"SELECT count(*) FROM cases WHERE {OPEN} AND {DEADLINE} < $d") == 2
    closed = "received <= $d AND CAST(closed_at AS DATE) <= $d"
    assert f["closed"] == one(f"SELECT count(*) FROM cases WHERE {closed}") == 2
    assert f["closed_on_time"] == one(f"SELECT count(*) FROM cases WHERE {closed} AND "
                                      f"CAST(closed_at AS DATE) <= {DEADLINE}") == 1
    assert f["share_closed_on_time"] == 0.5
    assert f["median_days_to_close"] == one(f"SELECT median(CAST(closed_at AS DATE) - received) FROM cases "
                                            f"WHERE {closed}") == 31.5
    assert f["complaints"] == one("SELECT count(*) FROM cases WHERE type = 'complaint' AND received <= $d") == 1
    assert f["due_soon"] == 2 and f["extended"] == 1


def test_states_as_of_the_report_date(mini_ws, register):
    r = requests_report(mini_ws, AS_OF)
    state = {c.case_id: c.state for c in r.cases}
    ids = register
    assert state[ids["A"]] == OVERDUE and state[ids["G"]] == OVERDUE
    assert state[ids["B"]] == ON_TIME and state[ids["C"]] == DUE_SOON and state[ids["I"]] == DUE_SOON
    assert state[ids["D"]] == EXTENDED and state[ids["E"]] == CLOSED_ON_TIME and state[ids["F"]] == CLOSED_LATE
    assert ids["H"] not in state
    j = next(c for c in r.cases if c.case_id == ids["J"])
    assert j.state == ON_TIME and j.extended_due is None and j.deadline == D(2026, 4, 20)
    d = next(c for c in r.cases if c.case_id == ids["D"])
    assert d.deadline == D(2026, 4, 10) and d.extension_reason == "many systems to correct"
    by_type = {row["type"]: row for row in r.table_by_type()}
    assert by_type["access"]["received"] == 3 and by_type["access"][OVERDUE] == 1
    assert r.monthly()["2026-01"] == {"received": 3, "closed": 2}
    text = r.text()
    assert f"OVERDUE {ids['A']} access, received 2026-01-05, due 2026-02-05 (54 days late)" in text
    assert "complaints received: 1" in text
    # later, everything moved on: I was closed late, J's extension is known
    later = {c.case_id: c for c in requests_report(mini_ws, D(2026, 4, 6)).cases}
    assert later[ids["I"]].state == CLOSED_LATE and later[ids["J"]].deadline == D(2026, 5, 20)


def test_page(mini_ws, register, tmp_path):
    r = requests_report(mini_ws, AS_OF)
    page, _ = r.write(tmp_path)
    html = page.read_text()
    assert "<script" not in html.lower() and 'data-chart="requests-monthly"' in html
    assert 'data-figure="overdue"><div class="po-value">2</div>' in html
    assert "many systems to correct" in html and register["A"] in html


def test_an_empty_register(mini_ws):
    r = requests_report(mini_ws, AS_OF)
    assert r.figures()["received"] == 0 and r.figures()["median_days_to_close"] is None
    assert "0 received" in r.text() and "No requests received." in r.to_html()


def test_the_demo_register_matches_sql_on_its_ledger(tmp_path, monkeypatch):
    """generate_demo seeds a request register relative to DEMO_TODAY; the report's overdue / extended /
    complaint figures equal SQL written here on the demo's ledger.duckdb. Seeding again adds nothing."""
    from privacyops.demo import DEMO_TODAY, generate_demo
    from privacyops.workspace import open_workspace

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "demo")
    root = tmp_path / "demo"
    generate_demo(root, subjects=20, progress=False)
    ws = open_workspace(root)
    f = requests_report(ws, DEMO_TODAY).figures()
    con = duckdb.connect(str(root / "ledger.duckdb"), read_only=True)
    try:
        def one(q):
            return con.execute(q.replace("$d", "?"), [DEMO_TODAY] * q.count("$d")).fetchone()[0]

        overdue = one(f"SELECT count(*) FROM cases WHERE {OPEN} AND {DEADLINE} < $d")
        extended = one(f"SELECT count(*) FROM cases WHERE {OPEN} AND subject_informed <= $d AND "
                       f"extended_due >= $d")
        complaints = one("SELECT count(*) FROM cases WHERE type = 'complaint' AND received <= $d")
        late = one("SELECT count(*) FROM cases WHERE CAST(closed_at AS DATE) <= $d AND "
                   f"CAST(closed_at AS DATE) > {DEADLINE}")
        total = one("SELECT count(*) FROM cases")
    finally:
        con.close()
    assert (f["overdue"], f["extended"], f["complaints"], f["closed_late"]) == (overdue, extended, complaints, late)
    assert (overdue, extended, complaints, late, total) == (2, 1, 1, 1, 10)
    assert f["received"] == total and f["due_soon"] > 0 and f["closed_on_time"] > 0
    generate_demo(root, subjects=20, progress=False)  # the register is there already: not seeded twice
    assert requests_report(open_workspace(root), DEMO_TODAY).figures()["received"] == 10
