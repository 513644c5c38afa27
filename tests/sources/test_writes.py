"""Connector writes (the ground rectification and erasure stand on): one transaction per source, all or nothing;
files rewritten atomically; read-only connectors refuse to write."""

from __future__ import annotations

import glob

import duckdb
import pytest

from privacyops.errors import SourceError


def db_rows(ws, sql):
    con = duckdb.connect(str(ws.root / "main.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def events(ws):
    con = duckdb.connect()
    return con.execute(f"SELECT eid, oid, ip FROM read_parquet('{ws.root / 'files' / 'events' / '*.parquet'}') "
                       "ORDER BY eid").fetchall()


def test_database_writes_commit_together(mini_ws):
    orders = mini_ws.datamap.datasets["shop.orders"]
    person = mini_ws.datamap.datasets["people.person"]
    with mini_ws.session():
        con = mini_ws.writer("main")
        with con.transaction():
            assert con.delete_in(orders, "pid", [1]) == 2
            assert con.update_in(person, "pid", [1], {"mail": None, "full_name": "[erased]"}) == 1
            assert con.update_rows(person, "pid", [(2, {"tel": "x-2"}), (3, {"tel": "x-3"}),
                                                   (4, {"tel": "x-4", "mail2": "m4"})]) == 3
    assert db_rows(mini_ws, "SELECT oid FROM shop.orders ORDER BY oid") == [(102,), (103,), (104,)]
    assert db_rows(mini_ws, "SELECT pid, full_name, mail, tel, mail2 FROM people.person ORDER BY pid") == [
        (1, "[erased]", None, "+371 2000 1111", "jb@other.example"),
        (2, "Janis Berzins", "janis2@mini.example", "x-2", None),
        (3, "Ieva Kalna", "home@mini.example", "x-3", None),
        (4, "Oskars Kalns", "home@mini.example", "x-4", "m4")]


def test_a_failure_inside_the_transaction_changes_nothing(mini_ws):
    orders = mini_ws.datamap.datasets["shop.orders"]
    before = db_rows(mini_ws, "SELECT * FROM shop.orders ORDER BY oid")
    with mini_ws.session():
        con = mini_ws.writer("main")
        with pytest.raises(RuntimeError):
            with con.transaction():
                assert con.delete_in(orders, "pid", [1, 2]) == 3
                raise RuntimeError("power cut")
    assert db_rows(mini_ws, "SELECT * FROM shop.orders ORDER BY oid") == before


def test_read_only_connectors_refuse_to_write(mini_ws):
    orders = mini_ws.datamap.datasets["shop.orders"]
    with mini_ws.session():
        with pytest.raises(SourceError, match="read-only"):
            mini_ws.connector("main").delete_in(orders, "pid", [1])


def test_parquet_files_are_rewritten_atomically(mini_ws):
    ev = mini_ws.datamap.datasets["shop.order_events"]
    before = events(mini_ws)
    with mini_ws.session():
        con = mini_ws.writer("files")
        with con.transaction():
            assert con.delete_in(ev, "oid", [100]) == 1
            assert con.update_in(ev, "oid", [101], {"ip": None}) == 1
            assert con.update_rows(ev, "eid", [(1002, {"ip": "0.0.0.0"})]) == 1
            assert events(mini_ws) == before  # nothing is visible before the commit
    after = events(mini_ws)
    assert after == [(1001, 101, None), (1002, 102, "0.0.0.0"), (1003, 104, "10.0.0.4")]
    leftovers = glob.glob(str(mini_ws.root / "files" / "events" / ".*tmp"))
    assert leftovers == []


def test_a_failed_file_transaction_leaves_the_files_untouched(mini_ws):
    ev = mini_ws.datamap.datasets["shop.order_events"]
    before = events(mini_ws)
    with mini_ws.session():
        con = mini_ws.writer("files")
        with pytest.raises(RuntimeError):
            with con.transaction():
                con.delete_in(ev, "oid", [100, 101, 102])
                raise RuntimeError("interrupted")
    assert events(mini_ws) == before


def test_a_crash_while_rewriting_leaves_old_files_and_no_temporaries(mini_ws, monkeypatch):
    import privacyops.sources.duckdb as duck

    ev = mini_ws.datamap.datasets["shop.order_events"]
    before = events(mini_ws)
    monkeypatch.setattr(duck, "_fsync", lambda path: (_ for _ in ()).throw(OSError("disk full")))
    with mini_ws.session():
        con = mini_ws.writer("files")
        with pytest.raises(OSError, match="disk full"):
            con.delete_in(ev, "oid", [100])  # outside a transaction: one of its own
    assert events(mini_ws) == before
    assert glob.glob(str(mini_ws.root / "files" / "events" / ".*tmp")) == []


def test_csv_rewrite_keeps_the_other_rows(mini_ws):
    (mini_ws.root / "lists").mkdir()
    con = duckdb.connect(str(mini_ws.root / "main.duckdb"))
    con.execute(f"COPY mail.subscribers TO '{mini_ws.root / 'lists' / 'mail.subscribers.csv'}' (HEADER)")
    con.close()
    text = (mini_ws.root / "privacyops.yaml").read_text()
    text = text.replace("  files: {kind: parquet, path: files, location: DE}",
                        "  files: {kind: parquet, path: files, location: DE}\n  lists: {kind: csv, path: lists, location: LV}")
    text = text.replace("  mail.subscribers:\n    source: main\n", "  mail.subscribers:\n    source: lists\n")
    (mini_ws.root / "privacyops.yaml").write_text(text)
    from privacyops.workspace import open_workspace

    ws = open_workspace(mini_ws.root)
    subs = ws.datamap.datasets["mail.subscribers"]
    with ws.session():
        assert ws.writer("lists").delete_in(subs, "sid", [1]) == 1
    rows = duckdb.connect().execute(f"SELECT sid, address FROM read_csv('{ws.root / 'lists' / '*.csv'}') "
                                    "ORDER BY sid").fetchall()
    assert rows == [(2, "someone@else.example"), (3, "home@mini.example")]


def test_reads_go_through_the_open_writer(mini_ws):
    orders = mini_ws.datamap.datasets["shop.orders"]
    with mini_ws.session():
        reader = mini_ws.connector("main")
        assert reader.count(orders) == 5
        writer = mini_ws.writer("main")
        assert mini_ws.connector("main") is writer
        with writer.transaction():
            writer.delete_in(orders, "oid", [104])
        assert mini_ws.connector("main").count(orders) == 4


def test_a_file_with_only_deletes_keeps_its_other_rows_in_file_order(mini_ws, monkeypatch):
    """Deletes only: each file is written by one COPY of the rows no delete matches (no temporary table); the
    rows left, their order in each file, and rows whose key is NULL are those of the file minus the deleted keys."""
    from privacyops.sources import DuckDBConnector

    folder = mini_ws.root / "files" / "events"
    first = sorted(glob.glob(str(folder / "*.parquet")))[0]
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE (eid + 5000 AS eid, CASE WHEN eid % 2 = 0 THEN NULL ELSE oid END AS oid) "
                f"FROM read_parquet('{first}')) TO '{folder / 'zz-extra.parquet'}' (FORMAT parquet)")

    def per_file() -> dict[str, list[tuple]]:
        return {f: con.execute(f"SELECT eid, oid, ip FROM read_parquet('{f}')").fetchall()
                for f in sorted(glob.glob(str(folder / "*.parquet")))}

    before = per_file()
    drop = [100, 102, 104]  # several keys: the list parameter, not one constant
    expected = {f: [r for r in rows if r[1] not in drop] for f, rows in before.items()}
    assert any(r[1] is None for rows in expected.values() for r in rows)  # NULL keys are there, and must stay
    statements: list[str] = []
    real = DuckDBConnector.execute
    monkeypatch.setattr(DuckDBConnector, "execute", lambda self, sql, params=(): statements.append(sql) or
                        real(self, sql, params))
    ev = mini_ws.datamap.datasets["shop.order_events"]
    with mini_ws.session():
        w = mini_ws.writer("files")
        with w.transaction():
            n = w.delete_in(ev, "oid", drop)
    assert n == sum(len(before[f]) - len(expected[f]) for f in before) > 0
    assert per_file() == expected
    assert not any("CREATE TEMP TABLE" in s for s in statements)
    assert glob.glob(str(folder / ".*tmp")) == []


def layout(path) -> tuple:
    """(row groups, largest group's rows, codecs) of a Parquet file, read from its metadata."""
    con = duckdb.connect()
    return con.execute("SELECT count(*), max(row_group_num_rows), list(DISTINCT compression) FROM "
                       f"parquet_metadata('{path}') WHERE path_in_schema = 'eid'").fetchone()


@pytest.mark.parametrize("codec", ["zstd", "gzip"])
def test_a_rewritten_parquet_file_keeps_its_compression_and_row_groups(mini_ws, codec):
    """Small row groups are what lets a key's probe skip most of a file (their min/max statistics): a rewrite keeps
    them, and the file's compression, whether it only deletes (one COPY) or also updates (through a table)."""
    part = mini_ws.root / "files" / "events" / "part-0.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 2000 + i AS eid, 100 + i % 4 AS oid, '10.0.0.' || i AS ip FROM range(10240) t(i)) "
                f"TO '{part}' (FORMAT parquet, COMPRESSION {codec}, ROW_GROUP_SIZE 2048)")
    con.close()
    assert layout(part) == (5, 2048, [codec.upper()])
    ev = mini_ws.datamap.datasets["shop.order_events"]
    with mini_ws.session():
        con = mini_ws.writer("files")
        with con.transaction():
            assert con.delete_in(ev, "oid", [100]) == 2560
        groups, largest, codecs = layout(part)  # 7,680 rows left, in groups of 2,048 at most
        assert groups >= 4 and largest <= 2048 and codecs == [codec.upper()]
        with con.transaction():
            assert con.delete_in(ev, "oid", [101]) == 2560
            assert con.update_in(ev, "oid", [102], {"ip": None}) == 2560
    groups, largest, codecs = layout(part)  # 5,120 rows left
    assert groups >= 3 and largest <= 2048 and codecs == [codec.upper()]
    assert events(mini_ws)[:2] == [(2002, 102, None), (2003, 103, "10.0.0.3")]
