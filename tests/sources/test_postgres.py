"""PostgreSQL sources on a real server (tests/support/pg.py): the mini workspace's DuckDB tables loaded into
PostgreSQL (schemas people, shop, mail) beside the same Parquet events. Every lookup must answer exactly as on
DuckDB, with and without `privacyops index`; `check` must see the same; the connection string stays out of the map
and out of every message. Also: privacyops.sources.names scores names as DuckDB does."""

from __future__ import annotations

import random
import re
import shutil
import unicodedata

import duckdb
import psycopg
import pytest

from privacyops.errors import DataMapError, SourceError
from privacyops.lookup import lookup
from privacyops.map import parse_datamap
from privacyops.sources import SCORE, names
from privacyops.workspace import check_workspace, create_indexes, open_workspace
from tests.support import pg as pgserver
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

pytestmark = pytest.mark.slow  # most tests here start the PostgreSQL test server

DSN_ENV = "PRIVACYOPS_TEST_MINI_DSN"
PG_MAP = MINI_MAP.replace(DUCKDB_SOURCE, f"  main: {{kind: postgres, dsn_env: {DSN_ENV}, location: LV}}")
PG_TYPES = {"INTEGER": "integer", "VARCHAR": "text", "DATE": "date"}
P_DATASET = ("  p:\n    source: main\n    table: public.p\n    primary_key: id\n    purposes: [service]\n"
             "    fields: {first: user.name, last: user.name}\n")
P = parse_datamap(MINI_MAP + P_DATASET.replace("public.p", "p")).datasets["p"]  # _DuckNames' table of names


# ---------------------------------------------------------------------------------------------------------------
# Helpers shared with test_sqlite.py and test_chinook_stores.py.


def load_mini_into_postgres(duck_path, dsn: str) -> None:
    with pgserver.connect(dsn) as pg:
        for schema, table, cols, rows in mini_tables(duck_path):
            pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            pg.execute(f'CREATE TABLE "{schema}"."{table}" ('
                       + ", ".join(f'"{c}" {PG_TYPES[t]}' for c, t in cols) + ")")
            with pg.cursor() as cur:
                cur.executemany(f'INSERT INTO "{schema}"."{table}" VALUES ({", ".join(["%s"] * len(cols))})', rows)


def pg_sql(dsn: str, *statements: str) -> list:
    with pgserver.connect(dsn) as con:
        out = []
        for sql in statements:
            cur = con.execute(sql)
            out = cur.fetchall() if cur.description else []
        return out


# ---------------------------------------------------------------------------------------------------------------
# Fixtures: one loaded template database per module; each test gets its own copy.


@pytest.fixture(scope="module")
def _pg_template(postgres_dsn, _mini_template):
    dsn = pgserver.create_database(postgres_dsn, "mini_template")
    load_mini_into_postgres(_mini_template / "main.duckdb", dsn)
    yield pgserver.database_name(dsn)
    pgserver.drop_database(dsn, postgres_dsn)


@pytest.fixture()
def pg_dsn(postgres_dsn, _pg_template):
    with pgserver.database(postgres_dsn, "mini", template=_pg_template) as dsn:
        yield dsn


@pytest.fixture()
def pg_ws(mini_ws, pg_dsn, tmp_path, monkeypatch):
    """The mini workspace with its DuckDB tables in PostgreSQL (the Parquet events stay files)."""
    root = tmp_path / "mini-pg"
    root.mkdir()
    shutil.copytree(mini_ws.root / "files", root / "files")
    (root / "privacyops.yaml").write_text(PG_MAP)
    monkeypatch.setenv(DSN_ENV, pg_dsn)
    return open_workspace(root)


# ---------------------------------------------------------------------------------------------------------------
# Lookups: the same answers as on DuckDB.


def test_every_lookup_answers_as_on_duckdb_with_and_without_indexes(mini_ws, pg_ws):
    queries = QUERIES + NAME_QUERIES
    expected = {q: structure(mini_ws, q) for q in queries}
    assert expected["janis@mini.example"]["status"] == "found"  # the comparison means something
    assert {q: structure(pg_ws, q) for q in queries} == expected
    for pick in ("people.person:1", "people.person:4"):
        assert structure(pg_ws, pick=pick) == structure(mini_ws, pick=pick)

    report = create_indexes(pg_ws, progress=False)
    assert report.skipped == ["shop.order_events"]  # Parquet: no indexes
    assert len(report.created) == 10  # none on the reference into the catalogue (shop.items: never walked down)
    assert not any(c.startswith("shop.orders: ref") and "item_id" in c for c in report.created)
    assert len(pg_ws_indexes(pg_ws)) == 10
    assert {q: structure(pg_ws, q) for q in queries} == expected


def pg_ws_indexes(ws) -> list[str]:
    con = ws.connector("main")
    try:
        return [r[0] for r in con.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE %s ORDER BY 1",
                                          ["privacyops\\_ix\\_%"]).rows]
    finally:
        ws.close()


def test_index_creation_is_idempotent_and_reversible(pg_ws):
    first = create_indexes(pg_ws, progress=False)
    again = create_indexes(pg_ws, progress=False)
    assert not again.created and len(again.existing) == len(first.created)
    dropped = create_indexes(pg_ws, progress=False, drop=True)
    assert len(dropped.dropped) == len(first.created)
    assert pg_ws_indexes(pg_ws) == []


def test_an_index_left_invalid_by_a_failed_build_is_rebuilt(pg_ws, pg_dsn):
    create_indexes(pg_ws, progress=False)
    name = pg_ws_indexes(pg_ws)[0]
    if not pg_sql(pg_dsn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0][0]:
        pytest.fail("the test server's role must be a superuser (to mark an index invalid)")
    pg_sql(pg_dsn, f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = to_regclass('people.{name}')"
                   f" OR indexrelid = to_regclass('shop.{name}') OR indexrelid = to_regclass('mail.{name}')")
    report = create_indexes(pg_ws, progress=False)
    assert len(report.created) == 1
    assert pg_sql(pg_dsn, "SELECT bool_and(x.indisvalid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                          "WHERE i.relname LIKE 'privacyops%'")[0][0] is True


def test_lookups_use_the_indexes(pg_ws, pg_dsn):
    """The predicates lookup sends are the indexed expressions: with sequential scans off, PostgreSQL's plan for
    each one is an index scan on a privacyops index."""
    create_indexes(pg_ws, progress=False)
    ds = pg_ws.datamap.datasets["people.person"]
    orders = pg_ws.datamap.datasets["shop.orders"]
    con = pg_ws.connector("main")
    seen = []
    original = con.execute
    con.execute = lambda sql, params=(): (seen.append((sql, list(params))), original(sql, params))[1]
    try:
        con.select_identity(ds, "email", ["mail"], ["janis@mini.example"], pg_ws.datamap.settings)
        con.select_identity(ds, "phone", ["tel"], ["20001111"], pg_ws.datamap.settings)
        con.select_in(orders, "pid", [1, 2])
    finally:
        pg_ws.close()
    queries = [(s, p) for s, p in seen if s.startswith("SELECT * FROM")]
    assert len(queries) == 3
    assert 'lower(btrim("mail")) = %s' in queries[0][0]
    assert "COLLATE \"C\") >= %s" in queries[1][0] and "strpos" not in queries[1][0]  # no pre-filter
    with pgserver.connect(pg_dsn) as raw:
        raw.execute("SET enable_seqscan = off")
        for sql, params in queries:
            plan = "\n".join(r[0] for r in raw.execute("EXPLAIN " + sql, params).fetchall())
            assert "privacyops_ix_" in plan, plan


# ---------------------------------------------------------------------------------------------------------------
# check: the map against the live database.


def test_check_passes_and_sees_what_duckdb_sees(mini_ws, pg_ws):
    duck, pg = check_workspace(mini_ws), check_workspace(pg_ws)
    assert pg.ok, [str(p) for p in pg.problems]
    assert pg.rows == duck.rows
    assert pg.warnings == duck.warnings


@pytest.mark.parametrize("sql, fragments", [
    pytest.param("ALTER TABLE shop.orders DROP COLUMN note",
                 ["column 'note' does not exist in shop.orders", "it has: oid, pid, item_id, ordered_at"],
                 id="dropped-field"),
    pytest.param("ALTER TABLE people.person DROP COLUMN tel", ["column 'tel' does not exist"], id="dropped-identity"),
    pytest.param("ALTER TABLE shop.items RENAME TO goods", ["shop.items", "does not exist"], id="renamed-table"),
    pytest.param("ALTER TABLE shop.items RENAME COLUMN item_id TO id", ["'shop.items' has no column 'item_id'"],
                 id="target-gone"),
    pytest.param("ALTER TABLE shop.orders ALTER ordered_at TYPE VARCHAR",
                 ["retention rule 'orders' counts from 'ordered_at'", "not a date"], id="anchor-varchar"),
    pytest.param("ALTER TABLE shop.orders ALTER pid TYPE VARCHAR", ["'pid' is", "cannot match"],
                 id="reference-type-differs"),
    pytest.param("ALTER TABLE mail.subscribers ALTER address TYPE INTEGER USING sid",
                 ["email column 'address' is", "must be text"], id="email-identity-not-text"),
    pytest.param("ALTER TABLE shop.orders ALTER note TYPE INTEGER USING oid", ["free-text field 'note' is"],
                 id="free-text-not-text"),
])
def test_check_reports_mismatches_like_duckdb(mini_ws, pg_ws, pg_dsn, sql, fragments):
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    con.execute(sql)
    con.close()
    pg_sql(pg_dsn, sql)
    duck, pg = check_workspace(mini_ws), check_workspace(pg_ws)
    assert not pg.ok
    assert [(p.path, p.line) for p in pg.problems] == [(p.path, p.line) for p in duck.problems]
    for p in pg.problems:
        assert p.file == str(pg_ws.root / "privacyops.yaml")
    for fragment in fragments:
        assert any(fragment in p.message for p in pg.problems), (fragment, [p.message for p in pg.problems])


# ---------------------------------------------------------------------------------------------------------------
# Secrets: the DSN never in the map, never in a message.

SECRET = "S3cret-pw"


@pytest.mark.parametrize("source", [
    f"{{kind: postgres, dsn: 'postgresql://app:{SECRET}@db.example/app', location: LV}}",
    f"{{kind: postgres, dsn_env: APP_DSN, password: {SECRET}, location: LV}}",
    f"{{kind: postgres, url: 'postgresql://app:{SECRET}@db.example/app', location: LV}}",
    f"{{kind: postgres, dsn_env: 'postgresql://app:{SECRET}@db.example/app', location: LV}}",
    f"{{kind: postgres, dsn_env: 'host=db.example password={SECRET}', location: LV}}",
])
def test_the_map_refuses_connection_secrets(source):
    text = PG_MAP.replace(f"  main: {{kind: postgres, dsn_env: {DSN_ENV}, location: LV}}", f"  main: {source}")
    with pytest.raises(DataMapError) as info:
        parse_datamap(text)
    message = str(info.value)
    assert "sources.main" in message
    assert "dsn_env" in message and "dsn_file" in message or "environment variable" in message
    assert SECRET not in message


def test_a_postgres_source_needs_dsn_env_or_dsn_file():
    with pytest.raises(DataMapError) as info:
        parse_datamap(PG_MAP.replace(f"dsn_env: {DSN_ENV}, ", ""))
    assert "sources.main" in str(info.value) and "dsn_env" in str(info.value)


def test_a_missing_environment_variable_is_named_and_nothing_leaks(pg_ws, pg_dsn, monkeypatch):
    monkeypatch.delenv(DSN_ENV)
    with pytest.raises(SourceError, match=f"environment variable {DSN_ENV} is not set"):
        lookup(pg_ws, "janis@mini.example", audit_log=False)
    report = check_workspace(pg_ws)
    assert {p.path for p in report.problems} == {"datasets.people.person", "datasets.shop.orders",
                                                 "datasets.shop.items", "datasets.mail.subscribers"}
    assert all(DSN_ENV in p.message for p in report.problems)


@pytest.mark.parametrize("make_dsn", [
    lambda dsn: pgserver.with_dbname(dsn, "no_such_db") + f" password={SECRET}",  # the server refuses
    lambda dsn: f"host=127.0.0.1 port=1 password={SECRET} connect_timeout=2",  # nothing listens
    lambda dsn: f"host=127.0.0.1 bogus_option={SECRET} password={SECRET}",  # not a valid DSN
    lambda dsn: f"postgresql://app:{SECRET}@127.0.0.1:1/x?connect_timeout=2",
    lambda dsn: f"postgresql//app:{SECRET}@127.0.0.1/x",  # a typo: the DSN parser would quote it all
])
def test_connection_errors_never_show_the_dsn(pg_ws, pg_dsn, monkeypatch, make_dsn):
    bad = make_dsn(pg_dsn)
    monkeypatch.setenv(DSN_ENV, bad)
    with pytest.raises(SourceError) as info:
        lookup(pg_ws, "janis@mini.example", audit_log=False)
    message = str(info.value)
    assert "source 'main'" in message and DSN_ENV in message
    assert SECRET not in message and bad not in message


def test_dsn_file_relative_to_the_workspace(pg_ws, pg_dsn, monkeypatch):
    monkeypatch.delenv(DSN_ENV)
    text = PG_MAP.replace(f"dsn_env: {DSN_ENV}", "dsn_file: keys/app.dsn")
    (pg_ws.root / "privacyops.yaml").write_text(text)
    ws = open_workspace(pg_ws.root)
    with pytest.raises(SourceError, match="app.dsn") as info:
        lookup(ws, "janis@mini.example", audit_log=False)
    assert str(pg_ws.root / "keys" / "app.dsn") in str(info.value)
    (pg_ws.root / "keys").mkdir(exist_ok=True)
    (pg_ws.root / "keys" / "app.dsn").write_text(pg_dsn + "\n")
    assert lookup(ws, "janis@mini.example", audit_log=False).subject.ref == "people.person:1"


# ---------------------------------------------------------------------------------------------------------------
# Sessions: autocommit reads on a read-only session; tables found through the map's search path.


def test_reads_leave_no_open_transaction_and_cannot_write(pg_ws):
    con = pg_ws.connector("main")
    try:
        con.select_identity(pg_ws.datamap.datasets["people.person"], "email", ["mail"], ["janis@mini.example"],
                            pg_ws.datamap.settings)
        assert con.con.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # not idle in transaction
        with pytest.raises(SourceError, match="read-only"):
            con.execute("DELETE FROM people.person")
        assert con.count(pg_ws.datamap.datasets["people.person"]) == 4
    finally:
        pg_ws.close()


def test_tables_without_schema_resolve_through_the_source_schema(mini_ws, pg_ws):
    text = PG_MAP.replace(f"dsn_env: {DSN_ENV},", f"dsn_env: {DSN_ENV}, schema: 'people, shop, mail',")
    for name in ("people.person", "shop.orders", "shop.items", "mail.subscribers"):
        text = text.replace(f"  {name}:\n", f"  {name}:\n    table: {name.split('.')[1]}\n", 1)
    (pg_ws.root / "privacyops.yaml").write_text(text)
    ws = open_workspace(pg_ws.root)
    assert ws.datamap.datasets["people.person"].table == "person"
    assert check_workspace(ws).ok
    for q in ("janis@mini.example", "+371 2000 1111", "Kalns"):
        assert structure(ws, q) == structure(mini_ws, q)
    assert len(create_indexes(ws, progress=False).created) == 10
    assert structure(ws, "home@mini.example") == structure(mini_ws, "home@mini.example")
    assert len(create_indexes(ws, progress=False, drop=True).dropped) == 10
    with pytest.raises(SourceError, match=r"table person \(dataset people.person\) does not exist"):
        (pg_ws.root / "privacyops.yaml").write_text(text.replace("schema: 'people, shop, mail',", ""))
        lookup(open_workspace(pg_ws.root), "janis@mini.example", audit_log=False)


# ---------------------------------------------------------------------------------------------------------------
# privacyops.sources.names: the Python scoring is DuckDB's, to the last bit.


def _random_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    alphabets = ["ab", "abc ", "abcdē", "aāeē žš ", "ĀāBbČč ", "jānisbērzņš", "абвгд"]
    pairs = []
    for _ in range(n):
        alpha = rnd.choice(alphabets)
        pairs.append(tuple("".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 14))) for _ in range(2)))
    for _ in range(n // 20):  # beyond 64 bytes DuckDB switches to its multi-word algorithm
        pairs.append(tuple("".join(rnd.choice("abc") for _ in range(rnd.randint(60, 150))) for _ in range(2)))
    return pairs


def test_jaro_winkler_equals_duckdb():
    pairs = _random_pairs(6000, seed=3) + [("martha", "marhta"), ("dixon", "dicksonx"), ("", ""), ("a", ""),
                                            ("0", "00"), ("CRATE", "TRACE"), ("DwAyNE", "DuANE"), ("ā", "a")]
    got = duckdb.connect().execute("SELECT jaro_winkler_similarity(x[1], x[2]), jaro_similarity(x[1], x[2]) "
                                   "FROM unnest(?) t(x)", [[list(p) for p in pairs]]).fetchall()
    for (a, b), (jw, j) in zip(pairs, got):
        assert names.jaro_winkler(a, b) == jw, (a, b)
        assert names.jaro(a, b) == j, (a, b)
    assert names.jaro_winkler(None, "a") is None


def test_folding_equals_duckdb():
    # characters Python's Unicode database knows (DuckDB's may be newer: it strips marks Python has not heard of)
    text = "".join(chr(c) for c in range(0x20, 0x2500) if unicodedata.category(chr(c)) not in ("Cn", "Cs"))
    text += " Jānis Bērziņš ŁÓDŹ İstanbul Ǆemal Straße Ørsted"
    strip, low, folded = duckdb.connect().execute("SELECT strip_accents(?), lower(?), lower(strip_accents(?))",
                                                  [text] * 3).fetchone()
    assert names.strip_accents(text) == strip
    assert names.lower(text) == low
    assert names.fold(text) == folded


def test_name_scores_and_rankings_equal_duckdb_and_the_prefilter_keeps_the_close_ones():
    people, queries = _people_and_queries()
    duck = _DuckNames(people)
    rows = [(i, a, b) for i, (a, b) in enumerate(people)]
    kept = lost = 0
    for q in queries:
        want = duck.name_candidates(P, ["first", "last"], q, 0.82, limit=10_000)
        assert want.columns[-1] == SCORE
        # every row scored in Python: the same rows, the same scores, the same order (ties by id)
        got = names.rank(rows, [1, 2], q, 0.82, 10_000)
        assert [(s, r[0]) for s, r in got] == [(r[-1], r[0]) for r in want.rows]
        # and as a lookup asks: every exact match, the best others up to the limit (ties kept), the total
        for limit in (20, 2):
            matches = duck.name_matches(P, ["first", "last"], q, 0.82, limit)
            ranked, total = names.ranked_matches(rows, [1, 2], q, 0.82, limit)
            assert [(s, r[0]) for s, r in ranked] == [(r[-1], r[0]) for r in matches.rows.rows], (q, limit)
            assert total == matches.total == len(want.rows), q
        # the SQL pre-filter: never loses a close match (>= 0.9), and nearly never a weaker one
        pattern = names.prefilter_pattern(q)
        rx = re.compile(pattern) if pattern else None
        for row in want.rows:
            full = " ".join(x for x in row[1:3] if x is not None)
            passes = rx is None or bool(rx.search(full))
            if row[-1] >= 0.9:
                assert passes, (q, row, pattern)
            kept, lost = kept + passes, lost + (not passes)
    assert kept > 100
    assert lost <= 0.03 * (kept + lost), (kept, lost)


def test_name_matches_in_postgres_equal_duckdb(pg_dsn, tmp_path, monkeypatch):
    """Through the connector: the same rows in the same order, the same scores, the same totals as DuckDB."""
    people, queries = _people_and_queries()
    people += [("JĀNIS", "BĒRZIŅŠ")] * 25 + [("Berzins", "Janis")] * 3  # more namesakes than a limit of 20
    with pgserver.connect(pg_dsn) as con:
        con.execute("CREATE TABLE public.p (id integer, first text, last text)")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO public.p VALUES (%s, %s, %s)", [(i, a, b) for i, (a, b) in enumerate(people)])
    root = tmp_path / "names-pg"
    root.mkdir()
    (root / "privacyops.yaml").write_text(PG_MAP + P_DATASET)
    monkeypatch.setenv(DSN_ENV, pg_dsn)
    ws = open_workspace(root)
    duck = _DuckNames(people)
    try:
        pg = ws.connector("main")
        for q in ["Jānis Bērziņš", *queries]:
            want = duck.name_matches(P, ["first", "last"], q, 0.82)
            got = pg.name_matches(ws.datamap.datasets["p"], ["first", "last"], q, 0.82)
            assert [(r[0], r[-1]) for r in got.rows.rows] == [(r[0], r[-1]) for r in want.rows.rows], q
            assert (got.total, got.exact) == (want.total, want.exact), q
        assert want is not None and duck.name_matches(P, ["first", "last"], "Jānis Bērziņš", 0.82).exact == 30
    finally:
        ws.close()


def test_prefilter_pattern_is_a_postgres_regular_expression(pg_dsn):
    cases = {"Jānis Bērziņš": ["JANIS BERZINS", "Bērziņa", "Jāņis"], "o'Brien-Smith": ["Obrien", "SMITHS"],
             "Łukasz": ["łukasz", "ŁUKASZ"], "J.": ["Jo"], "": [], "Ab": ["Abe", "xab"]}
    with pgserver.connect(pg_dsn) as con:
        for query, texts in cases.items():
            pattern = names.prefilter_pattern(query)
            for text in texts:
                want = bool(re.search(pattern, text)) if pattern else True
                if pattern:
                    assert con.execute("SELECT %s ~ %s", [text, pattern]).fetchone()[0] is want, (query, text)
                assert want, (query, text, pattern)
    assert names.prefilter_pattern("") is None


# ---------------------------------------------------------------------------------------------------------------
# Writes through the connector interface (base.Connector.transaction): counts, all or nothing.


def test_writes_commit_together_or_not_at_all(pg_ws):
    check_writes(pg_ws)
