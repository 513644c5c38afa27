"""Erasure in the stores companies keep their data in: Chinook's original SQLite file and its PostgreSQL script
(both declare foreign keys: a customer whose invoices must be kept stays as a minimised, restricted row until they
go), and the cross-store demo (PostgreSQL billing, SQLite newsletter, CSV consent log, DuckDB, Parquet).
Expectations come from the original data (the SQLite file; the plain demo's DuckDB file)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3

import duckdb
import psycopg
import pytest

from privacyops.demo import distribute
from privacyops.erasure import DELETE, RETAIN, approve_plan, erase_due, execute_plan, plan_erasure, verify_certificate
from privacyops.ledger import open_case
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver
from tests.support.chinook import CHINOOK, DSN_ENV, PG_SCRIPT, SQLITE, postgres_load, snake, sqlite_build

EMAIL = "luisg@embraer.com.br"
AS_OF = dt.date(2030, 6, 1)
D = dt.date

@pytest.fixture(autouse=True)
def _clock(later_today):
    """These tests run erasures as of dates after the real today (see `later_today` in tests/conftest.py)."""



@pytest.fixture(scope="module")
def src():
    con = sqlite3.connect(f"file:{SQLITE}?mode=ro", uri=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory, src):
    root = tmp_path_factory.mktemp("erase-chinook-sqlite") / "ws"
    sqlite_build.build(root, SQLITE)
    return root


@pytest.fixture(scope="module")
def pg_template(postgres_dsn):
    with pgserver.database(postgres_dsn, "chinook_tpl") as dsn:
        postgres_load.load(dsn, PG_SCRIPT)
        yield pgserver.database_name(dsn)


class Store:
    """One Chinook workspace and direct SQL on its store."""

    def __init__(self, kind, ws, dsn=None):
        self.kind, self.ws, self.dsn = kind, ws, dsn

    def n(self, name: str) -> str:
        return snake(name) if self.kind == "postgres" else name

    def q(self, sql: str, params=()):
        if self.kind == "postgres":
            sql = re.sub(r"\b[A-Z][a-z]\w*\b", lambda m: snake(m.group(0)), sql)  # CamelCase names, not keywords
            with psycopg.connect(self.dsn) as con:
                return con.execute(sql.replace("?", "%s"), list(params)).fetchall()
        con = sqlite3.connect(self.ws.root / "chinook.sqlite")
        try:
            return con.execute(sql, list(params)).fetchall()
        finally:
            con.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request, tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    if request.param == "sqlite":
        root = shutil.copytree(request.getfixturevalue("sqlite_template"), tmp_path / "ws")
        yield Store("sqlite", open_workspace(root))
        return
    admin = request.getfixturevalue("postgres_dsn")
    with pgserver.database(admin, "chinook_erase", template=request.getfixturevalue("pg_template")) as dsn:
        monkeypatch.setenv(DSN_ENV, dsn)
        root = tmp_path / "ws"
        root.mkdir()
        (root / "privacyops.yaml").write_text((CHINOOK / "postgres" / "privacyops.yaml").read_text())
        yield Store("postgres", open_workspace(root), dsn)


def run(store, monkeypatch, identifier=None, pick=None, as_of=AS_OF):
    ws = store.ws
    case_id = open_case(ws, "erasure", "2030-05-20").case_id
    plan = plan_erasure(ws, case_id, identifier, pick=pick, as_of=as_of)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
    approve_plan(ws, plan.plan_id)
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    return plan, result


def test_chinook_customer_is_kept_minimised_while_the_enforced_invoices_must_stay(store, src, monkeypatch):
    cid = src.execute("SELECT CustomerId FROM Customer WHERE Email = ?", (EMAIL,)).fetchone()[0]
    invoices = src.execute("SELECT InvoiceId, substr(InvoiceDate, 1, 4) FROM Invoice WHERE CustomerId = ?",
                           (cid,)).fetchall()
    kept = sorted(i for i, y in invoices if int(y) >= 2024)
    last_year = max(int(y) for _, y in invoices)
    kept_lines = sorted(r[0] for r in src.execute(
        f"SELECT InvoiceLineId FROM InvoiceLine WHERE InvoiceId IN ({','.join('?' * len(kept))})", kept))
    others = store.q("SELECT * FROM Invoice WHERE CustomerId <> ? ORDER BY 1", [cid])
    other_customers = store.q("SELECT * FROM Customer WHERE CustomerId <> ? ORDER BY 1", [cid])
    tracks = store.q("SELECT count(*), sum(TrackId) FROM Track")

    plan, result = run(store, monkeypatch, EMAIL)
    customer = plan.row(store.n("Customer"), (cid,))
    assert customer.action == RETAIN and "enforces the link" in customer.reason
    assert customer.until == D(last_year + 6, 12, 31)  # until its last invoice may go
    rows = store.q("SELECT FirstName, LastName, Email, Phone, Address, Company, SupportRepId FROM Customer "
                   "WHERE CustomerId = ?", [cid])
    assert rows == [("[erased]", "[erased]", "[erased]", None, None, None, None)]  # NOT NULL names: redacted
    assert [r[0] for r in store.q("SELECT InvoiceId FROM Invoice WHERE CustomerId = ? ORDER BY 1", [cid])] == kept
    got_lines = store.q(f"SELECT InvoiceLineId FROM InvoiceLine WHERE InvoiceId IN "
                        f"({','.join(str(i) for i, _ in invoices)}) ORDER BY 1")
    assert [r[0] for r in got_lines] == kept_lines
    assert store.q("SELECT BillingAddress FROM Invoice WHERE CustomerId = ?", [cid]) == [("[erased]",)] * len(kept)
    assert store.q("SELECT * FROM Invoice WHERE CustomerId <> ? ORDER BY 1", [cid]) == others
    assert store.q("SELECT * FROM Customer WHERE CustomerId <> ? ORDER BY 1", [cid]) == other_customers
    assert store.q("SELECT count(*), sum(TrackId) FROM Track") == tracks
    assert verify_certificate(result.certificate_path, store.ws).ok

    due = erase_due(store.ws, D(last_year + 7, 1, 1))
    assert due and all(r.ok for r in due)
    assert store.q("SELECT count(*) FROM Customer WHERE CustomerId = ?", [cid]) == [(0,)]
    assert store.q("SELECT count(*) FROM Invoice WHERE CustomerId = ?", [cid]) == [(0,)]
    assert store.q("SELECT * FROM Customer WHERE CustomerId <> ? ORDER BY 1", [cid]) == other_customers


def test_chinook_employee_referenced_by_customers_is_minimised_not_deleted(store, monkeypatch):
    supported = store.q("SELECT * FROM Customer WHERE SupportRepId = 3 ORDER BY 1")
    plan, _ = run(store, monkeypatch, pick=f"{store.n('Employee')}:3")
    row = plan.row(store.n("Employee"), (3,))
    assert row.action == RETAIN and row.until is None and "not part of this erasure" in row.reason
    assert store.q("SELECT FirstName, LastName, Email FROM Employee WHERE EmployeeId = 3") == [
        ("[erased]", "[erased]", None)]
    assert store.q("SELECT * FROM Customer WHERE SupportRepId = 3 ORDER BY 1") == supported


# ---------------------------------------------------------------------------------------------------------------
# The cross-store demo.


@pytest.fixture(scope="module")
def xstore_template(small_demo, tmp_path_factory, postgres_dsn):
    root = tmp_path_factory.mktemp("erase-xstore") / "demo"
    shutil.copytree(small_demo, root, ignore=shutil.ignore_patterns("ledger.duckdb*", "audit.*", "certificates"))
    with pgserver.database(postgres_dsn, "xstore_tpl") as dsn:
        distribute(root, dsn, progress=False)
        yield root, pgserver.database_name(dsn)


@pytest.fixture()
def xstore(xstore_template, tmp_path, postgres_dsn, monkeypatch):
    template, db = xstore_template
    root = shutil.copytree(template, tmp_path / "demo")
    with pgserver.database(postgres_dsn, "xstore_erase", template=db) as dsn:
        (root / "keys" / "billing.dsn").write_text(dsn + "\n")
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
        yield open_workspace(root), dsn


@pytest.mark.slow
def test_cross_store_demo_janis(xstore, small_demo, monkeypatch):
    ws, dsn = xstore

    def truth(sql, params=()):
        con = duckdb.connect(str(small_demo / "company.duckdb"), read_only=True)
        try:
            return [r[0] for r in con.execute(sql, list(params)).fetchall()]
        finally:
            con.close()

    def pg(sql, params=()):
        with psycopg.connect(dsn) as con:
            return [r[0] if len(r) == 1 else r for r in con.execute(sql, list(params)).fetchall()]

    kept_inv = truth("SELECT invoice_id FROM billing.invoices WHERE customer_id = 1 AND issued_at >= DATE "
                     "'2021-01-01' ORDER BY 1")
    kept_lines = truth(f"SELECT line_id FROM billing.invoice_lines WHERE invoice_id IN {tuple(kept_inv)} ORDER BY 1")
    consent_kept = truth("SELECT event_id FROM marketing.consent_events WHERE customer_id = 1 AND occurred_at >= "
                         "TIMESTAMP '2023-11-15' ORDER BY 1")
    others = pg("SELECT * FROM billing.invoices WHERE customer_id <> 1 ORDER BY 1")

    plan, result = run(type("S", (), {"ws": ws})(), monkeypatch, "janis.berzins@example.lv", as_of=D(2026, 11, 15))
    assert {s.source for s in result.sources} == {"company", "lake", "billing_db", "newsletter_app",
                                                  "consent_exports"}
    assert pg("SELECT invoice_id FROM billing.invoices WHERE customer_id = 1 ORDER BY 1") == kept_inv
    names = pg("SELECT billing_name, billing_address FROM billing.invoices WHERE customer_id = 1")
    assert all(n.startswith("ps-") and a == "[erased]" for n, a in names)
    assert pg("SELECT line_id FROM billing.invoice_lines WHERE invoice_id IN (1, 2, 3, 4, 5) ORDER BY 1") == \
        kept_lines
    assert pg("SELECT * FROM billing.invoices WHERE customer_id <> 1 ORDER BY 1") == others
    csv = duckdb.connect().execute(f"SELECT event_id FROM read_csv('{ws.root / 'exports' / 'consent_events.csv'}', "
                                   f"header = true) WHERE customer_id = 1 ORDER BY 1").fetchall()
    assert [r[0] for r in csv] == consent_kept
    lite = sqlite3.connect(ws.root / "newsletter.sqlite")
    assert lite.execute("SELECT count(*) FROM newsletter_signups WHERE email = 'j.berzins@inbox.example.lv'"
                        ).fetchone() == (0,)
    assert lite.execute("SELECT count(*) FROM newsletter_signups").fetchone()[0] == truth(
        "SELECT count(*) FROM marketing.newsletter_signups")[0] - 1
    lite.close()
    con = duckdb.connect(str(ws.root / "company.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM crm.customers WHERE customer_id = 1").fetchone() == (0,)
    con.close()
    assert verify_certificate(result.certificate_path, ws).ok

    due = erase_due(ws, D(2031, 1, 1))
    assert due and all(r.ok for r in due)
    assert pg("SELECT count(*) FROM billing.invoices WHERE customer_id = 1") == [0]
    assert pg("SELECT count(*) FROM billing.invoice_lines WHERE invoice_id IN (1, 2, 3, 4, 5)") == [0]
    assert plan.row("billing.invoices", (1,)).action == DELETE


def test_per_row_values_take_one_statement_per_chunk_not_per_row(store, monkeypatch):
    from privacyops.erasure.apply import _update_each

    ws = store.ws
    ds = ws.datamap.datasets[store.n("Customer")]
    before = store.q("SELECT CustomerId, Email, Phone FROM Customer WHERE CustomerId > 4 ORDER BY 1")
    phones = dict(store.q("SELECT CustomerId, Phone FROM Customer WHERE CustomerId <= 4"))
    assert all(phones.values())
    items = [(1, {store.n("Email"): "ps-1"}), (2, {store.n("Email"): "ps-2"}), (4, {store.n("Email"): "ps-4"}),
             (3, {store.n("Email"): "ps-3", store.n("Phone"): None})]
    with ws.session():
        con = ws.writer(ds.source)
        updates = []
        real = type(con).execute

        def spy(self, sql, params=()):
            if sql.startswith("UPDATE"):
                updates.append(sql)
            return real(self, sql, params)

        monkeypatch.setattr(type(con), "execute", spy)
        with con.transaction():
            assert _update_each(con, ds, store.n("CustomerId"), items) == 4
    assert len(updates) == 2  # one per set of columns, whatever the number of rows
    assert store.q("SELECT CustomerId, Email, Phone FROM Customer WHERE CustomerId <= 4 ORDER BY 1") == [
        (1, "ps-1", phones[1]), (2, "ps-2", phones[2]), (3, "ps-3", None), (4, "ps-4", phones[4])]
    assert store.q("SELECT CustomerId, Email, Phone FROM Customer WHERE CustomerId > 4 ORDER BY 1") == before


@pytest.mark.slow
def test_a_shared_postgresql_ledger_holds_plans_schedule_holds_and_suppression(mini_ws, postgres_dsn, monkeypatch):
    from privacyops.ledger import add_hold, list_holds, open_ledger, suppress
    from privacyops.ledger.suppression import check
    from tests.support.mini import erase_map

    with pgserver.database(postgres_dsn, "erase_ledger") as dsn:
        (mini_ws.root / "keys").mkdir(exist_ok=True)
        (mini_ws.root / "keys" / "ledger.dsn").write_text(dsn)
        (mini_ws.root / "privacyops.yaml").write_text(erase_map() + "ledger: {kind: postgres, "
                                                                    "dsn_file: keys/ledger.dsn}\n")
        ws = open_workspace(mini_ws.root)
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
        add_hold(ws, dataset="mail.subscribers", reason="complaint", owner="dpo")
        suppress(ws, "jb@other.example", "objection")
        case_id = open_case(ws, "erasure", "2026-11-10").case_id
        plan = plan_erasure(ws, case_id, "M-001", as_of=D(2026, 11, 15))
        assert plan.suppression["keep"] and plan.row("mail.subscribers", (1,)).action == "blocked"
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")
        approve_plan(ws, plan.plan_id)
        assert execute_plan(ws, plan.plan_id).ok
        due = erase_due(ws, D(2029, 1, 1))
        assert len(due) == 1 and due[0].ok
        assert not ws.ledger_path.exists()  # everything went to PostgreSQL
        with open_ledger(ws) as con:
            assert con.execute("SELECT status, count(*) FROM erasure_plans GROUP BY status").fetchall() == [
                ("done", 2)]
            assert sorted(con.execute("SELECT dataset, status FROM erasure_schedule").fetchall()) == [
                ("mail.subscribers", "scheduled"), ("shop.orders", "done")]
        assert check(ws, "JB@other.example ") is not None and len(list_holds(ws)) == 1
