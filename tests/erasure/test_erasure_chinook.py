"""Erasure on Chinook (DuckDB copy, data/chinook/build.py): a customer's invoices kept six years from the end of
their fiscal year (Taxes Consolidation Act s.886), with their lines; older ones deleted with their lines; the
customer row deleted (DuckDB declares no foreign keys); the catalogue, the employees and other customers untouched;
a later due run removes the rest. Expectations come from SQL against the original SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3

import duckdb
import pytest

from privacyops.erasure import DELETE, RETAIN, approve_plan, erase_due, execute_plan, plan_erasure, verify_certificate
from privacyops.ledger import open_case
from privacyops.workspace import open_workspace
from tests.support.chinook import SQLITE, duckdb_build

pytestmark = pytest.mark.slow  # Chinook end to end

EMAIL = "luisg@embraer.com.br"
AS_OF = dt.date(2030, 6, 1)  # 2021-2023 invoices are past their six years; 2024-2025 ones are not

@pytest.fixture(autouse=True)
def _clock(later_today):
    """These tests run erasures as of dates after the real today (see `later_today` in tests/conftest.py)."""



@pytest.fixture(scope="module")
def src():
    con = sqlite3.connect(f"file:{SQLITE}?mode=ro", uri=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory, src):
    root = tmp_path_factory.mktemp("chinook-erase") / "chinook"
    duckdb_build.build(root, SQLITE)
    return root


@pytest.fixture()
def ws(template, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return open_workspace(shutil.copytree(template, tmp_path / "chinook"))


def cq(ws, sql, params=()):
    con = duckdb.connect(str(ws.root / "chinook.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def truth(src, cid: int):
    invoices = src.execute("SELECT InvoiceId, substr(InvoiceDate, 1, 4) FROM Invoice WHERE CustomerId = ?",
                           (cid,)).fetchall()
    kept = sorted(i for i, y in invoices if int(y) >= 2024)  # kept through 31 Dec of year + 6 >= 2030-06-01
    gone = sorted(i for i, y in invoices if int(y) < 2024)
    lines = lambda ids: sorted(r[0] for r in src.execute(  # noqa: E731
        f"SELECT InvoiceLineId FROM InvoiceLine WHERE InvoiceId IN ({','.join('?' * len(ids))})", ids))
    return kept, gone, lines(kept), lines(gone)


def erase(ws, monkeypatch, identifier=None, pick=None):
    case_id = open_case(ws, "erasure", "2030-05-20").case_id
    plan = plan_erasure(ws, case_id, identifier, pick=pick, as_of=AS_OF)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    return plan, result


def test_customer_erasure_keeps_recent_invoices_under_the_tax_rule(ws, src, monkeypatch):
    cid = src.execute("SELECT CustomerId FROM Customer WHERE Email = ?", (EMAIL,)).fetchone()[0]
    kept, gone, kept_lines, gone_lines = truth(src, cid)
    assert kept and gone
    billing = {r[0]: r[1:] for r in src.execute("SELECT InvoiceId, BillingAddress, BillingCity, BillingState, "
                                                "BillingPostalCode, BillingCountry, Total FROM Invoice "
                                                "WHERE CustomerId = ?", (cid,))}
    others = cq(ws, "SELECT * FROM Invoice WHERE CustomerId <> ? ORDER BY 1", [cid])
    tracks, employees = cq(ws, "SELECT * FROM Track ORDER BY 1"), cq(ws, "SELECT * FROM Employee ORDER BY 1")
    other_customers = cq(ws, "SELECT * FROM Customer WHERE CustomerId <> ? ORDER BY 1", [cid])

    plan, result = erase(ws, monkeypatch, EMAIL)
    assert {r.key[0] for r in plan.rows if r.dataset == "Invoice" and r.action == RETAIN} == set(kept)
    assert {r.key[0] for r in plan.rows if r.dataset == "Invoice" and r.action == DELETE} == set(gone)
    inv = plan.row("Invoice", (kept[0],))
    assert "Taxes Consolidation Act 1997, s.886" in inv.reason
    assert plan.row("Customer", (cid,)).action == DELETE
    assert any("does not enforce" in n for n in plan.row("Customer", (cid,)).notes)

    assert cq(ws, "SELECT count(*) FROM Customer WHERE CustomerId = ?", [cid]) == [(0,)]
    assert [r[0] for r in cq(ws, "SELECT InvoiceId FROM Invoice WHERE CustomerId = ? ORDER BY 1", [cid])] == kept
    assert [r[0] for r in cq(ws, f"SELECT InvoiceLineId FROM InvoiceLine WHERE InvoiceId IN "
                                 f"({','.join(map(str, kept + gone))}) ORDER BY 1")] == kept_lines
    for i, address, city, state, postal, country, total in cq(
            ws, "SELECT InvoiceId, BillingAddress, BillingCity, BillingState, BillingPostalCode, BillingCountry, "
                "Total FROM Invoice WHERE CustomerId = ?", [cid]):
        a, c, s, p, country0, total0 = billing[i]
        assert (address, city, postal) == ("[erased]", "[erased]", "[erased]" if p else None)
        assert state == ("[erased]" if s else None)
        assert country == country0 and float(total) == float(total0)  # kept fields
    assert cq(ws, "SELECT * FROM Invoice WHERE CustomerId <> ? ORDER BY 1", [cid]) == others
    assert cq(ws, "SELECT * FROM Track ORDER BY 1") == tracks
    assert cq(ws, "SELECT * FROM Employee ORDER BY 1") == employees
    assert cq(ws, "SELECT * FROM Customer WHERE CustomerId <> ? ORDER BY 1", [cid]) == other_customers
    assert verify_certificate(result.certificate_path, ws).ok

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "scheduler")
    due = erase_due(ws, dt.date(2032, 1, 1))
    assert due and all(r.ok for r in due)
    assert cq(ws, "SELECT count(*) FROM Invoice WHERE CustomerId = ?", [cid]) == [(0,)]
    assert cq(ws, f"SELECT count(*) FROM InvoiceLine WHERE InvoiceId IN ({','.join(map(str, kept))})") == [(0,)]
    cert = json.loads(due[0].certificate_path.read_text())["certificate"]
    assert cert["plan"]["origin"]["plan_id"] == plan.plan_id and cert["plan"]["approved_by"] == "bob"


def test_employee_erasure_never_touches_the_customers_she_supports(ws, src, monkeypatch):
    eid = 3
    supported = cq(ws, "SELECT * FROM Customer WHERE SupportRepId = ? ORDER BY 1", [eid])
    assert supported
    plan, result = erase(ws, monkeypatch, pick=f"Employee:{eid}")
    assert [(r.dataset, r.key) for r in plan.rows] == [("Employee", (eid,))]
    assert cq(ws, "SELECT * FROM Customer WHERE SupportRepId = ? ORDER BY 1", [eid]) == supported
    assert cq(ws, "SELECT count(*) FROM Employee WHERE EmployeeId = ?", [eid]) == [(0,)]
    assert any("Customer.SupportRepId" in n for n in plan.row("Employee", (eid,)).notes)  # left dangling: noted
