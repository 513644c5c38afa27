"""privacyops on a real public schema it knows nothing about: Chinook (Luis Rocha, MIT licence).

The workspace is built from the SQLite file by data/chinook/build.py; every expected number comes from SQL against
that SQLite file, never from the code under test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow  # Chinook end to end

REPO = Path(__file__).resolve().parents[2]
BUILD_PY = REPO / "data" / "chinook" / "build.py"
EMAIL = "luisg@embraer.com.br"


def _load_build_module():
    spec = importlib.util.spec_from_file_location("chinook_build", BUILD_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


chinook_build = _load_build_module()
SQLITE = chinook_build.sqlite_path_default()


# ---------------------------------------------------------------------------------------------------------------
# Fixtures and SQL helpers (the source of truth is the SQLite file).


@pytest.fixture(scope="module")
def chinook_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("chinook")
    chinook_build.build(root, SQLITE)
    return root


@pytest.fixture()
def chinook_ws(chinook_dir, monkeypatch):
    from privacyops.workspace import open_workspace

    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(chinook_dir)


@pytest.fixture(scope="module")
def src():
    con = sqlite3.connect(f"file:{SQLITE}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    yield con
    con.close()


def one(src, sql: str, *params):
    return src.execute(sql, params).fetchone()


def column(src, sql: str, *params) -> list:
    return [r[0] for r in src.execute(sql, params).fetchall()]


def customer_of(src, email: str) -> sqlite3.Row:
    rows = src.execute("SELECT * FROM Customer WHERE lower(Email) = lower(?)", (email,)).fetchall()
    assert len(rows) == 1, f"expected one customer with {email} in the source"
    return rows[0]


def lookup(ws, identifier=None, **kw):
    from privacyops.lookup import lookup as _lookup

    return _lookup(ws, identifier, **kw)


def keys(records, dataset: str, col: str) -> list:
    return [r[col] for r in records[dataset].rows] if dataset in records else []


# ---------------------------------------------------------------------------------------------------------------
# The build and the map.


def test_build_copies_every_table_with_names_types_and_values(chinook_dir, src):
    tables = column(src, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    con = duckdb.connect(str(chinook_dir / "chinook.duckdb"), read_only=True)
    try:
        for t in tables:
            want_cols = [r[1] for r in src.execute(f'PRAGMA table_info("{t}")')]
            got = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                              "ORDER BY ordinal_position", [t]).fetchall()
            assert [c for c, _ in got] == want_cols, t
            assert con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] == \
                one(src, f'SELECT count(*) FROM "{t}"')[0], t
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'Invoice'").fetchall())
        assert types["InvoiceDate"] == "TIMESTAMP"
        assert types["Total"] == "DECIMAL(10,2)"
        assert types["CustomerId"] == "INTEGER" and types["BillingCity"] == "VARCHAR"
        # Exact money: the DECIMAL sum equals the source's (REAL) sum rounded to cents.
        want_total = Decimal(str(one(src, "SELECT round(sum(Total), 2) FROM Invoice")[0])).quantize(Decimal("0.01"))
        assert con.execute('SELECT sum("Total") FROM "Invoice"').fetchone()[0] == want_total
        first_date = one(src, "SELECT InvoiceDate FROM Invoice ORDER BY InvoiceId LIMIT 1")[0]
        got_date = con.execute('SELECT "InvoiceDate" FROM "Invoice" ORDER BY "InvoiceId" LIMIT 1').fetchone()[0]
        assert got_date.strftime("%Y-%m-%d %H:%M:%S") == first_date
        name = one(src, "SELECT FirstName || ' ' || LastName FROM Customer WHERE CustomerId = 1")[0]
        assert con.execute('SELECT "FirstName" || \' \' || "LastName" FROM "Customer" WHERE "CustomerId" = 1'
                           ).fetchone()[0] == name
    finally:
        con.close()
    assert (chinook_dir / "privacyops.yaml").read_text() == (BUILD_PY.parent / "privacyops.yaml").read_text()


def test_rebuild_replaces_atomically_and_leaves_no_temp_files(tmp_path):
    out = chinook_build.build(tmp_path, SQLITE)
    first = out.stat().st_ino
    out2 = chinook_build.build(tmp_path, SQLITE)
    assert out2 == out and out.is_file()
    assert out.stat().st_ino != first  # a new file renamed into place, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinook.duckdb", "privacyops.yaml"]


def test_map_covers_every_table_and_column(src):
    from privacyops.map import load_datamap

    dm = load_datamap(BUILD_PY.parent / "privacyops.yaml")
    tables = column(src, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    assert sorted(ds.table for ds in dm.datasets.values()) == sorted(tables)
    for ds in dm.datasets.values():
        cols = [r[1] for r in src.execute(f'PRAGMA table_info("{ds.table}")')]
        described = set(ds.fields) | set(ds.primary_key) | {r.column for r in ds.references}
        assert described == set(cols), ds.name
    assert {ds.subject for ds in dm.datasets.values() if ds.subject} == {"customer", "employee"}
    # Belongs-to edges are exactly the ones that make rows someone's; every other edge is shared.
    owner = {(r.dataset, r.column, r.to_dataset) for ds in dm.datasets.values() for r in ds.owner_references}
    assert owner == {("Invoice", "CustomerId", "Customer"), ("InvoiceLine", "InvoiceId", "Invoice")}


def test_check_passes_with_no_problems(chinook_ws, src):
    from privacyops.workspace import check_workspace

    report = check_workspace(chinook_ws)
    assert report.problems == [], [str(p) for p in report.problems]
    assert report.ok
    for name, ds in chinook_ws.datamap.datasets.items():
        assert report.rows[name] == one(src, f'SELECT count(*) FROM "{ds.table}"')[0], name
    assert not [w for w in report.warnings if "outside the EU" in w]
    assert not [w for w in report.warnings if "without a data category" in w]


def test_cli_check_ok(chinook_dir):
    proc = subprocess.run([sys.executable, "-m", "privacyops.cli", "check", "--json", "--workspace",
                           str(chinook_dir)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["problems"] == []


# ---------------------------------------------------------------------------------------------------------------
# Looking up a customer.


def _assert_is_luis(result, src, email: str = EMAIL):
    """The result holds exactly this customer's own rows: Customer row, invoices, invoice lines; no one else's."""
    cust = customer_of(src, email)
    cid = cust["CustomerId"]
    invoice_ids = set(column(src, "SELECT InvoiceId FROM Invoice WHERE CustomerId = ?", cid))
    line_ids = set(column(src, "SELECT il.InvoiceLineId FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) "
                               "WHERE i.CustomerId = ?", cid))
    assert invoice_ids and line_ids  # the test means something

    assert result.status == "found"
    assert result.subject.ref == f"Customer:{cid}" and result.subject.subject_type == "customer"
    recs = result.records
    assert set(recs) == {"Customer", "Invoice", "InvoiceLine"}
    assert keys(recs, "Customer", "CustomerId") == [cid]
    assert recs["Invoice"].count == len(invoice_ids)
    assert {r["InvoiceId"] for r in recs["Invoice"].rows} == invoice_ids
    assert all(r["CustomerId"] == cid for r in recs["Invoice"].rows)
    assert recs["InvoiceLine"].count == len(line_ids)
    assert {r["InvoiceLineId"] for r in recs["InvoiceLine"].rows} == line_ids
    assert all(r["InvoiceId"] in invoice_ids for r in recs["InvoiceLine"].rows)
    # Never reference data, never an employee, in the records.
    for ds in ("Track", "Album", "Artist", "Genre", "MediaType", "Playlist", "PlaylistTrack", "Employee"):
        assert ds not in recs, ds
    return cust


def test_email_lookup_returns_exactly_the_customers_invoices_and_lines(chinook_ws, src):
    result = lookup(chinook_ws, EMAIL)
    cust = _assert_is_luis(result, src)
    cid = cust["CustomerId"]
    assert result.kind == "email"

    # The lines share tracks with other customers' lines, yet no other customer's line comes along.
    my_tracks = set(column(src, "SELECT il.TrackId FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) "
                                "WHERE i.CustomerId = ?", cid))
    shared = set(column(src, "SELECT il.TrackId FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) "
                             "WHERE i.CustomerId <> ?", cid)) & my_tracks
    assert shared, "precondition: some of the customer's tracks were bought by others too"
    other_lines_same_tracks = one(src, f"SELECT count(*) FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) "
                                       f"WHERE i.CustomerId <> ? AND il.TrackId IN ({','.join('?' * len(shared))})",
                                  cid, *shared)[0]
    assert other_lines_same_tracks > 0
    assert result.records["InvoiceLine"].count + other_lines_same_tracks > result.records["InvoiceLine"].count

    # Tracks are context only: exactly the tracks on the customer's lines.
    assert "Track" in result.context
    assert {r["TrackId"] for r in result.context["Track"].rows} == my_tracks
    # The support agent is context, not a record.
    assert keys(result.context, "Employee", "EmployeeId") == [cust["SupportRepId"]]
    assert result.total_rows == 1 + result.records["Invoice"].count + result.records["InvoiceLine"].count
    # Datasets carry what the map says about them.
    assert result.records["Invoice"].retention["name"] == "tax_records"
    assert {p["legal_basis"] for p in result.records["Invoice"].purposes} == {"contract", "legal_obligation"}


@pytest.mark.parametrize("variant", [EMAIL.upper(), f"  {EMAIL}  ", "\tLuisG@Embraer.COM.br \n"])
def test_email_lookup_ignores_case_and_surrounding_space(chinook_ws, src, variant):
    result = lookup(chinook_ws, variant, audit_log=False)
    _assert_is_luis(result, src)


def test_phone_lookup_written_differently_finds_the_same_person(chinook_ws, src):
    phone = customer_of(src, EMAIL)["Phone"]
    digits = re.sub(r"\D", "", phone)
    assert phone != "+" + digits  # the variants really are written differently
    by_email = lookup(chinook_ws, EMAIL, audit_log=False)
    for variant in ("+" + digits, "00" + digits, "00 " + " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))):
        result = lookup(chinook_ws, variant, audit_log=False)
        assert result.kind == "phone", variant
        _assert_is_luis(result, src)
        assert result.counts() == by_email.counts()


def test_id_lookup_by_customer_id(chinook_ws, src):
    cid = customer_of(src, EMAIL)["CustomerId"]
    result = lookup(chinook_ws, str(cid), kind="customer_id", audit_log=False)
    _assert_is_luis(result, src)
    assert result.kind == "customer_id"


def test_bare_number_that_is_both_a_customer_and_an_employee_id_is_ambiguous(chinook_ws, src):
    both = column(src, "SELECT CustomerId FROM Customer WHERE CustomerId IN (SELECT EmployeeId FROM Employee) "
                       "ORDER BY CustomerId")
    assert both
    result = lookup(chinook_ws, str(both[0]), audit_log=False)
    assert result.status == "ambiguous"
    assert {c.ref for c in result.candidates} == {f"Customer:{both[0]}", f"Employee:{both[0]}"}
    assert result.records == {}


def test_pick_after_ambiguity_gives_the_same_records(chinook_ws, src):
    cid = customer_of(src, EMAIL)["CustomerId"]
    result = lookup(chinook_ws, pick=f"Customer:{cid}", audit_log=False)
    _assert_is_luis(result, src)


def test_to_dict_is_json_and_holds_no_other_customers_data(chinook_ws, src):
    result = lookup(chinook_ws, EMAIL, audit_log=False)
    text = json.dumps(result.to_dict())
    data = json.loads(text)
    cust = customer_of(src, EMAIL)
    cid = cust["CustomerId"]
    assert data["status"] == "found"
    assert data["summary"]["datasets"] == result.counts()
    assert {r["CustomerId"] for r in data["records"]["Customer"]["rows"]} == {cid}
    assert {r["CustomerId"] for r in data["records"]["Invoice"]["rows"]} == {cid}
    # No other customer's e-mail, phone or street address anywhere in the output (records or context).
    for other in src.execute("SELECT Email, Phone, Address FROM Customer WHERE CustomerId <> ?", (cid,)):
        for value in other:
            if value:
                assert json.dumps(value)[1:-1] not in text, value
    # Money travels as exact text.
    assert all(isinstance(r["Total"], str) for r in data["records"]["Invoice"]["rows"])


def test_cli_lookup_json(chinook_dir, src):
    proc = subprocess.run([sys.executable, "-m", "privacyops.cli", "lookup", EMAIL, "--json", "--workspace",
                           str(chinook_dir)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PRIVACYOPS_ACTOR": "test-analyst"})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    cid = customer_of(src, EMAIL)["CustomerId"]
    assert data["status"] == "found" and data["subject"]["ref"] == f"Customer:{cid}"
    assert data["summary"]["datasets"]["Invoice"] == one(src, "SELECT count(*) FROM Invoice WHERE CustomerId = ?",
                                                         cid)[0]
    assert data["summary"]["datasets"]["InvoiceLine"] == one(
        src, "SELECT count(*) FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) WHERE i.CustomerId = ?", cid)[0]
    assert "Track" not in data["records"] and "Track" in data["context"]


def test_lookups_are_audited_without_the_identifier(chinook_ws):
    from privacyops.ledger import audit

    lookup(chinook_ws, EMAIL)
    entries = audit.entries(chinook_ws, limit=5, action="lookup")
    assert entries and entries[0].action == "lookup"
    assert EMAIL not in json.dumps([audit.as_dict(e) for e in entries], default=str)
    assert audit.verify(chinook_ws).ok


# ---------------------------------------------------------------------------------------------------------------
# Employees.


def test_employee_lookup_returns_the_employee_only_with_manager_as_context(chinook_ws, src):
    emp = src.execute("SELECT * FROM Employee WHERE ReportsTo IS NOT NULL AND EmployeeId IN "
                      "(SELECT SupportRepId FROM Customer) ORDER BY EmployeeId LIMIT 1").fetchone()
    assert emp is not None
    supported = one(src, "SELECT count(*) FROM Customer WHERE SupportRepId = ?", emp["EmployeeId"])[0]
    assert supported > 0  # customers point at this employee, yet none of them is the employee's data

    result = lookup(chinook_ws, emp["Email"])
    assert result.status == "found"
    assert result.subject.ref == f"Employee:{emp['EmployeeId']}" and result.subject.subject_type == "employee"
    assert set(result.records) == {"Employee"}
    assert keys(result.records, "Employee", "EmployeeId") == [emp["EmployeeId"]]
    assert set(result.context) == {"Employee"}
    assert keys(result.context, "Employee", "EmployeeId") == [emp["ReportsTo"]]


def test_shared_office_phone_returns_candidates_never_merged(chinook_ws, src):
    by_number: dict[str, set[int]] = {}
    for emp_id, phone in src.execute("SELECT EmployeeId, Phone FROM Employee WHERE Phone IS NOT NULL"):
        by_number.setdefault(re.sub(r"\D", "", phone), set()).add(emp_id)
    shared = sorted((n, ids) for n, ids in by_number.items() if len(ids) > 1)
    assert shared, "precondition: two employees share a phone number"
    ids = shared[0][1]
    phone = one(src, "SELECT Phone FROM Employee WHERE EmployeeId = ?", min(ids))[0]
    result = lookup(chinook_ws, phone, audit_log=False)
    assert result.status == "ambiguous"
    assert {c.ref for c in result.candidates} == {f"Employee:{i}" for i in ids}
    assert result.records == {}


# ---------------------------------------------------------------------------------------------------------------
# Names: fuzzy, ranked, always picked by a person.


def _name_lookup(ws, query):
    result = lookup(ws, query, audit_log=False)
    assert result.status == "ambiguous"  # a name never resolves on its own
    assert result.records == {}
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    return result


def test_name_query_lists_the_customer_among_ranked_candidates(chinook_ws, src):
    cid = customer_of(src, EMAIL)["CustomerId"]
    result = _name_lookup(chinook_ws, "Luis Goncalves")
    assert f"Customer:{cid}" in [c.ref for c in result.candidates]


def test_surname_without_diacritics_ranks_the_customer_first(chinook_ws, src):
    cust = customer_of(src, EMAIL)
    plain = cust["LastName"].replace("ç", "c")
    assert plain != cust["LastName"]
    result = _name_lookup(chinook_ws, plain)
    assert result.candidates[0].ref == f"Customer:{cust['CustomerId']}"


def test_full_name_without_diacritics_ranks_the_customer_first(chinook_ws, src):
    cust = customer_of(src, EMAIL)
    result = _name_lookup(chinook_ws, "Luis Goncalves")
    assert result.candidates[0].ref == f"Customer:{cust['CustomerId']}"
    reversed_order = _name_lookup(chinook_ws, "Goncalves Luis")
    assert reversed_order.candidates[0].ref == f"Customer:{cust['CustomerId']}"
