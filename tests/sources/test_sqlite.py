"""SQLite sources: the mini workspace's DuckDB tables copied into a SQLite file (one table per dataset, named as
written: "people.person"), the Parquet events staying files. Every lookup answers exactly as on DuckDB, with and
without `privacyops index`; `check` sees the same; the file is opened read-only."""

from __future__ import annotations

import datetime
import shutil
import sqlite3

import duckdb
import pytest

from privacyops.errors import SourceError
from privacyops.lookup import lookup
from privacyops.sources import type_family
from privacyops.workspace import check_workspace, create_indexes, open_workspace
from tests.support.mini import MINI_MAP, QUERIES
from tests.support.stores import (
    DUCKDB_SOURCE,
    NAME_QUERIES,
    _DuckNames,
    _people_and_queries,
    check_writes,
    mini_tables,
    structure,
)

SQLITE_MAP = MINI_MAP.replace(DUCKDB_SOURCE, "  main: {kind: sqlite, path: main.sqlite, location: LV}")
SQLITE_TYPES = {"INTEGER": "INTEGER", "VARCHAR": "TEXT", "DATE": "DATE"}


def load_mini_into_sqlite(duck_path, path) -> None:
    con = sqlite3.connect(path)
    try:
        for schema, table, cols, rows in mini_tables(duck_path):
            con.execute(f'CREATE TABLE "{schema}.{table}" ('
                        + ", ".join(f'"{c}" {SQLITE_TYPES[t]}' for c, t in cols) + ")")
            rows = [tuple(v.isoformat() if isinstance(v, datetime.date) else v for v in r) for r in rows]
            con.executemany(f'INSERT INTO "{schema}.{table}" VALUES ({", ".join("?" * len(cols))})', rows)
        con.commit()
    finally:
        con.close()


def sqlite_sql(ws, *statements: str) -> list:
    con = sqlite3.connect(ws.root / "main.sqlite")
    try:
        out = []
        for sql in statements:
            out = con.execute(sql).fetchall()
        con.commit()
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def _sqlite_template(_mini_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("mini-sqlite") / "main.sqlite"
    load_mini_into_sqlite(_mini_template / "main.duckdb", path)
    return path


@pytest.fixture()
def sqlite_ws(mini_ws, _sqlite_template, tmp_path):
    root = tmp_path / "mini-sqlite"
    root.mkdir()
    shutil.copytree(mini_ws.root / "files", root / "files")
    shutil.copyfile(_sqlite_template, root / "main.sqlite")
    (root / "privacyops.yaml").write_text(SQLITE_MAP)
    return open_workspace(root)


def index_names(ws) -> list[str]:
    return [r[0] for r in sqlite_sql(ws, "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE "
                                         "'privacyops_ix_%' ORDER BY 1")]


def test_every_lookup_answers_as_on_duckdb_with_and_without_indexes(mini_ws, sqlite_ws):
    queries = QUERIES + NAME_QUERIES
    expected = {q: structure(mini_ws, q) for q in queries}
    assert {q: structure(sqlite_ws, q) for q in queries} == expected
    for pick in ("people.person:1", "people.person:4"):
        assert structure(sqlite_ws, pick=pick) == structure(mini_ws, pick=pick)

    report = create_indexes(sqlite_ws, progress=False)
    assert report.skipped == ["shop.order_events"]
    # every index DuckDB gets but the phone number's (its key needs reverse(), which SQLite lacks); none on the
    # reference into the catalogue (shop.items: no walk goes down from it)
    assert len(report.created) == 9 and not any(": phone" in c for c in report.created)
    assert not any(c.startswith("shop.orders: ref") and "item_id" in c for c in report.created)
    assert len(index_names(sqlite_ws)) == 9
    assert {q: structure(sqlite_ws, q) for q in queries} == expected

    again = create_indexes(sqlite_ws, progress=False)
    assert not again.created and len(again.existing) == 9
    assert len(create_indexes(sqlite_ws, progress=False, drop=True).dropped) == 9
    assert index_names(sqlite_ws) == []


def test_indexes_use_only_sqlites_own_functions_and_serve_lookups(sqlite_ws):
    create_indexes(sqlite_ws, progress=False)
    # another program (no privacyops functions registered) can still write the indexed tables
    sqlite_sql(sqlite_ws, "INSERT INTO \"people.person\" VALUES (5, 'New Person', 'NEW@x.example', NULL, "
                          "'+371 2000 5555', 'M-005')", "INSERT INTO \"shop.orders\" VALUES (105, 5, 10, NULL, "
                                                        "'2025-01-01')")
    assert lookup(sqlite_ws, "new@x.example", audit_log=False).records["shop.orders"].count == 1
    ds = sqlite_ws.datamap.datasets["people.person"]
    con = sqlite_ws.connector("main")
    seen = []
    original = con.execute
    con.execute = lambda sql, params=(): (seen.append((sql, list(params))), original(sql, params))[1]
    try:
        con.select_identity(ds, "email", ["mail"], ["janis@mini.example"], sqlite_ws.datamap.settings)
        con.select_in(sqlite_ws.datamap.datasets["shop.orders"], "pid", [1, 2])
        plans = [" ".join(str(r[-1]) for r in original("EXPLAIN QUERY PLAN " + sql, params).rows)
                 for sql, params in seen if sql.startswith("SELECT * FROM")]
    finally:
        sqlite_ws.close()
    assert len(plans) == 2
    assert all("USING INDEX privacyops_ix_" in p for p in plans), plans


def test_the_file_is_opened_read_only_for_lookups(sqlite_ws):
    con = sqlite_ws.connector("main")
    try:
        with pytest.raises(SourceError, match="readonly"):
            con.execute('DELETE FROM "people.person"')
    finally:
        sqlite_ws.close()
    assert sqlite_sql(sqlite_ws, 'SELECT count(*) FROM "people.person"') == [(4,)]


def test_check_passes_and_sees_what_duckdb_sees(mini_ws, sqlite_ws):
    duck, lite = check_workspace(mini_ws), check_workspace(sqlite_ws)
    assert lite.ok, [str(p) for p in lite.problems]
    assert lite.rows == duck.rows
    assert lite.warnings == duck.warnings


@pytest.mark.parametrize("duck_sql, sqlite_sql_, fragments", [
    pytest.param("ALTER TABLE shop.orders DROP COLUMN note", ['ALTER TABLE "shop.orders" DROP COLUMN note'],
                 ["column 'note' does not exist in shop.orders", "it has: oid, pid, item_id, ordered_at"],
                 id="dropped-field"),
    pytest.param("ALTER TABLE shop.items RENAME TO goods", ['ALTER TABLE "shop.items" RENAME TO goods'],
                 ["shop.items", "does not exist"], id="renamed-table"),
    pytest.param("ALTER TABLE shop.items RENAME COLUMN item_id TO id",
                 ['ALTER TABLE "shop.items" RENAME COLUMN item_id TO id'], ["'shop.items' has no column 'item_id'"],
                 id="target-gone"),
    pytest.param("ALTER TABLE shop.orders ALTER ordered_at TYPE VARCHAR",
                 ['ALTER TABLE "shop.orders" RENAME TO old',
                  'CREATE TABLE "shop.orders" (oid INTEGER, pid INTEGER, item_id INTEGER, note TEXT, ordered_at '
                  'NVARCHAR(20))', 'INSERT INTO "shop.orders" SELECT * FROM old', "DROP TABLE old"],
                 ["retention rule 'orders' counts from 'ordered_at'", "not a date"], id="anchor-varchar"),
    pytest.param("ALTER TABLE mail.subscribers ALTER address TYPE INTEGER USING sid",
                 ['ALTER TABLE "mail.subscribers" RENAME TO old', 'CREATE TABLE "mail.subscribers" (sid INTEGER, '
                  'address BIGINT)', 'INSERT INTO "mail.subscribers" SELECT sid, sid FROM old', "DROP TABLE old"],
                 ["email column 'address' is", "must be text"], id="email-identity-not-text"),
])
def test_check_reports_mismatches_like_duckdb(mini_ws, sqlite_ws, duck_sql, sqlite_sql_, fragments):
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    con.execute(duck_sql)
    con.close()
    sqlite_sql(sqlite_ws, *sqlite_sql_)
    duck, lite = check_workspace(mini_ws), check_workspace(sqlite_ws)
    assert not lite.ok
    assert [(p.path, p.line) for p in lite.problems] == [(p.path, p.line) for p in duck.problems]
    for fragment in fragments:
        assert any(fragment in p.message for p in lite.problems), (fragment, [p.message for p in lite.problems])


def test_declared_types_map_to_families(sqlite_ws):
    sqlite_sql(sqlite_ws, 'CREATE TABLE "t" (a INTEGER, b NVARCHAR(40), c DATETIME, d NUMERIC(10,2), '
                          'e BIGINT UNSIGNED, f, g BLOB, h REAL, i VARYING CHARACTER(5), j DATE, k BOOLEAN, '
                          'l DECIMAL(5,1), m CLOB, n TEXT)')
    text = SQLITE_MAP + "  t:\n    source: main\n    primary_key: a\n    fields: {b: system.operations}\n"
    (sqlite_ws.root / "privacyops.yaml").write_text(text)
    ws = open_workspace(sqlite_ws.root)
    cols = ws.connector("main").columns(ws.datamap.datasets["t"])
    ws.close()
    assert {c: type_family(t) for c, t in cols.items()} == {
        "a": "integer", "b": "text", "c": "date", "d": "number", "e": "integer", "f": "other", "g": "other",
        "h": "number", "i": "text", "j": "date", "k": "boolean", "l": "number", "m": "text", "n": "text"}


def test_missing_file_and_missing_table_are_clear(sqlite_ws):
    sqlite_sql(sqlite_ws, 'ALTER TABLE "people.person" RENAME TO person')
    with pytest.raises(SourceError, match=r"table people.person \(dataset people.person\) does not exist"):
        lookup(sqlite_ws, "janis@mini.example", audit_log=False)
    (sqlite_ws.root / "main.sqlite").unlink()
    with pytest.raises(SourceError, match="main.sqlite not found; check sources.main.path"):
        lookup(sqlite_ws, "janis@mini.example", audit_log=False)
    (sqlite_ws.root / "main.sqlite").write_text("not a database")
    with pytest.raises(SourceError, match="cannot open"):
        lookup(sqlite_ws, "janis@mini.example", audit_log=False)


@pytest.mark.slow
def test_name_scoring_in_sqlite_equals_duckdb(sqlite_ws):
    """The shared SQL, run by SQLite with privacyops' Python functions, scores, ranks and counts exactly as
    DuckDB."""
    people, queries = _people_and_queries()
    people += [("JĀNIS", "BĒRZIŅŠ")] * 25 + [("Berzins", "Janis")] * 3  # more namesakes than the limit
    sqlite_sql(sqlite_ws, 'CREATE TABLE "p" (id INTEGER, first TEXT, last TEXT)')
    con = sqlite3.connect(sqlite_ws.root / "main.sqlite")
    con.executemany('INSERT INTO "p" VALUES (?, ?, ?)', [(i, a, b) for i, (a, b) in enumerate(people)])
    con.commit()
    con.close()
    text = SQLITE_MAP + ("  p:\n    source: main\n    table: p\n    primary_key: id\n    purposes: [service]\n"
                         "    fields: {first: user.name, last: user.name}\n")
    (sqlite_ws.root / "privacyops.yaml").write_text(text)
    ws = open_workspace(sqlite_ws.root)
    ds = ws.datamap.datasets["p"]
    duck = _DuckNames(people)
    lite = ws.connector("main")
    try:
        for q in ["Jānis Bērziņš", *queries]:
            for limit in (50, 2):  # ties at the cut come back whole, so the rows are the same, in key order
                want = duck.name_matches(ds, ["first", "last"], q, 0.82, limit=limit)
                got = lite.name_matches(ds, ["first", "last"], q, 0.82, limit=limit)
                assert [(r[0], r[-1]) for r in got.rows.rows] == [(r[0], r[-1]) for r in want.rows.rows], q
                assert (got.total, got.exact) == (want.total, want.exact), q
                assert got.rows.rows == lite.name_candidates(ds, ["first", "last"], q, 0.82, limit=limit).rows
        assert duck.name_matches(ds, ["first", "last"], "Jānis Bērziņš", 0.82, limit=2).exact == 30
    finally:
        ws.close()


def test_writes_commit_together_or_not_at_all(sqlite_ws):
    check_writes(sqlite_ws)
