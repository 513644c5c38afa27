"""What the stores declare, read by the connectors: foreign keys (where declared, ON DELETE, deferral), columns
(type, NULL, default, generated, CHECK, unique) and triggers. PostgreSQL: the rental shop of
tests/fixtures/constraints_pg.sql (payments partitioned by month with their keys on the partitions only, an
inheritance child, keys to a partitioned table and to a partition), each answer compared with an independent query
of information_schema. SQLite and DuckDB: what those stores support, against their own pragmas and catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pytest

from privacyops.erasure.masking import fk_matches
from privacyops.erasure.masking import foreign_keys as masking_foreign_keys
from privacyops.errors import SourceError
from privacyops.map import parse_datamap
from privacyops.sources import (
    CASCADE,
    INHERITANCE_CHILD,
    NO_ACTION,
    PARENT,
    PARTITION,
    PARTITIONED_TABLE,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    ForeignKey,
    open_source,
)
from tests.support import pg as pgserver

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "constraints_pg.sql"
SHOP_TABLES = ["address", "staff", "customer", "rental", "payment", "payment_p2024_01", "payment_p2024_02", "refund",
               "audit_sample_2024_01", "customer_note", "complaint", "login", "login_2024_01"]


def shop_map(kind: str, where: str, tables=SHOP_TABLES) -> object:
    """A map naming each table as a dataset (the readers need only the table names)."""
    datasets = "\n".join(f"  {t}: {{source: shop, primary_key: k, fields: {{k: system.operations}}}}" for t in tables)
    return parse_datamap(f"""
version: 1
organisation: {{name: O, contact: p@o.example, authority: {{name: A, country: LV}}}}
purposes: {{s: {{description: S, legal_basis: contract}}}}
sources: {{shop: {{kind: {kind}, {where}, location: LV}}}}
datasets:
{datasets}
""")


# -- PostgreSQL ----------------------------------------------------------------------------------------------------

# Beside the shop: a key declared on a partitioned table itself (PostgreSQL copies it onto each partition), to see
# it from a dataset that names one partition.
LOGINS = """
CREATE TABLE login (customer_id integer NOT NULL REFERENCES customer (customer_id) ON DELETE CASCADE,
                    at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE login_2024_01 PARTITION OF login FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
"""


@pytest.fixture(scope="module")
def shop(postgres_dsn, tmp_path_factory):
    """(connector, map, psycopg connection) on a database loaded from constraints_pg.sql."""
    root = tmp_path_factory.mktemp("constraints-pg")
    with pgserver.database(postgres_dsn, "cons") as dsn, pgserver.connect(dsn) as con:
        con.execute(FIXTURE.read_text())
        con.execute(LOGINS)
        (root / "shop.dsn").write_text(dsn)
        dm = shop_map("postgres", "dsn_file: shop.dsn")
        src = open_source(dm.sources["shop"], root)
        try:
            yield src, dm, con
        finally:
            src.close()


# Every foreign key, from information_schema (not pg_constraint, which the connector reads), except the copies
# PostgreSQL makes of a key for each partition (pg_constraint.conparentid: information_schema does not say).
IS_FOREIGN_KEYS = """
SELECT tc.table_schema, tc.table_name, tc.constraint_name, rc.delete_rule, rc.update_rule,
       tc.is_deferrable = 'YES', tc.initially_deferred = 'YES',
       ARRAY(SELECT k.column_name::text FROM information_schema.key_column_usage k
             WHERE k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name
               AND k.table_name = tc.table_name ORDER BY k.ordinal_position),
       ARRAY(SELECT u.column_name::text FROM information_schema.key_column_usage k
             JOIN information_schema.key_column_usage u ON u.constraint_schema = rc.unique_constraint_schema
              AND u.constraint_name = rc.unique_constraint_name AND u.ordinal_position = k.position_in_unique_constraint
             WHERE k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name
               AND k.table_name = tc.table_name ORDER BY k.ordinal_position),
       (SELECT DISTINCT u.table_schema || '.' || u.table_name FROM information_schema.key_column_usage u
        WHERE u.constraint_schema = rc.unique_constraint_schema AND u.constraint_name = rc.unique_constraint_name)
FROM information_schema.table_constraints tc
JOIN information_schema.referential_constraints rc USING (constraint_schema, constraint_name)
WHERE tc.constraint_type = 'FOREIGN KEY' AND NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_constraint p WHERE p.conname = tc.constraint_name AND p.conparentid <> 0
      AND p.conrelid = format('%I.%I', tc.table_schema, tc.table_name)::regclass)
"""

# The tables whose rows a query of the table reads: its partition tree, or it and its inheritance children.
IS_TREE = """
SELECT relid::regclass::text FROM pg_partition_tree(%s::regclass) WHERE relid IS NOT NULL
UNION SELECT %s UNION SELECT inhrelid::regclass::text FROM pg_catalog.pg_inherits WHERE inhparent = %s::regclass
"""


def catalog_keys(con, table: str) -> set[tuple]:
    tree = {r[0] for r in con.execute(IS_TREE, [table, table, table]).fetchall()}
    return {(schema, name, con_name, delete.lower(), update.lower(), deferrable, deferred, tuple(cols),
             tuple(ref_cols), ref)
            for schema, name, con_name, delete, update, deferrable, deferred, cols, ref_cols, ref
            in con.execute(IS_FOREIGN_KEYS).fetchall() if name in tree}


def as_catalog(fk: ForeignKey) -> tuple:
    return (fk.schema, fk.table, fk.name, fk.on_delete, fk.on_update, fk.deferrable, fk.initially_deferred,
            fk.columns, fk.ref_columns, fk.referenced)


@pytest.mark.slow
@pytest.mark.parametrize("table", ["address", "staff", "customer", "rental", "payment", "payment_p2024_02",
                                   "refund", "audit_sample_2024_01", "customer_note", "complaint"])
def test_postgres_foreign_keys_are_what_the_catalog_says(shop, table):
    src, dm, con = shop
    keys = src.foreign_keys(dm.datasets[table])
    assert {as_catalog(fk) for fk in keys} == catalog_keys(con, table)
    assert len(keys) == len({as_catalog(fk) for fk in keys})  # each once


@pytest.mark.slow
def test_postgres_keys_declared_only_on_partitions_count_for_the_partitioned_table(shop):
    src, dm, _ = shop
    keys = src.foreign_keys(dm.datasets["payment"])
    assert {(fk.table, fk.column, fk.ref_table, fk.on_delete, fk.declared_on) for fk in keys} == {
        (f"payment_p2024_{m}", col, ref, action, PARTITION) for m in ("01", "02")
        for col, ref, action in (("customer_id", "customer", NO_ACTION), ("staff_id", "staff", NO_ACTION),
                                 ("rental_id", "rental", SET_NULL))}
    # erasure sees them as enforced on the payments: a customer with payments stays until the payments go
    customer = dm.datasets["customer"]
    pairs = masking_foreign_keys(src, dm.datasets["payment"])
    assert {p.column for p in pairs if fk_matches(p, src, customer)} == {"customer_id"}


@pytest.mark.slow
def test_postgres_actions_deferral_and_inheritance(shop):
    src, dm, _ = shop
    customer = {fk.column: fk for fk in src.foreign_keys(dm.datasets["customer"])}
    assert customer["address_id"].on_delete == SET_NULL and not customer["address_id"].deferrable
    assert customer["referred_by"].deferrable and customer["referred_by"].initially_deferred
    assert [(fk.column, fk.on_delete) for fk in src.foreign_keys(dm.datasets["rental"])] == [
        ("customer_id", CASCADE), ("staff_id", NO_ACTION)]
    assert [fk.on_delete for fk in src.foreign_keys(dm.datasets["staff"])] == [RESTRICT]
    notes = src.foreign_keys(dm.datasets["customer_note"])
    assert [(fk.table, fk.column, fk.declared_on) for fk in notes] == [
        ("customer_note", "customer_id", "table"), ("complaint", "staff_id", INHERITANCE_CHILD)]
    # the child does not inherit its parent's key: PostgreSQL never passes foreign keys down
    assert [fk.column for fk in src.foreign_keys(dm.datasets["complaint"])] == ["staff_id"]


@pytest.mark.slow
def test_postgres_keys_to_a_partitioned_table_and_to_a_partition(shop):
    src, dm, _ = shop
    d = dm.datasets
    (refund,) = src.foreign_keys(d["refund"])  # PostgreSQL's copies for each referenced partition: left out
    assert (refund.columns, refund.referenced, refund.ref_kind, refund.on_delete) == (
        ("payment_date", "payment_id"), "public.payment", PARTITIONED_TABLE, CASCADE)
    assert src.points_at(refund, d["payment"]) and src.points_at(refund, d["payment_p2024_01"])
    assert not src.points_at(refund, d["customer"])
    (sample,) = src.foreign_keys(d["audit_sample_2024_01"])
    assert (sample.referenced, sample.ref_kind, sample.ref_ancestors) == (
        "public.payment_p2024_01", PARTITION, ("public.payment",))
    assert src.points_at(sample, d["payment"]) and src.points_at(sample, d["payment_p2024_01"])
    assert not src.points_at(sample, d["payment_p2024_02"])


@pytest.mark.slow
def test_postgres_a_partition_is_bound_by_its_parents_keys(shop):
    src, dm, _ = shop
    (on_parent,) = src.foreign_keys(dm.datasets["login"])
    assert (on_parent.table, on_parent.declared_on, on_parent.on_delete) == ("login", "table", CASCADE)
    (seen,) = src.foreign_keys(dm.datasets["login_2024_01"])
    assert (seen.table, seen.column, seen.referenced, seen.declared_on) == (
        "login", "customer_id", "public.customer", PARENT)


IS_COLUMNS = """
SELECT c.column_name::text, c.data_type, c.character_maximum_length, c.numeric_precision, c.numeric_scale,
       c.is_nullable = 'YES', c.column_default, c.is_generated = 'ALWAYS', c.generation_expression,
       EXISTS (SELECT 1 FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k
               USING (constraint_schema, constraint_name)
               WHERE tc.table_name = c.table_name AND tc.constraint_type = 'PRIMARY KEY'
                 AND k.column_name = c.column_name),
       EXISTS (SELECT 1 FROM information_schema.table_constraints tc
               WHERE tc.table_name = c.table_name AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
                 AND (SELECT array_agg(k.column_name::text) FROM information_schema.key_column_usage k
                      WHERE k.constraint_schema = tc.constraint_schema AND k.constraint_name = tc.constraint_name)
                     = ARRAY[c.column_name::text]),
       ARRAY(SELECT 'CHECK ' || cc.check_clause FROM information_schema.check_constraints cc
             JOIN information_schema.constraint_column_usage u USING (constraint_schema, constraint_name)
             WHERE u.table_name = c.table_name AND u.column_name = c.column_name
               AND cc.constraint_name NOT LIKE '%%\\_not\\_null' ORDER BY cc.constraint_name)
FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = %s ORDER BY c.ordinal_position
"""


def _pg_type(data_type: str, length, precision, scale) -> str:
    if length:
        return f"{data_type}({length})"
    if data_type == "numeric" and precision is not None:
        return f"numeric({precision},{scale})"
    return data_type


@pytest.mark.slow
@pytest.mark.parametrize("table", ["customer", "payment", "rental", "complaint"])
def test_postgres_columns_are_what_the_catalog_says(shop, table):
    src, dm, con = shop
    got = src.column_info(dm.datasets[table])
    want = {}
    for name, dtype, length, precision, scale, nullable, default, generated, expr, pk, unique, checks in \
            con.execute(IS_COLUMNS, [table]).fetchall():
        want[name] = (_pg_type(dtype, length, precision, scale), nullable, default, generated, expr, pk, unique,
                      tuple(checks), length)
    assert {n: (c.type, c.nullable, c.default, c.generated is not None, c.expression, c.primary_key, c.unique,
                c.checks, c.max_length) for n, c in got.items()} == want
    assert list(got) == list(want)  # in table order


@pytest.mark.slow
def test_postgres_column_facts_of_the_customer(shop):
    src, dm, _ = shop
    c = src.column_info(dm.datasets["customer"])
    assert c["first_name"].nullable is False
    assert c["birth_year"].checks == ("CHECK (((birth_year >= 1900) AND (birth_year <= 2100)))",)
    assert (c["active"].default, c["last_update"].default) == ("true", "now()")
    assert (c["full_name"].generated, c["full_name"].default) == ("stored", None)
    assert "first_name" in c["full_name"].expression
    assert c["email"].unique and c["email"].max_length == 100 and not c["email"].primary_key
    assert c["customer_id"].unique and c["customer_id"].primary_key
    pay = src.column_info(dm.datasets["payment"])
    assert pay["payment_id"].primary_key and not pay["payment_id"].unique  # the key is (payment_date, payment_id)


@pytest.mark.slow
def test_postgres_triggers_are_what_the_catalog_says(shop):
    src, dm, con = shop
    rows = con.execute("SELECT trigger_name, event_object_table, action_timing, event_manipulation, "
                       "action_orientation FROM information_schema.triggers").fetchall()
    for table in ("address", "staff", "customer", "rental", "payment", "refund"):
        want = {}
        for name, on, timing, event, level in rows:
            if on == table:
                want.setdefault((name, timing, level.lower()), set()).add(event)
        got = src.triggers(dm.datasets[table])
        assert {(t.name, t.timing, t.level): set(t.events) for t in got} == want
    (t,) = src.triggers(dm.datasets["customer"])
    assert (t.timing, t.events, t.level, t.function, t.enabled) == (
        "BEFORE", ("UPDATE",), "row", "public.last_update_now", True)
    assert "last_update_now()" in t.definition


@pytest.mark.slow
def test_postgres_enforces_and_a_missing_table_is_a_source_error(shop):
    src, _, _ = shop
    assert src.enforces_foreign_keys()
    gone = shop_map("postgres", "dsn_file: shop.dsn", ["nowhere"]).datasets["nowhere"]
    for read in (src.foreign_keys, src.column_info, src.triggers):
        with pytest.raises(SourceError, match="nowhere"):
            read(gone)


# -- SQLite --------------------------------------------------------------------------------------------------------

SQLITE_SHOP = """
CREATE TABLE address (address_id INTEGER PRIMARY KEY, address TEXT NOT NULL, city TEXT NOT NULL);
CREATE TABLE customer (
    customer_id INTEGER PRIMARY KEY,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email VARCHAR(100) UNIQUE,
    address_id INTEGER REFERENCES address (address_id) ON DELETE SET NULL,
    referred_by INTEGER REFERENCES customer DEFERRABLE INITIALLY DEFERRED,
    birth_year INTEGER CHECK (birth_year BETWEEN 1900 AND 2100),
    full_name TEXT GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,
    active INTEGER NOT NULL DEFAULT 1,
    last_update TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE rental (
    rental_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customer (customer_id) ON DELETE CASCADE,
    rented_at TEXT NOT NULL,
    returned_at TEXT,
    CONSTRAINT returned_after_rented CHECK (returned_at IS NULL OR returned_at >= rented_at)
);
CREATE TABLE payment (
    payment_id INTEGER NOT NULL,
    paid_on TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    amount NUMERIC NOT NULL,
    PRIMARY KEY (paid_on, payment_id),
    FOREIGN KEY (customer_id) REFERENCES customer (customer_id) ON UPDATE CASCADE ON DELETE RESTRICT
) WITHOUT ROWID;
CREATE TABLE refund (
    refund_id INTEGER PRIMARY KEY,
    paid_on TEXT,
    payment_id INTEGER,
    FOREIGN KEY (paid_on, payment_id) REFERENCES payment (paid_on, payment_id) ON DELETE SET DEFAULT
);
CREATE TRIGGER customer_last_update AFTER UPDATE ON customer FOR EACH ROW
BEGIN UPDATE customer SET last_update = CURRENT_TIMESTAMP WHERE customer_id = NEW.customer_id; END;
CREATE TRIGGER rental_no_delete BEFORE DELETE ON rental BEGIN SELECT 1; END;
INSERT INTO address VALUES (1, 'Brīvības iela 12-4', 'Rīga');
INSERT INTO customer (customer_id, first_name, last_name, email, address_id) VALUES (1, 'Mary', 'Smith', 'm@x', 1);
INSERT INTO payment VALUES (100, '2024-01-05', 1, 2.99);
"""
SQLITE_TABLES = ["address", "customer", "rental", "payment", "refund"]


@pytest.fixture()
def sqlite_shop(tmp_path):
    con = sqlite3.connect(tmp_path / "shop.sqlite")
    con.executescript(SQLITE_SHOP)
    con.close()
    dm = shop_map("sqlite", "path: shop.sqlite", SQLITE_TABLES + ["nowhere"])
    src = open_source(dm.sources["shop"], tmp_path)
    yield src, dm, tmp_path
    src.close()


def test_sqlite_foreign_keys_are_what_the_pragma_says(sqlite_shop):
    src, dm, root = sqlite_shop
    raw = sqlite3.connect(root / "shop.sqlite")
    for table in SQLITE_TABLES:
        want: dict[int, list] = {}
        for key_id, _seq, ref, col, to, on_update, on_delete, _match in raw.execute(
                "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", [table]).fetchall():
            want.setdefault(key_id, []).append((ref, col, to, on_update.lower(), on_delete.lower()))
        got = src.foreign_keys(dm.datasets[table])
        assert len(got) == len(want)
        for fk, parts in zip(got, want.values()):
            assert [(fk.ref_table, col, fk.on_update, fk.on_delete) for col in fk.columns] == [
                (ref, col, up, down) for ref, col, _, up, down in parts]
            assert all(to is None or to == ref_col for (_, _, to, _, _), ref_col in zip(parts, fk.ref_columns))
    raw.close()


def test_sqlite_actions_deferral_and_implicit_referenced_columns(sqlite_shop):
    src, dm, _ = sqlite_shop
    customer = {fk.column: fk for fk in src.foreign_keys(dm.datasets["customer"])}
    assert customer["address_id"].on_delete == SET_NULL and not customer["address_id"].deferrable
    ref = customer["referred_by"]
    assert (ref.ref_table, ref.ref_columns, ref.deferrable, ref.initially_deferred) == (
        "customer", ("customer_id",), True, True)  # REFERENCES customer: its primary key
    assert [(fk.on_delete, fk.on_update) for fk in src.foreign_keys(dm.datasets["payment"])] == [(RESTRICT, CASCADE)]
    (refund,) = src.foreign_keys(dm.datasets["refund"])
    assert (refund.columns, refund.ref_columns, refund.on_delete) == (
        ("paid_on", "payment_id"), ("paid_on", "payment_id"), SET_DEFAULT)
    assert src.points_at(refund, dm.datasets["payment"]) and not src.points_at(refund, dm.datasets["customer"])
    assert (refund.schema, refund.ref_schema, refund.declared_on) == (None, None, "table")


def test_sqlite_columns(sqlite_shop):
    src, dm, root = sqlite_shop
    c = src.column_info(dm.datasets["customer"])
    raw = sqlite3.connect(root / "shop.sqlite")
    xinfo = raw.execute("PRAGMA table_xinfo('customer')").fetchall()
    raw.close()
    assert [(n, t, d) for _, n, t, _, d, _, _ in xinfo] == [(x.name, x.type, x.default) for x in c.values()]
    assert c["customer_id"].primary_key and c["customer_id"].unique and not c["customer_id"].nullable  # rowid
    assert not c["first_name"].nullable and c["address_id"].nullable
    assert c["email"].unique and not c["first_name"].unique
    assert c["birth_year"].checks == ("CHECK (birth_year BETWEEN 1900 AND 2100)",)
    assert (c["full_name"].generated, c["full_name"].expression) == ("stored", "first_name || ' ' || last_name")
    assert (c["active"].default, c["last_update"].default) == ("1", "CURRENT_TIMESTAMP")
    rental = src.column_info(dm.datasets["rental"])
    check = "CHECK (returned_at IS NULL OR returned_at >= rented_at)"
    assert rental["returned_at"].checks == (check,) and rental["rented_at"].checks == (check,)
    assert rental["customer_id"].checks == ()
    pay = src.column_info(dm.datasets["payment"])  # WITHOUT ROWID: its key is never NULL, and composite
    assert not pay["paid_on"].nullable and pay["paid_on"].primary_key and not pay["paid_on"].unique


def test_sqlite_triggers_are_the_sqlite_master_rows(sqlite_shop):
    src, dm, _ = sqlite_shop
    got = {t.name: (t.timing, t.events, t.level, t.table) for t in src.triggers(dm.datasets["customer"])}
    assert got == {"customer_last_update": ("AFTER", ("UPDATE",), "row", "customer")}
    (t,) = src.triggers(dm.datasets["rental"])
    assert (t.timing, t.events) == ("BEFORE", ("DELETE",)) and t.definition.startswith("CREATE TRIGGER")
    assert src.triggers(dm.datasets["address"]) == []


def test_sqlite_reading_connections_leave_keys_off_and_the_writer_turns_them_on(sqlite_shop):
    src, dm, root = sqlite_shop
    assert src.enforces_foreign_keys() is False  # SQLite's default, per connection
    writer = open_source(dm.sources["shop"], root, read_only=False)
    try:
        assert writer.enforces_foreign_keys() is True
        # payment 100 still refers to customer 1 (ON DELETE RESTRICT)
        with pytest.raises(SourceError, match="FOREIGN KEY"), writer.transaction():
            writer.delete_in(dm.datasets["customer"], "customer_id", [1])
        with writer.transaction():  # ON DELETE SET NULL: the customer loses the address
            writer.delete_in(dm.datasets["address"], "address_id", [1])
        assert writer.execute("SELECT address_id FROM customer").rows == [(None,)]
    finally:
        writer.close()


def test_sqlite_missing_table_is_a_source_error(sqlite_shop):
    src, dm, _ = sqlite_shop
    for read in (src.foreign_keys, src.column_info):
        with pytest.raises(SourceError, match="nowhere"):
            read(dm.datasets["nowhere"])


# -- DuckDB --------------------------------------------------------------------------------------------------------

DUCK_SHOP = [
    "CREATE SCHEMA shop",
    ("CREATE TABLE shop.customer (customer_id INTEGER PRIMARY KEY, email VARCHAR UNIQUE, first_name VARCHAR NOT "
     "NULL, birth_year INTEGER CHECK (birth_year BETWEEN 1900 AND 2100), active BOOLEAN DEFAULT true, "
     "full_name VARCHAR GENERATED ALWAYS AS (first_name || '!'))"),
    ("CREATE TABLE shop.payment (payment_id INTEGER, paid_on DATE, customer_id INTEGER REFERENCES shop.customer "
     "(customer_id) ON DELETE RESTRICT, PRIMARY KEY (paid_on, payment_id))"),
    ("CREATE TABLE shop.refund (refund_id INTEGER, paid_on DATE, payment_id INTEGER, "
     "FOREIGN KEY (paid_on, payment_id) REFERENCES shop.payment (paid_on, payment_id))"),
    "CREATE TABLE main.customer (customer_id INTEGER PRIMARY KEY)",  # same name, other schema
]
DUCK_TABLES = ["shop.customer", "shop.payment", "shop.refund", "customer"]


@pytest.fixture()
def duck_shop(tmp_path):
    con = duckdb.connect(str(tmp_path / "rentals.duckdb"))
    for sql in DUCK_SHOP:
        con.execute(sql)
    con.close()
    dm = shop_map("duckdb", "path: rentals.duckdb", DUCK_TABLES)
    src = open_source(dm.sources["shop"], tmp_path)
    yield src, dm
    src.close()


def test_duckdb_foreign_keys_are_what_duckdb_constraints_says(duck_shop):
    src, dm = duck_shop
    for name in DUCK_TABLES:
        schema, table = name.split(".") if "." in name else ("main", name)
        want = src.execute("SELECT constraint_column_names, referenced_table, referenced_column_names FROM "
                           "duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' AND schema_name = ? AND "
                           "table_name = ?", [schema, table]).rows
        got = src.foreign_keys(dm.datasets[name])
        assert [(list(fk.columns), fk.ref_table, list(fk.ref_columns)) for fk in got] == [tuple(w) for w in want]
        assert all((fk.schema, fk.on_delete, fk.deferrable) == (schema, NO_ACTION, False) for fk in got)
    (pay,) = src.foreign_keys(dm.datasets["shop.payment"])
    assert src.points_at(pay, dm.datasets["shop.customer"])
    assert not src.points_at(pay, dm.datasets["customer"])  # main.customer: another table of the same name
    (refund,) = src.foreign_keys(dm.datasets["shop.refund"])
    assert refund.pairs() == [("paid_on", "paid_on"), ("payment_id", "payment_id")]
    assert src.enforces_foreign_keys() and src.triggers(dm.datasets["shop.customer"]) == []


def test_duckdb_columns(duck_shop):
    src, dm = duck_shop
    c = src.column_info(dm.datasets["shop.customer"])
    assert list(c) == ["customer_id", "email", "first_name", "birth_year", "active", "full_name"]
    assert c["customer_id"].primary_key and c["customer_id"].unique and not c["customer_id"].nullable
    assert c["email"].unique and not c["email"].primary_key and c["email"].nullable
    assert not c["first_name"].nullable
    assert c["birth_year"].checks == ("CHECK((birth_year BETWEEN 1900 AND 2100))",)
    assert c["active"].default == "CAST('t' AS BOOLEAN)" and c["active"].generated is None
    assert (c["full_name"].generated, c["full_name"].default) == ("virtual", None)
    assert "first_name" in c["full_name"].expression
    pay = src.column_info(dm.datasets["shop.payment"])
    assert pay["paid_on"].primary_key and not pay["paid_on"].unique


def test_files_declare_nothing(tmp_path):
    (tmp_path / "lake").mkdir()
    duckdb.connect().execute(f"COPY (SELECT 1 AS k, 'x' AS v) TO '{tmp_path / 'lake' / 't.parquet'}' "
                             f"(FORMAT parquet)")
    dm = shop_map("parquet", "path: lake", ["t"])
    src = open_source(dm.sources["shop"], tmp_path)
    ds = dm.datasets["t"]
    assert src.foreign_keys(ds) == [] and src.triggers(ds) == [] and not src.enforces_foreign_keys()
    assert {n: (c.type, c.nullable) for n, c in src.column_info(ds).items()} == {"k": ("INTEGER", True),
                                                                                 "v": ("VARCHAR", True)}
