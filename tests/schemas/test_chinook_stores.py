"""Chinook (Luis Rocha, MIT licence) in the stores people really keep it in: the original SQLite file
(data/chinook/sqlite/) and the public PostgreSQL script (data/chinook/postgres/, snake_case names). The key checks
of test_chinook.py, for both; every expected number comes from SQL against the original SQLite file, and the name
rankings must equal the DuckDB workspace's (data/chinook/build.py)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from privacyops.lookup import lookup
from privacyops.workspace import check_workspace, create_indexes, open_workspace
from tests.support import pg as pgserver
from tests.support.chinook import CHINOOK, DSN_ENV, PG_SCRIPT, SQLITE, duckdb_build, postgres_load, snake, sqlite_build

pytestmark = pytest.mark.slow  # Chinook end to end in SQLite and PostgreSQL

REPO = Path(__file__).resolve().parents[2]
EMAIL = "luisg@embraer.com.br"


@dataclass
class Store:
    kind: str
    ws: object

    def n(self, name: str) -> str:
        """A dataset or column name in this store's map."""
        return snake(name) if self.kind == "postgres" else name

    def ref(self, dataset: str, key) -> str:
        return f"{self.n(dataset)}:{key}"

    def keys(self, part, dataset: str, column: str) -> list:
        recs = part.get(self.n(dataset))
        return sorted(r[self.n(column)] for r in recs.rows) if recs else []


# ---------------------------------------------------------------------------------------------------------------
# Fixtures: the truth (the original SQLite file), the two workspaces, the DuckDB workspace for name rankings.


@pytest.fixture(scope="module")
def src():
    if not SQLITE.is_file():
        pytest.fail(f"Chinook SQLite file not found at {SQLITE} (set CHINOOK_SQLITE)", pytrace=False)
    con = sqlite3.connect(f"file:{SQLITE}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    yield con
    con.close()


@pytest.fixture(scope="module")
def sqlite_dir(tmp_path_factory, src) -> Path:
    root = tmp_path_factory.mktemp("chinook-sqlite")
    sqlite_build.build(root, SQLITE)
    return root


@pytest.fixture(scope="module")
def chinook_pg(postgres_dsn) -> str:
    if not PG_SCRIPT.is_file():
        pytest.fail(f"Chinook PostgreSQL script not found at {PG_SCRIPT} (set CHINOOK_POSTGRES_SQL)", pytrace=False)
    with pgserver.database(postgres_dsn, "chinook") as dsn:
        postgres_load.load(dsn, PG_SCRIPT)
        yield dsn


@pytest.fixture(scope="module")
def postgres_dir(tmp_path_factory, chinook_pg) -> Path:
    root = tmp_path_factory.mktemp("chinook-postgres")
    (root / "privacyops.yaml").write_text((CHINOOK / "postgres" / "privacyops.yaml").read_text())
    return root


@pytest.fixture(scope="module")
def duck_ws_dir(tmp_path_factory, src) -> Path:
    root = tmp_path_factory.mktemp("chinook-duckdb")
    duckdb_build.build(root, SQLITE)
    return root


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request, monkeypatch) -> Store:
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    if request.param == "postgres":
        monkeypatch.setenv(DSN_ENV, request.getfixturevalue("chinook_pg"))
        return Store("postgres", open_workspace(request.getfixturevalue("postgres_dir")))
    return Store("sqlite", open_workspace(request.getfixturevalue("sqlite_dir")))


def one(src, sql: str, *params):
    return src.execute(sql, params).fetchone()


def column(src, sql: str, *params) -> list:
    return [r[0] for r in src.execute(sql, params).fetchall()]


def customer_of(src, email: str) -> sqlite3.Row:
    rows = src.execute("SELECT * FROM Customer WHERE lower(Email) = lower(?)", (email,)).fetchall()
    assert len(rows) == 1
    return rows[0]


# ---------------------------------------------------------------------------------------------------------------
# The maps: the DuckDB map with another source (SQLite) or PostgreSQL's names; nothing else may drift.


def _identifiers(value, rename):
    """A parsed map with every table/column name renamed (descriptions and categories kept)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("description", "ground", "legitimate_interest", "category", "categories"):
                out[k] = v
            elif k in ("fields", "identities", "references", "mask"):
                out[k] = {rename(c): _identifiers(x, rename) for c, x in v.items()} if isinstance(v, dict) else v
            else:
                out[k] = _identifiers(v, rename)
        return out
    if isinstance(value, list):
        return [_identifiers(v, rename) for v in value]
    if isinstance(value, str) and all(rename(p) != p for p in value.split(".")):
        return ".".join(rename(p) for p in value.split("."))
    if isinstance(value, str) and value.startswith("end_of_fiscal_year("):
        return f"end_of_fiscal_year({rename(value[19:-1])})"
    return value


def test_the_store_maps_are_the_duckdb_map(src):
    duck = yaml.safe_load((CHINOOK / "privacyops.yaml").read_text())
    lite = yaml.safe_load((CHINOOK / "sqlite" / "privacyops.yaml").read_text())
    pg = yaml.safe_load((CHINOOK / "postgres" / "privacyops.yaml").read_text())
    assert lite["sources"] == {"chinook": {"kind": "sqlite", "path": "chinook.sqlite", "location": "IE",
                                           "description": lite["sources"]["chinook"]["description"]}}
    assert pg["sources"]["chinook"]["kind"] == "postgres" and pg["sources"]["chinook"]["dsn_env"] == DSN_ENV
    assert not {"dsn", "password", "url"} & set(pg["sources"]["chinook"])
    for other in (lite, pg):
        other.pop("sources")
    duck.pop("sources")
    assert lite == duck
    known = set(column(src, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    known |= {r[1] for t in list(known) for r in src.execute(f'PRAGMA table_info("{t}")')}

    def rename(name):
        return snake(name) if name in known else name

    renamed = _identifiers(duck, rename)
    renamed["datasets"] = {snake(k): v for k, v in renamed["datasets"].items()}
    assert pg == renamed
    # and the PostgreSQL names are the script's
    script = PG_SCRIPT.read_text()
    for table, spec in pg["datasets"].items():
        body = re.search(rf"CREATE TABLE {table}\s*\((.*?)\);", script, re.S).group(1)
        cols = {line.split()[0] for line in body.strip().splitlines() if not line.strip().startswith("CONSTRAINT")}
        assert set(spec["fields"]) | set(spec.get("references", {})) | set(
            [spec["primary_key"]] if isinstance(spec["primary_key"], str) else spec["primary_key"]) == cols, table


def test_the_postgres_script_body_skips_the_database_statements():
    body = postgres_load.script_body(PG_SCRIPT.read_text())
    assert "DROP DATABASE" not in body and "CREATE DATABASE" not in body and "\\c" not in body
    assert body.lstrip().startswith("/*") and "CREATE TABLE album" in body
    with pytest.raises(ValueError, match="no '\\\\c chinook' line"):
        postgres_load.script_body("CREATE TABLE x (a int);")


# ---------------------------------------------------------------------------------------------------------------
# check


def test_check_passes_and_counts_every_table(store, src):
    report = check_workspace(store.ws)
    assert report.ok, [str(p) for p in report.problems]
    tables = column(src, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    assert report.rows == {store.n(t): one(src, f'SELECT count(*) FROM "{t}"')[0] for t in tables}
    gaps = sorted(w.split(":")[0] for w in report.warnings if "no retention rule" in w)
    assert gaps == sorted(store.n(t) for t in ("Customer", "Employee", "InvoiceLine"))


# ---------------------------------------------------------------------------------------------------------------
# A customer: exactly their invoices and lines; tracks and the support agent as context; no one else.


def assert_is_luis(store: Store, result, src) -> None:
    cust = customer_of(src, EMAIL)
    cid = cust["CustomerId"]
    invoice_ids = set(column(src, "SELECT InvoiceId FROM Invoice WHERE CustomerId = ?", cid))
    line_ids = set(column(src, "SELECT il.InvoiceLineId FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) "
                               "WHERE i.CustomerId = ?", cid))
    my_tracks = set(column(src, "SELECT il.TrackId FROM InvoiceLine il JOIN Invoice i USING (InvoiceId) "
                                "WHERE i.CustomerId = ?", cid))
    assert invoice_ids and line_ids and my_tracks

    assert result.status == "found"
    assert result.subject.ref == store.ref("Customer", cid) and result.subject.subject_type == "customer"
    recs = result.records
    assert set(recs) == {store.n("Customer"), store.n("Invoice"), store.n("InvoiceLine")}
    assert store.keys(recs, "Customer", "CustomerId") == [cid]
    assert recs[store.n("Invoice")].count == len(invoice_ids)
    assert set(store.keys(recs, "Invoice", "InvoiceId")) == invoice_ids
    assert {r[store.n("CustomerId")] for r in recs[store.n("Invoice")].rows} == {cid}
    assert recs[store.n("InvoiceLine")].count == len(line_ids)
    assert set(store.keys(recs, "InvoiceLine", "InvoiceLineId")) == line_ids
    # tracks only as context: exactly the tracks on the customer's lines; the support agent too
    assert set(result.context) == {store.n("Track"), store.n("Employee")}
    assert set(store.keys(result.context, "Track", "TrackId")) == my_tracks
    assert store.keys(result.context, "Employee", "EmployeeId") == [cust["SupportRepId"]]
    assert result.total_rows == 1 + len(invoice_ids) + len(line_ids)
    assert result.shared == {} and result.candidates == []


def test_email_lookup_returns_exactly_the_customers_rows(store, src):
    assert_is_luis(store, lookup(store.ws, EMAIL), src)
    for variant in (EMAIL.upper(), f"  {EMAIL}  ", "\tLuisG@Embraer.COM.br \n"):
        assert_is_luis(store, lookup(store.ws, variant, audit_log=False), src)


def test_phone_lookup_written_differently_finds_the_same_person(store, src):
    digits = re.sub(r"\D", "", customer_of(src, EMAIL)["Phone"])
    for variant in ("+" + digits, "00" + digits, "00 " + " ".join(digits[i:i + 3] for i in range(0, len(digits), 3))):
        result = lookup(store.ws, variant, audit_log=False)
        assert result.kind == "phone", variant
        assert_is_luis(store, result, src)


def test_id_lookup_and_pick(store, src):
    cid = customer_of(src, EMAIL)["CustomerId"]
    assert_is_luis(store, lookup(store.ws, str(cid), kind="customer_id", audit_log=False), src)
    assert_is_luis(store, lookup(store.ws, pick=store.ref("Customer", cid), audit_log=False), src)


def test_the_same_answers_with_lookup_indexes(store, src):
    report = create_indexes(store.ws, progress=False)
    try:
        assert report.created and not report.skipped
        assert_is_luis(store, lookup(store.ws, EMAIL, audit_log=False), src)
        assert_is_luis(store, lookup(store.ws, customer_of(src, EMAIL)["Phone"], audit_log=False), src)
    finally:
        create_indexes(store.ws, progress=False, drop=True)  # the workspaces are shared by the module's tests


# ---------------------------------------------------------------------------------------------------------------
# Employees.


def test_employee_lookup_returns_the_employee_only_with_manager_as_context(store, src):
    emp = src.execute("SELECT * FROM Employee WHERE ReportsTo IS NOT NULL AND EmployeeId IN "
                      "(SELECT SupportRepId FROM Customer) ORDER BY EmployeeId LIMIT 1").fetchone()
    result = lookup(store.ws, emp["Email"], audit_log=False)
    assert result.status == "found"
    assert result.subject.ref == store.ref("Employee", emp["EmployeeId"])
    assert set(result.records) == {store.n("Employee")}
    assert store.keys(result.records, "Employee", "EmployeeId") == [emp["EmployeeId"]]
    assert set(result.context) == {store.n("Employee")}
    assert store.keys(result.context, "Employee", "EmployeeId") == [emp["ReportsTo"]]


def test_shared_office_phone_returns_candidates_never_merged(store, src):
    by_number: dict[str, set[int]] = {}
    for emp_id, phone in src.execute("SELECT EmployeeId, Phone FROM Employee WHERE Phone IS NOT NULL"):
        by_number.setdefault(re.sub(r"\D", "", phone), set()).add(emp_id)
    ids = sorted((n, ids) for n, ids in by_number.items() if len(ids) > 1)[0][1]
    phone = one(src, "SELECT Phone FROM Employee WHERE EmployeeId = ?", min(ids))[0]
    result = lookup(store.ws, phone, audit_log=False)
    assert result.status == "ambiguous"
    assert {c.ref for c in result.candidates} == {store.ref("Employee", i) for i in ids}
    assert result.records == {}


# ---------------------------------------------------------------------------------------------------------------
# Names: ranked like DuckDB ranks them.


@pytest.mark.parametrize("query", ["Goncalves", "Luis Goncalves", "Goncalves Luis", "Luís Gonçalves", "luis",
                                   "Jane Peacock", "Almeida", "Smith", "Mark Philips"])
def test_names_rank_like_duckdb(store, src, duck_ws_dir, query):
    cid = customer_of(src, EMAIL)["CustomerId"]
    result = lookup(store.ws, query, audit_log=False)
    duck = lookup(open_workspace(duck_ws_dir), query, audit_log=False)
    assert result.status == duck.status == "ambiguous" and result.records == {}
    assert duck.candidates  # the comparison means something
    assert [(c.ref, c.score) for c in result.candidates] == \
        [(store.ref(*c.ref.split(":")), c.score) for c in duck.candidates]
    if "oncalves" in query or query.startswith("Luís"):
        assert result.candidates[0].ref == store.ref("Customer", cid)
