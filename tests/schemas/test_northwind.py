"""Northwind (Microsoft's sample database, PostgreSQL edition, Ms-PL) on a real PostgreSQL: the public script loaded
by data/northwind/load.py, the workspace's map data/northwind/privacyops.yaml.

Orders have two people in them: the customer owns the order, the employee who took it appears in it. Every
expectation comes from SQL on the loaded database (and the script's text), never from privacyops' output: each
customer gets exactly their orders and lines, each employee their row, territories and the orders they took with
every customer field withheld; no other person's value appears anywhere; context rows show no personal fields;
`check` passes; erasures change exactly the rows the map's rules name and nothing else."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
import yaml

from privacyops.erasure import DELETE, MASK, RETAIN, approve_plan, execute_plan, plan_erasure, verify_certificate
from privacyops.ledger import open_case
from privacyops.lookup import WITHHELD, lookup
from privacyops.workspace import check_workspace, open_workspace
from tests.support import northwind as nw
from tests.support import pg as pgserver

pytestmark = pytest.mark.slow  # Northwind end to end, most of it on the PostgreSQL test server

# The test's own reading of Northwind: which columns hold personal data (for context rows and leak checks).
PERSONAL = {
    "customers": {"customer_id", "company_name", "contact_name", "contact_title", "address", "city", "region",
                  "postal_code", "country", "phone", "fax"},
    "employees": {"employee_id", "last_name", "first_name", "title", "title_of_courtesy", "birth_date", "hire_date",
                  "address", "city", "region", "postal_code", "country", "home_phone", "extension", "photo", "notes",
                  "reports_to", "photo_path"},
    "suppliers": {"company_name", "contact_name", "contact_title", "address", "city", "region", "postal_code",
                  "country", "phone", "fax"},
    "orders": {"customer_id", "employee_id", "order_date", "required_date", "shipped_date", "freight", "ship_name",
               "ship_address", "ship_city", "ship_region", "ship_postal_code", "ship_country"},
    "order_details": {"product_id", "unit_price", "quantity", "discount"},
    "employee_territories": {"employee_id", "territory_id"},
    "customer_customer_demo": {"customer_id", "customer_type_id"},
}
# An order's columns that are the customer's (everything but the order's id, who took it and the carrier).
CUSTOMER_ORDER_FIELDS = PERSONAL["orders"] - {"employee_id"}
EMPLOYEE_ORDER_VIEW = ("order_id", "employee_id", "ship_via")  # what the employee who took an order sees of it
NO_RULE = ("customers", "employees", "suppliers", "order_details", "customer_customer_demo", "employee_territories")


# ---------------------------------------------------------------------------------------------------------------
# Fixtures: the script loaded once into a template database; lookups read a copy; each erasure gets its own copy.


@pytest.fixture(scope="module")
def template(postgres_dsn):
    if not nw.SCRIPT.is_file():
        pytest.fail(f"Northwind script not found at {nw.SCRIPT} (set NORTHWIND_SQL)", pytrace=False)
    with pgserver.database(postgres_dsn, "northwind_template") as dsn:
        report = nw.loader.load(dsn, nw.SCRIPT)
        yield dsn, report  # nothing stays connected to it: CREATE DATABASE ... TEMPLATE needs that


@pytest.fixture(scope="module")
def nw_dsn(postgres_dsn, template):
    """The database the lookups read (a copy of the template no test changes)."""
    with pgserver.database(postgres_dsn, "northwind", template=pgserver.database_name(template[0])) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def db(nw_dsn):
    """SQL on the lookups' database (one connection for the module)."""
    with nw.SQL(nw_dsn) as sql:
        yield sql


@pytest.fixture(scope="module")
def ws_dir(tmp_path_factory):
    return nw.workspace(tmp_path_factory.mktemp("northwind") / "ws")


@pytest.fixture()
def ws(ws_dir, nw_dsn, monkeypatch):
    monkeypatch.setenv(nw.DSN_ENV, nw_dsn)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "test-analyst")
    return open_workspace(ws_dir)


@pytest.fixture()
def fresh(postgres_dsn, template, tmp_path, monkeypatch):
    """A database of its own (a copy of the freshly loaded script) and a workspace on it, for an erasure."""
    with pgserver.database(postgres_dsn, "northwind_erasure", template=pgserver.database_name(template[0])) as dsn:
        monkeypatch.setenv(nw.DSN_ENV, dsn)
        monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
        ws = open_workspace(nw.workspace(tmp_path / "ws"))
        with nw.SQL(dsn) as sql:
            yield ws, sql
        ws.close()


# ---------------------------------------------------------------------------------------------------------------
# Helpers.


def keyed(recs) -> dict[tuple, tuple[dict, str, bool, set[str]]]:
    """key -> (row, role, owner, withheld) of one dataset's records."""
    return {k: (row, recs.roles[i], recs.owner[i], set(recs.withheld[i]))
            for i, (k, row) in enumerate(zip(recs.keys(), recs.rows))}


def by_pk(table: str, found: list[dict]) -> dict[tuple, dict]:
    return {tuple(r[c] for c in nw.PRIMARY_KEYS[table]): r for r in found}


def withheld_view(row: dict, columns) -> dict:
    """A row as another party of it sees it: `columns` withheld (a NULL stays NULL)."""
    return {c: (WITHHELD if c in columns and v is not None else v) for c, v in row.items()}


def assert_context(result, expected: dict[str, list[dict]]) -> None:
    """The context is exactly `expected` (SQL rows per table), showing the key and non-personal columns only."""
    assert set(result.context) == {t for t, found in expected.items() if found}
    for table, found in expected.items():
        if not found:
            continue
        ctx = result.context[table]
        allowed = set(nw.PRIMARY_KEYS[table]) | (set(found[0]) - PERSONAL.get(table, set()))
        assert set(ctx.columns) == allowed, table
        assert {k: row for k, row in zip(ctx.keys(), ctx.rows)} == {
            k: {c: r[c] for c in ctx.columns} for k, r in by_pk(table, found).items()}, table


def cells(result):
    """Every value the result shows (records and context), with where it is."""
    for part in (result.records, result.context, result.shared):
        for name, recs in part.items():
            for row in recs.rows:
                for col, value in row.items():
                    if value is not None and value != WITHHELD:
                        yield name, col, value


def personal_values(found: list[dict], columns) -> set:
    return {r[c] for r in found for c in columns if c in r and r[c] is not None}


def assert_nothing_of_others(result, others: set, own: set) -> None:
    """No value of another person's personal fields appears, unless it is one of the subject's own values too
    (a shared city, a job title)."""
    leaked = sorted({(n, c, str(v)) for n, c, v in cells(result) if v in others and v not in own})
    assert leaked == []


def name_of(db: nw.SQL, name: str) -> int:
    """How many people (customers' contacts, employees, supplier contacts) have exactly this one's name."""
    return db.column("""
        SELECT count(*) FROM (SELECT contact_name AS n FROM customers UNION ALL
                              SELECT first_name || ' ' || last_name FROM employees UNION ALL
                              SELECT contact_name FROM suppliers) p WHERE n = %s""", [name])[0]


# ---------------------------------------------------------------------------------------------------------------
# The loader and the map.


def test_the_loader_loads_every_row_and_key_of_the_script(template, nw_dsn, db):
    script = nw.SCRIPT.read_text(encoding="utf-8")
    inserts: dict[str, int] = {}
    for table in re.findall(r"^INSERT INTO (\w+) ", script, re.MULTILINE):
        inserts[table] = inserts.get(table, 0) + 1
    tables = re.findall(r"^CREATE TABLE (\w+) \(", script, re.MULTILINE)
    assert len(tables) == 14 and set(nw.PRIMARY_KEYS) == set(tables)
    counts = {t: db.column(f'SELECT count(*) FROM "{t}"')[0] for t in tables}
    assert counts == {t: inserts.get(t, 0) for t in tables}
    assert template[1].tables == counts  # what the loader says it did
    constraints = db.rows("SELECT contype, count(*) AS n FROM pg_constraint c JOIN pg_namespace s ON "
                                  "s.oid = c.connamespace WHERE s.nspname = 'public' GROUP BY 1")
    assert {r["contype"]: r["n"] for r in constraints} == {"p": script.count("PRIMARY KEY"),
                                                           "f": script.count("FOREIGN KEY")}
    assert any("default_with_oids" in s for s in template[1].skipped)
    # a second load into the same database is refused and changes nothing
    with pytest.raises(RuntimeError, match="already has Northwind's table"):
        nw.loader.load(nw_dsn, nw.SCRIPT)
    assert {t: db.column(f'SELECT count(*) FROM "{t}"')[0] for t in tables} == counts


def test_the_loader_splits_statements_and_refuses_what_only_psql_understands():
    st = nw.loader.statements("INSERT INTO t VALUES ('a;b', 'it''s');\n-- c; d\n/* e; */ SELECT \"x;y\" FROM t;\n")
    assert [s.sql for s in st] == ["INSERT INTO t VALUES ('a;b', 'it''s')", 'SELECT "x;y" FROM t']
    assert [s.line for s in st] == [1, 3]
    for bad, why in [("SELECT 1;\n\\connect other\n", "meta-command"), ("  \\i evil.sql\n", "meta-command"),
                     ("COPY t (a) FROM stdin;\n1\n\\.\n", "COPY|meta-command"),
                     ("SET default_with_oids = true;", "WITH OIDS")]:
        with pytest.raises(ValueError, match=why):
            nw.loader.plan(bad)
    run, skipped, tables = nw.loader.plan("SET default_with_oids = false;\nDROP TABLE IF EXISTS t;\n"
                                          "CREATE TABLE t (a int);\n")
    assert [s.sql for s in run] == ["CREATE TABLE t (a int)"] and tables == ["t"] and len(skipped) == 2
    run, _, _ = nw.loader.plan("DROP TABLE IF EXISTS t;\nCREATE TABLE t (a int);\n", replace=True)
    assert [s.sql for s in run] == ["DROP TABLE IF EXISTS t", "CREATE TABLE t (a int)"]


def test_the_map_names_every_table_and_column_of_the_script_and_no_secret():
    spec = yaml.safe_load(nw.MAP.read_text())
    assert spec["sources"]["northwind"]["kind"] == "postgres"
    assert spec["sources"]["northwind"]["dsn_env"] == nw.DSN_ENV
    assert not {"db", "password", "url", "user", "host"} & set(spec["sources"]["northwind"])
    script = nw.SCRIPT.read_text(encoding="utf-8")
    assert set(spec["datasets"]) == set(nw.PRIMARY_KEYS)
    for table, ds in spec["datasets"].items():
        body = re.search(rf"CREATE TABLE {table} \((.*?)\);", script, re.DOTALL).group(1)
        cols = {line.split()[0] for line in body.strip().splitlines()}
        pk = [ds["primary_key"]] if isinstance(ds["primary_key"], str) else ds["primary_key"]
        assert tuple(pk) == nw.PRIMARY_KEYS[table]
        assert set(ds["fields"]) | set(ds.get("references", {})) | set(pk) == cols, table
        mapped_personal = {c for c, f in ds["fields"].items()
                           if str(f if isinstance(f, str) else f["category"]).startswith("user")}
        assert mapped_personal == PERSONAL.get(table, set()), table  # the map and the test agree


# ---------------------------------------------------------------------------------------------------------------
# check


def test_check_passes_and_warns_only_about_the_schemas_real_gaps(ws, db):
    report = check_workspace(ws)
    assert report.ok, [str(p) for p in report.problems]
    tables = db.column("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    assert report.rows == {t: db.column(f'SELECT count(*) FROM "{t}"')[0] for t in tables}
    expected = [f"{t}: personal data with no retention rule (storage limitation, Art. 5(1)(e))" for t in NO_RULE]
    expected.append("recipient 'carriers' is located in US, outside the EU/EEA")
    # No foreign key warning: the map lists every key the store declares, and names the parties of orders.
    assert sorted(report.warnings) == sorted(expected)


# ---------------------------------------------------------------------------------------------------------------
# Customers: exactly their orders and lines; the employee who took an order withheld; products and shippers as
# context; nothing of anyone else.


def customer_truth(db: nw.SQL, cid: str) -> dict[str, list[dict]]:
    q = lambda sql: db.rows(sql, [cid])
    return {
        "customers": q("SELECT * FROM customers WHERE customer_id = %s"),
        "orders": q("SELECT * FROM orders WHERE customer_id = %s"),
        "order_details": q("SELECT d.* FROM order_details d JOIN orders o USING (order_id) WHERE o.customer_id = %s"),
        "products": q("SELECT * FROM products WHERE product_id IN (SELECT d.product_id FROM order_details d "
                      "JOIN orders o USING (order_id) WHERE o.customer_id = %s)"),
        "shippers": q("SELECT * FROM shippers WHERE shipper_id IN (SELECT ship_via FROM orders WHERE customer_id = %s)"),
    }


def customer_others(db: nw.SQL, cid: str) -> set:
    """Other customers', every employee's and every supplier contact's personal values, and the delivery
    fields of other customers' orders."""
    others = personal_values(db.rows("SELECT * FROM customers WHERE customer_id <> %s", [cid]),
                             PERSONAL["customers"])
    others |= personal_values(db.rows("SELECT * FROM employees"), PERSONAL["employees"] - {"employee_id",
                                                                                                "reports_to"})
    others |= personal_values(db.rows("SELECT * FROM suppliers"), PERSONAL["suppliers"])
    others |= personal_values(db.rows("SELECT * FROM orders WHERE customer_id <> %s", [cid]),
                              {"customer_id", "ship_name", "ship_address", "ship_postal_code"})
    return others


def assert_is_customer(result, cid: str, truth: dict[str, list[dict]], others: set) -> None:
    assert result.status == "found", (cid, result.status)
    assert result.subject.ref == f"customers:{cid}" and result.subject.subject_type == "customer"
    recs = result.records
    expected_sets = {t for t in ("customers", "orders", "order_details") if truth[t]}
    assert set(recs) == expected_sets, cid
    (row, role, owner, withheld), = keyed(recs["customers"]).values()
    assert row == truth["customers"][0] and (role, owner, withheld) == ("subject", True, set())
    if truth["orders"]:
        # Their orders, every field theirs shown; the employee who took each one withheld.
        got = keyed(recs["orders"])
        assert {k: v[0] for k, v in got.items()} == {
            k: withheld_view(r, {"employee_id"}) for k, r in by_pk("orders", truth["orders"]).items()}, cid
        assert all(v[1:] == ("customer", True, {"employee_id"}) for v in got.values())
        details = keyed(recs["order_details"])
        assert {k: v[0] for k, v in details.items()} == by_pk("order_details", truth["order_details"]), cid
        assert all(v[1:] == ("subject", True, set()) for v in details.values())
    assert_context(result, {"products": truth["products"], "shippers": truth["shippers"]})
    assert result.shared == {} and result.mentions == [] and result.candidates == []
    own = {v for t in truth.values() for r in t for c, v in r.items() if c != "employee_id" and v is not None}
    assert_nothing_of_others(result, others, own)


def all_customers(db: nw.SQL) -> list[dict]:
    return db.rows("SELECT customer_id, contact_name, phone FROM customers ORDER BY customer_id")


def test_every_customer_by_id_gets_exactly_their_orders_and_lines(ws, db):
    customers = all_customers(db)
    assert len(customers) == db.column("SELECT count(*) FROM customers")[0] > 0
    for c in customers:
        cid = c["customer_id"]
        result = lookup(ws, cid, kind="customer_id", audit_log=False)
        assert_is_customer(result, cid, customer_truth(db, cid), customer_others(db, cid))


def test_every_customer_by_phone_or_the_people_sharing_that_number(ws, db):
    shared = 0
    for c in all_customers(db):
        cid, phone = c["customer_id"], c["phone"]
        assert phone, cid
        truth, others = customer_truth(db, cid), customer_others(db, cid)
        matching = nw.people_with_phone(db, phone)
        assert f"customers:{cid}" in matching
        for variant in (phone, "+" + re.sub(r"\D", "", phone)):
            result = lookup(ws, variant, audit_log=False)
            assert "phone" in result.kind.split("/"), (cid, variant, result.kind)
            if matching == {f"customers:{cid}"}:
                assert_is_customer(result, cid, truth, others)
            else:  # two people with numbers ending alike: candidates, never merged
                assert result.status == "ambiguous" and result.records == {}, (cid, variant)
                assert {x.ref for x in result.candidates} == matching
                shared += 1
    assert shared  # the data has such numbers (BOLID and CONSH): the branch above ran
    for c in all_customers(db)[:3]:
        cid = c["customer_id"]
        assert_is_customer(lookup(ws, pick=f"customers:{cid}", audit_log=False), cid,
                           customer_truth(db, cid), customer_others(db, cid))


def test_every_customer_by_contact_name_ranks_first_and_picking_them_gets_their_rows(ws, db):
    for c in all_customers(db):
        cid, name = c["customer_id"], c["contact_name"]
        assert name_of(db, name) == 1, name  # nobody else has this exact name
        result = lookup(ws, name, audit_log=False)
        assert result.status == "ambiguous" and result.records == {}, name  # names always give candidates
        top = result.candidates[0]
        assert top.ref == f"customers:{cid}", (name, [(x.ref, x.score) for x in result.candidates[:3]])
        assert all(x.score < top.score for x in result.candidates[1:]), name
        assert_is_customer(lookup(ws, pick=top.ref, audit_log=False), cid,
                           customer_truth(db, cid), customer_others(db, cid))


# ---------------------------------------------------------------------------------------------------------------
# Employees: their row, their territories, the orders they took with every customer field withheld; the manager
# as context (key only).


def employee_truth(db: nw.SQL, eid: int) -> dict[str, list[dict]]:
    q = lambda sql: db.rows(sql, [eid])
    emp = q("SELECT * FROM employees WHERE employee_id = %s")
    return {
        "employees": emp,
        "employee_territories": q("SELECT * FROM employee_territories WHERE employee_id = %s"),
        "orders": q("SELECT * FROM orders WHERE employee_id = %s"),
        "territories": q("SELECT * FROM territories WHERE territory_id IN (SELECT territory_id FROM "
                         "employee_territories WHERE employee_id = %s)"),
        "shippers": q("SELECT * FROM shippers WHERE shipper_id IN (SELECT ship_via FROM orders WHERE "
                      "employee_id = %s)"),
        "manager": db.rows("SELECT * FROM employees WHERE employee_id = %s", [emp[0]["reports_to"]])
        if emp and emp[0]["reports_to"] is not None else [],
    }


def employee_others(db: nw.SQL, eid: int) -> set:
    """Every customer's and supplier contact's personal values, the other employees', and every order's customer
    fields (the employee sees none of them)."""
    others = personal_values(db.rows("SELECT * FROM customers"), PERSONAL["customers"])
    others |= personal_values(db.rows("SELECT * FROM employees WHERE employee_id <> %s", [eid]),
                              PERSONAL["employees"] - {"employee_id", "reports_to"})
    others |= personal_values(db.rows("SELECT * FROM suppliers"), PERSONAL["suppliers"])
    others |= personal_values(db.rows("SELECT * FROM orders"), CUSTOMER_ORDER_FIELDS)
    return others


def assert_is_employee(result, eid: int, truth: dict[str, list[dict]], others: set) -> None:
    assert result.status == "found", (eid, result.status)
    assert result.subject.ref == f"employees:{eid}" and result.subject.subject_type == "employee"
    recs = result.records
    assert set(recs) == {"employees", "employee_territories", "orders"}  # never the lines: those are the customer's
    (row, role, owner, withheld), = keyed(recs["employees"]).values()
    assert row == truth["employees"][0] and (role, owner, withheld) == ("subject", True, set())
    assert {k: v[0] for k, v in keyed(recs["employee_territories"]).items()} == by_pk(
        "employee_territories", truth["employee_territories"])
    # The orders they took: rows they appear in, every customer field withheld.
    got = keyed(recs["orders"])
    assert {k: v[0] for k, v in got.items()} == {
        k: withheld_view(r, CUSTOMER_ORDER_FIELDS) for k, r in by_pk("orders", truth["orders"]).items()}
    assert all(v[1:] == ("employee", False, CUSTOMER_ORDER_FIELDS) for v in got.values())
    assert all(v[0][c] == WITHHELD for v in got.values() for c in ("customer_id", "ship_name", "ship_address"))
    assert_context(result, {"employees": truth["manager"], "shippers": truth["shippers"],
                            "territories": truth["territories"]})
    if truth["manager"]:
        assert result.context["employees"].columns == ["employee_id"]  # the manager: the key, nothing personal
    assert result.shared == {} and result.candidates == []
    own = {v for t in ("employees", "employee_territories", "territories", "shippers") for r in truth[t]
           for v in r.values() if v is not None}
    own |= {r[c] for r in truth["orders"] for c in EMPLOYEE_ORDER_VIEW} | {r["employee_id"] for r in truth["manager"]}
    assert_nothing_of_others(result, others, own)


def test_every_employee_by_id_phone_and_name(ws, db):
    employees = db.rows("SELECT employee_id, first_name, last_name, home_phone FROM employees ORDER BY 1")
    assert employees
    for e in employees:
        eid = e["employee_id"]
        truth, others = employee_truth(db, eid), employee_others(db, eid)
        assert truth["orders"] and truth["employee_territories"]  # each took orders and covers territories
        assert_is_employee(lookup(ws, str(eid), kind="employee_id", audit_log=False), eid, truth, others)
        matching = nw.people_with_phone(db, e["home_phone"])
        result = lookup(ws, e["home_phone"], audit_log=False)
        if matching == {f"employees:{eid}"}:
            assert_is_employee(result, eid, truth, others)
        else:
            assert result.status == "ambiguous" and {x.ref for x in result.candidates} == matching
        name = f"{e['first_name']} {e['last_name']}"
        assert name_of(db, name) == 1
        result = lookup(ws, name, audit_log=False)
        assert result.status == "ambiguous" and result.candidates[0].ref == f"employees:{eid}", name
        assert all(x.score < result.candidates[0].score for x in result.candidates[1:]), name
        assert_is_employee(lookup(ws, pick=result.candidates[0].ref, audit_log=False), eid, truth, others)


def test_each_order_is_the_customers_and_the_employee_who_took_it_sees_it_withheld(ws, db):
    """Both sides of one order: the customer sees it whole but the employee; the employee sees their id only."""
    order = db.rows("SELECT * FROM orders WHERE ship_region IS NOT NULL ORDER BY order_id LIMIT 1")[0]
    key = (order["order_id"],)
    mine = keyed(lookup(ws, order["customer_id"], kind="customer_id", audit_log=False).records["orders"])[key]
    theirs = keyed(lookup(ws, str(order["employee_id"]), kind="employee_id", audit_log=False).records["orders"])[key]
    assert mine[0] == {**order, "employee_id": WITHHELD} and mine[1:3] == ("customer", True)
    assert theirs[0] == withheld_view(order, CUSTOMER_ORDER_FIELDS)
    assert {c for c, v in theirs[0].items() if v != WITHHELD} == set(EMPLOYEE_ORDER_VIEW)  # ship_region too
    assert theirs[1:3] == ("employee", False)


def test_context_rows_show_no_personal_field(ws, db):
    seen = set()
    for cid in db.column("SELECT customer_id FROM customers ORDER BY 1 LIMIT 5"):
        seen |= set(lookup(ws, cid, kind="customer_id", audit_log=False).context)
    for eid in db.column("SELECT employee_id FROM employees ORDER BY 1"):
        result = lookup(ws, str(eid), kind="employee_id", audit_log=False)
        for name, ctx in result.context.items():
            seen.add(name)
            shown = set(ctx.columns) - set(nw.PRIMARY_KEYS[name])
            assert not shown & PERSONAL.get(name, set()), name
            assert all(set(row) == set(ctx.columns) for row in ctx.rows)
    assert seen == {"products", "shippers", "employees", "territories"}


# ---------------------------------------------------------------------------------------------------------------
# Erasure, end to end on PostgreSQL: plan, approve as a second person, execute; then SQL.


MAP_SPEC = yaml.safe_load(nw.MAP.read_text())


def run(ws, monkeypatch, plan):
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "bob")  # four eyes: someone else approves
    approve_plan(ws, plan.plan_id)
    monkeypatch.setenv("PRIVACYOPS_ACTOR", "alice")
    result = execute_plan(ws, plan.plan_id)
    assert result.ok, result.verification.problems
    check = verify_certificate(result.certificate_path, ws)
    assert check.ok and check.workspace_key, str(check)
    return result


def minimised(row: dict, keep: set[str], not_null: set[str]) -> dict:
    """A row kept only for its key (and `keep`): NULL elsewhere, `[erased]` where the column refuses NULL."""
    return {c: (v if c in keep else ("[erased]" if c in not_null else None)) for c, v in row.items()}


def retained_order(row: dict) -> dict:
    """An order kept under the bookkeeping rule, as the map says: the key and keep_fields stay, the map's mask
    strategies apply (redact: `[erased]` where there was a value), every other field is NULL; the employee's id is
    not the customer's to erase."""
    policy = MAP_SPEC["datasets"]["orders"]["erasure"]
    keep = {"order_id", "employee_id", *policy["keep_fields"]}
    out = {}
    for c, v in row.items():
        if c in keep or v is None:
            out[c] = v
        else:
            assert policy["mask"].get(c, "null") in ("redact", "null")
            out[c] = "[erased]" if policy["mask"].get(c) == "redact" else None
    return out


def kept_until(order_date: dt.date) -> dt.date:
    """7 years from the end of the order's fiscal year (calendar year): the map's bookkeeping rule."""
    return dt.date(order_date.year + 7, 12, 31)


def test_the_bookkeeping_rule_is_the_one_the_erasure_tests_compute():
    rule = MAP_SPEC["retention"]["bookkeeping"]
    assert (rule["keep"], rule["from"], MAP_SPEC["settings"]["fiscal_year_start"]) == (
        "7 years", "end_of_fiscal_year(order_date)", "01-01")
    assert MAP_SPEC["purposes"]["accounting"]["legal_basis"] == "legal_obligation"
    assert "accounting" in MAP_SPEC["datasets"]["orders"]["purposes"]
    assert "accounting" in MAP_SPEC["datasets"]["order_details"]["purposes"]


@pytest.mark.parametrize("as_of", [None, dt.date(2004, 6, 30)], ids=["today", "as-of-2004-06-30"])
def test_erasing_a_customer_end_to_end(fresh, monkeypatch, as_of):
    """Today every order's seven years have run: the customer, their orders and lines are deleted. On 2004-06-30
    the 1996 orders are past their rule (deleted with their lines), the 1997-98 ones are kept minimised with their
    lines, and so the customer row they point at (an enforced foreign key) is kept, minimised to its key."""
    ws, db = fresh
    cid = db.column("SELECT customer_id FROM orders GROUP BY 1 HAVING min(order_date) < '1997-01-01' AND "
                         "max(order_date) >= '1998-01-01' ORDER BY count(*) DESC, 1 LIMIT 1")[0]
    day = as_of or dt.date.today()
    before = nw.snapshot(db)
    mine = {k: o for k, o in before["orders"].items() if o["customer_id"] == cid}
    kept = {k for k, o in mine.items() if day <= kept_until(o["order_date"])}
    assert mine and (kept if as_of else not kept) and (len(kept) < len(mine))

    case = open_case(ws, "erasure", (as_of or dt.date.today()) - dt.timedelta(days=5)).case_id
    plan = plan_erasure(ws, case, pick=f"customers:{cid}", as_of=as_of)
    assert {r.key: r.action for r in plan.rows if r.dataset == "orders"} == {
        k: (RETAIN if k in kept else DELETE) for k in mine}
    assert all(not r.masks.get("employee_id") for r in plan.rows)  # the employee's id is not the customer's
    run(ws, monkeypatch, plan)

    expected = copy.deepcopy(before)
    for k, o in mine.items():
        lines = [d for d in expected["order_details"] if d[0] == k[0]]
        if k in kept:
            expected["orders"][k] = retained_order(o)  # its lines stay whole, with it
        else:
            del expected["orders"][k]
            for d in lines:
                del expected["order_details"][d]
    for d in [d for d in expected["customer_customer_demo"] if d[0] == cid]:
        del expected["customer_customer_demo"][d]
    if kept:
        expected["customers"][(cid,)] = minimised(before["customers"][(cid,)], {"customer_id"},
                                                  nw.not_null_columns(db, "customers"))
    else:
        del expected["customers"][(cid,)]
    after = nw.snapshot(db)
    for table in nw.PRIMARY_KEYS:  # table by table: a failure names the table
        assert after[table] == expected[table], table


@pytest.mark.parametrize("manager", [False, True], ids=["sales-representative", "manager"])
def test_erasing_an_employee_masks_only_their_id_in_the_orders_they_took(fresh, monkeypatch, manager):
    """The orders stay (they are the customers'), with employee_id cleared; customers and everyone else are
    untouched; the employee's territories go. A manager's row is kept minimised to its key: the other employees'
    reports_to still point at it, and the store enforces that link."""
    ws, db = fresh
    eid = db.column(f"""SELECT employee_id FROM employees e WHERE {'' if manager else 'NOT'} EXISTS
                             (SELECT 1 FROM employees r WHERE r.reports_to = e.employee_id)
                             AND EXISTS (SELECT 1 FROM orders o WHERE o.employee_id = e.employee_id)
                             ORDER BY 1 LIMIT 1""")[0]
    before = nw.snapshot(db)
    plan = plan_erasure(ws, open_case(ws, "erasure", dt.date.today()).case_id, pick=f"employees:{eid}")
    took = {k for k, o in before["orders"].items() if o["employee_id"] == eid}
    planned = {r.key: r for r in plan.rows if r.dataset == "orders"}
    assert set(planned) == took and all(not r.owner and r.party == "employee" for r in planned.values())
    wrong = [r for r in planned.values() if r.action != MASK or set(r.masks) != {"employee_id"}]
    assert not wrong, (f"{len(wrong)} of {len(took)} orders not planned as MASK employee_id; e.g. {wrong[0].ref}: "
                       f"{wrong[0].action}, {wrong[0].reason}; notes: {wrong[0].notes}")
    assert not [r for r in plan.rows if r.dataset in ("customers", "order_details")]
    run(ws, monkeypatch, plan)

    expected = copy.deepcopy(before)
    for k in took:
        expected["orders"][k] = {**before["orders"][k], "employee_id": None}
    for k in [k for k in expected["employee_territories"] if k[0] == eid]:
        del expected["employee_territories"][k]
    if manager:
        expected["employees"][(eid,)] = minimised(before["employees"][(eid,)], {"employee_id"},
                                                  nw.not_null_columns(db, "employees"))
    else:
        del expected["employees"][(eid,)]
    after = nw.snapshot(db)
    for table in nw.PRIMARY_KEYS:
        assert after[table] == expected[table], table
