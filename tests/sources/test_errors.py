"""The stores' errors in plain words (privacyops/sources/errors.py): for each kind of trouble a real store gives —
PostgreSQL refusing a connection, a login or a grant, a statement past its timeout, a row locked by another session,
a constraint; SQLite and DuckDB files locked by another program — the message says what is wrong, where (source,
table, constraint, map setting) and what to do, and never holds the DSN, the password or a value of a row.

The troubles are made for real (a closed port, pg_hba.conf asking a password, a role without grants, pg_sleep, a
second connection holding a lock, a second process holding a DuckDB file); expectations are the texts the module
promises, written out here."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time

import duckdb
import pytest
from psycopg.conninfo import make_conninfo

from privacyops.errors import DataMapError, SourceError
from privacyops.lookup import lookup
from privacyops.map import parse_datamap
from privacyops.sources import StoreError, open_source, store_errors
from privacyops.workspace import open_workspace
from tests.support import pg as pgserver

ENV = "BILLING_DSN"
SECRET = "Pw-7f3a-secret"
SCHEMA = """
CREATE TABLE person (pid integer PRIMARY KEY, email text NOT NULL UNIQUE, note text CHECK (note <> 'forbidden'));
CREATE TABLE invoice (invoice_id integer PRIMARY KEY, pid integer NOT NULL REFERENCES person (pid));
INSERT INTO person VALUES (1, 'jane@example.test', 'a'), (2, 'john@example.test', 'b');
INSERT INTO invoice VALUES (10, 1);
"""


def map_text(source: str) -> str:
    return f"""
version: 1
organisation: {{name: O, contact: p@o.example, authority: {{name: A, country: LV}}}}
purposes: {{service: {{description: S, legal_basis: contract}}}}
sources:
  billing: {source}
datasets:
  person:
    source: billing
    table: public.person
    subject: person
    primary_key: pid
    identities: {{email: email}}
    purposes: [service]
    fields: {{email: user.contact.email, note: user.content}}
  invoice:
    source: billing
    table: public.invoice
    primary_key: invoice_id
    references: {{pid: person.pid}}
    purposes: [service]
    fields: {{invoice_id: system.operations}}
"""


def pg_map(**timeouts: str):
    extra = "".join(f", {k}: {v}" for k, v in timeouts.items())
    return parse_datamap(map_text(f"{{kind: postgres, dsn_env: {ENV}, location: LV{extra}}}"))


@pytest.fixture()
def billing(postgres_dsn):
    """A database with the schema above; yields (its DSN as superuser, a DSN for a role `reader_<id>` that has a
    password in the DSN — ignored by the test server's trust login, but a secret that must never show)."""
    with pgserver.database(postgres_dsn, "errs") as dsn:
        role = f"reader_{pgserver.database_name(dsn)[-8:]}"
        with pgserver.connect(dsn) as con:
            con.execute(SCHEMA)
            con.execute(f'CREATE ROLE "{role}" LOGIN')
        yield dsn, make_conninfo(dsn, user=role, password=SECRET), role
        with pgserver.connect(dsn) as con:
            con.execute(f'DROP OWNED BY "{role}"')
        with pgserver.connect(postgres_dsn) as con:
            con.execute(f'DROP ROLE IF EXISTS "{role}"')


def grant_all(admin: str, role: str) -> None:
    with pgserver.connect(admin) as con:
        con.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON person, invoice TO "{role}"')


def refused(call, dsn: str | None = None) -> StoreError:
    """The StoreError `call` raises, checked for secrets."""
    with pytest.raises(StoreError) as info:
        call()
    message = str(info.value)
    assert SECRET not in message
    if dsn:
        assert dsn not in message
    return info.value


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL: connecting.


def test_connection_refused_names_the_source_and_the_variable_never_the_dsn(monkeypatch, tmp_path):
    dsn = f"host=127.0.0.1 port={closed_port()} user=app password={SECRET} dbname=billing connect_timeout=3"
    monkeypatch.setenv(ENV, dsn)
    err = refused(lambda: open_source(pg_map().sources["billing"], tmp_path), dsn)
    assert err.kind == store_errors.CONNECT
    assert str(err) == (f"cannot connect to PostgreSQL source 'billing' (DSN from ${ENV}): connection refused — is "
                        f"the server running and the host/port right?")


@pytest.mark.slow
def test_a_database_that_does_not_exist(billing, monkeypatch, tmp_path):
    dsn = make_conninfo(billing[1], dbname="no_such_db")
    monkeypatch.setenv(ENV, dsn)
    err = refused(lambda: open_source(pg_map().sources["billing"], tmp_path), dsn)
    assert err.kind == store_errors.NO_DATABASE
    assert str(err) == (f"cannot connect to PostgreSQL source 'billing' (DSN from ${ENV}): database no_such_db does "
                        f"not exist on that server — check the database name (dbname) in the DSN")


@pytest.fixture()
def password_role(postgres_dsn):
    """A role the server asks a password of (a pg_hba.conf line for it alone, written and reloaded by the superuser,
    removed afterwards)."""
    role = f"pw_{int(time.time() * 1000) % 10**9}"
    with pgserver.connect(postgres_dsn) as con:
        path = con.execute("SELECT current_setting('hba_file')").fetchone()[0]
        original = con.execute("SELECT pg_read_file(%s)", [path]).fetchone()[0]

        def write(text: str) -> None:
            oid = con.execute("SELECT lo_from_bytea(0, convert_to(%s, 'UTF8'))", [text]).fetchone()[0]
            con.execute("SELECT lo_export(%s, %s)", [oid, path])
            con.execute("SELECT lo_unlink(%s)", [oid])
            con.execute("SELECT pg_reload_conf()")

        con.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-{SECRET}'")
        write(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + original)
        try:
            deadline = time.monotonic() + 10
            while not con.execute("SELECT count(*) FROM pg_hba_file_rules WHERE %s = ANY(user_name)",
                                  [role]).fetchone()[0]:
                assert time.monotonic() < deadline, "pg_hba.conf was not reloaded"
                time.sleep(0.1)
            yield role
        finally:
            write(original)
            con.execute(f"DROP ROLE IF EXISTS {role}")


@pytest.mark.slow
def test_authentication_failed(postgres_dsn, password_role, monkeypatch, tmp_path):
    dsn = make_conninfo(postgres_dsn, user=password_role, password=SECRET)  # the wrong password
    monkeypatch.setenv(ENV, dsn)
    err = refused(lambda: open_source(pg_map().sources["billing"], tmp_path), dsn)
    assert err.kind == store_errors.AUTH
    assert str(err) == (f"cannot connect to PostgreSQL source 'billing' (DSN from ${ENV}): authentication failed — "
                        f"the server refused the user or password in the DSN; check them (keep the password in "
                        f"~/.pgpass or the DSN file, never in the map) and that the server's pg_hba.conf admits this "
                        f"user from this host")
    monkeypatch.setenv(ENV, make_conninfo(postgres_dsn, user=password_role, password=f"right-{SECRET}"))
    open_source(pg_map().sources["billing"], tmp_path).close()  # the right one gets in: it was the password


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL: statements.


@pytest.mark.slow
def test_permission_denied_says_which_table_and_what_to_grant_in_a_lookup(billing, monkeypatch, tmp_path):
    admin, dsn, role = billing
    monkeypatch.setenv(ENV, dsn)
    (tmp_path / "privacyops.yaml").write_text(map_text(f"{{kind: postgres, dsn_env: {ENV}, location: LV}}"))
    ws = open_workspace(tmp_path)
    err = refused(lambda: lookup(ws, "jane@example.test", audit_log=False), dsn)
    assert err.kind == store_errors.PERMISSION
    assert str(err) == (f"source 'billing': permission denied reading table public.person (dataset person: this role "
                        f"may read none of its columns): grant SELECT, UPDATE, DELETE on public.person to {role}, the "
                        f"role privacyops connects as (from ${ENV}) — lookups and exports need SELECT, rectification "
                        f"and erasure UPDATE and DELETE")
    # With SELECT only, reading works and an erasure's DELETE is refused with the same advice.
    with pgserver.connect(admin) as con:
        con.execute(f'GRANT SELECT ON person, invoice TO "{role}"')
    assert lookup(ws, "jane@example.test", audit_log=False).subject.ref == "person:1"
    writer = open_source(ws.datamap.sources["billing"], tmp_path, read_only=False)
    try:
        with pytest.raises(StoreError) as info, writer.transaction():
            writer.delete_in(ws.datamap.datasets["invoice"], "invoice_id", [10])
    finally:
        writer.close()
    assert "permission denied deleting rows of table public.invoice (table invoice): grant SELECT, UPDATE, DELETE " \
           "on invoice" in str(info.value)
    assert pgserver.connect(admin).execute("SELECT count(*) FROM invoice").fetchone() == (1,)


@pytest.mark.slow
def test_statement_timeout_names_the_map_setting(billing, monkeypatch, tmp_path):
    admin, dsn, role = billing
    grant_all(admin, role)
    monkeypatch.setenv(ENV, dsn)
    dm = pg_map(statement_timeout='"300 ms"')
    assert dm.sources["billing"].statement_timeout == 0.3
    con = open_source(dm.sources["billing"], tmp_path)
    try:
        assert con.execute("SHOW statement_timeout").rows == [("300ms",)]
        started = time.monotonic()
        err = refused(lambda: con.execute('SELECT * FROM "public"."person" WHERE pg_sleep(2) IS NOT NULL'), dsn)
        assert time.monotonic() - started < 1.9
        assert con.execute("SELECT 1").rows == [(1,)]  # the session goes on
    finally:
        con.close()
    assert err.kind == store_errors.STATEMENT_TIMEOUT and err.table == "public.person"
    assert str(err) == ("source 'billing': reading table public.person took longer than the source's "
                        "statement_timeout (300 ms, sources.billing.statement_timeout in the map): raise it in the "
                        "map, or make the query faster (privacyops index creates lookup indexes)")


@pytest.mark.slow
def test_lock_timeout_when_another_session_holds_the_row(billing, monkeypatch, tmp_path):
    admin, dsn, role = billing
    grant_all(admin, role)
    monkeypatch.setenv(ENV, dsn)
    dm = pg_map(statement_timeout="10", lock_timeout='"300 ms"')
    other = pgserver.connect(admin)
    other.execute("BEGIN")
    other.execute("SELECT * FROM invoice WHERE invoice_id = 10 FOR UPDATE")
    writer = open_source(dm.sources["billing"], tmp_path, read_only=False)
    try:
        with pytest.raises(StoreError) as info, writer.transaction():
            writer.delete_in(dm.datasets["invoice"], "invoice_id", [10])
    finally:
        writer.close()
        other.execute("ROLLBACK")
        other.close()
    assert info.value.kind == store_errors.LOCK_TIMEOUT and SECRET not in str(info.value)
    assert str(info.value) == ("source 'billing': deleting rows of table public.invoice waited longer than the "
                               "source's lock_timeout (300 ms, sources.billing.lock_timeout in the map) for a lock "
                               "another session holds: wait for that session to finish (or raise the lock_timeout) "
                               "and run it again")
    assert pgserver.connect(admin).execute("SELECT count(*) FROM invoice").fetchone() == (1,)


@pytest.mark.slow
def test_without_timeouts_in_the_map_the_server_default_is_said(billing, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, billing[0])
    con = open_source(pg_map().sources["billing"], tmp_path)
    try:
        con.execute("SET statement_timeout = '200ms'")  # as a role's or server's own setting would
        err = refused(lambda: con.execute("SELECT pg_sleep(2)"))
    finally:
        con.close()
    assert "statement_timeout (the server default; set sources.billing.statement_timeout in the map to choose)" \
        in str(err)


@pytest.mark.slow
@pytest.mark.parametrize("sql, kind, expected", [
    ('DELETE FROM "public"."person" WHERE "pid" IN (%s)', store_errors.FOREIGN_KEY,
     "source 'billing': the database refuses to delete rows of table public.person: foreign key invoice_pid_fkey of "
     "table public.invoice still refers to them (through pid of the rows deleted). The store keeps references whole: "
     "the referring rows must go first or let go of them (ON DELETE SET NULL / CASCADE on the key), or the rows they "
     "need must stay"),
    ('UPDATE "public"."person" SET "email" = NULL WHERE "pid" IN (%s)', store_errors.NOT_NULL,
     "source 'billing': updating table public.person: column email of table public.person cannot be empty (NOT NULL "
     "constraint), and the new value is empty"),
    ('UPDATE "public"."person" SET "email" = \'john@example.test\' WHERE "pid" IN (%s)', store_errors.UNIQUE,
     "source 'billing': updating table public.person: the new value would equal another row's, and unique "
     "constraint person_email_key of table public.person allows no two rows alike"),
    ('UPDATE "public"."person" SET "note" = \'forbidden\' WHERE "pid" IN (%s)', store_errors.CHECK,
     "source 'billing': updating table public.person: the new value breaks check constraint person_note_check of "
     "table public.person (a rule the database applies to every row)"),
])
def test_constraints_are_named_and_explained_without_values(billing, monkeypatch, tmp_path, sql, kind, expected):
    admin, dsn, role = billing
    grant_all(admin, role)
    monkeypatch.setenv(ENV, dsn)
    writer = open_source(pg_map().sources["billing"], tmp_path, read_only=False)
    try:
        with pytest.raises(StoreError) as info, writer.transaction():
            writer.execute(sql, [1])
    finally:
        writer.close()
    err = info.value
    assert err.kind == kind and str(err) == expected
    for value in ("jane@example.test", "john@example.test", "forbidden", "Key (", SECRET, dsn):
        assert value not in str(err)
    if kind == store_errors.FOREIGN_KEY:  # the row, for the caller: by its key, out of the message
        assert err.key_values == {"pid": "1"} and err.constraint == "invoice_pid_fkey"


# ---------------------------------------------------------------------------------------------------------------
# Files: SQLite and DuckDB locked by another program.


FILE_MAP = """
version: 1
organisation: {{name: O, contact: p@o.example, authority: {{name: A, country: LV}}}}
purposes: {{service: {{description: S, legal_basis: contract}}}}
sources:
  news: {source}
datasets:
  subscribers:
    source: news
    primary_key: sid
    identities: {{email: address}}
    purposes: [service]
    fields: {{address: user.contact.email}}
"""


def test_sqlite_file_locked_by_another_program(tmp_path):
    path = tmp_path / "news.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE subscribers (sid INTEGER PRIMARY KEY, address TEXT)")
        con.execute("INSERT INTO subscribers VALUES (1, 'jane@example.test')")
    dm = parse_datamap(FILE_MAP.format(source="{kind: sqlite, path: news.sqlite, location: LV, lock_timeout: 0.2}"))
    con = open_source(dm.sources["news"], tmp_path, read_only=False)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # a desktop tool in the middle of a write
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as info, con.transaction():
            con.delete_in(dm.datasets["subscribers"], "sid", [1])
        assert time.monotonic() - started < 5
        with pytest.raises(StoreError) as opening:  # opening it meets the same lock, and says the same
            open_source(dm.sources["news"], tmp_path)
    finally:
        other.execute("ROLLBACK")
        other.close()
        con.close()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM subscribers").fetchone() == (1,)
    assert info.value.kind == opening.value.kind == store_errors.FILE_LOCKED
    assert str(opening.value) == str(info.value)
    assert str(info.value) == (f"source 'news': the file {path} is locked by another program; privacyops waited "
                               f"200 ms — close the program writing to it (a notebook kernel, a desktop tool, another "
                               f"privacyops run) (or raise sources.news.lock_timeout in the map) and run it again")


def test_sqlite_statement_timeout_interrupts_a_long_statement(tmp_path):
    path = tmp_path / "news.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE subscribers (sid INTEGER PRIMARY KEY, address TEXT)").connection.close()
    dm = parse_datamap(FILE_MAP.format(source="{kind: sqlite, path: news.sqlite, location: LV, "
                                              "statement_timeout: 0.2}"))
    con = open_source(dm.sources["news"], tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError) as info:  # counts far beyond what 0.2 s allows
            con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
                        "SELECT count(*) FROM n")
        assert time.monotonic() - started < 5
        assert con.execute("SELECT count(*) FROM subscribers").rows == [(0,)]  # later statements get their own time
    finally:
        con.close()
    assert info.value.kind == store_errors.STATEMENT_TIMEOUT
    assert "took longer than the source's statement_timeout (200 ms, sources.news.statement_timeout in the map)" \
        in str(info.value)


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_duckdb_file_locked_by_another_process(tmp_path):
    path = tmp_path / "news.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE subscribers (sid INTEGER PRIMARY KEY, address VARCHAR)")
    con.close()
    dm = parse_datamap(FILE_MAP.format(source="{kind: duckdb, path: news.duckdb, location: LV, lock_timeout: 0.5}"))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SourceError) as info:
            open_source(dm.sources["news"], tmp_path, read_only=False)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert str(info.value).startswith(f"source 'news': the file {path} is locked by another program (PID "
                                      f"{holder.pid}, ")
    assert str(info.value).endswith("; privacyops waited 500 ms — close the program writing to it (a notebook "
                                    "kernel, a desktop tool, another privacyops run) (or raise "
                                    "sources.news.lock_timeout in the map) and run it again")


# ---------------------------------------------------------------------------------------------------------------
# The map's settings.


@pytest.mark.parametrize("source, message", [
    ("{kind: duckdb, path: x.duckdb, location: LV, statement_timeout: 30}",
     "statement_timeout applies to postgres, sqlite sources only; a duckdb source cannot honour it: remove it"),
    ("{kind: parquet, path: files, location: LV, lock_timeout: 30}",
     "lock_timeout applies to postgres, sqlite, duckdb sources only; a parquet source cannot honour it: remove it"),
    (f"{{kind: postgres, dsn_env: {ENV}, location: LV, statement_timeout: soon}}",
     "'soon' is not a duration; write seconds (30) or a period like '30 s', '500 ms', '2 min' (more than 0, at most "
     "a day); leave it out for the store's default"),
    (f"{{kind: postgres, dsn_env: {ENV}, location: LV, lock_timeout: 0}}", "'0' is not a duration"),
])
def test_timeouts_in_the_map_are_checked(source, message):
    with pytest.raises(DataMapError) as info:
        parse_datamap(map_text(source))
    assert message in str(info.value)


def test_timeouts_in_the_map_are_read_as_seconds():
    dm = pg_map(statement_timeout='"2 min"', lock_timeout="5")
    assert (dm.sources["billing"].statement_timeout, dm.sources["billing"].lock_timeout) == (120.0, 5.0)
    assert pg_map().sources["billing"].statement_timeout is None
