"""DuckDB memory limit and threads for the files privacyops opens read-only (PRIVACYOPS_DUCKDB_MEMORY / _THREADS)."""

from __future__ import annotations

import duckdb
import pytest

from privacyops.errors import SourceError
from privacyops.sources import connect_duckdb


def _db(tmp_path):
    path = tmp_path / "x.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT 1 AS a")
    con.close()
    return str(path)


def _setting(con, name):
    return con.execute("SELECT value FROM duckdb_settings() WHERE name = ?", [name]).fetchone()[0]


def _bytes(text):
    number, unit = text.split()
    return float(number) * {"KiB": 2 ** 10, "MiB": 2 ** 20, "GiB": 2 ** 30}[unit]


def test_a_reader_gets_the_default_limit(tmp_path, monkeypatch):
    monkeypatch.delenv("PRIVACYOPS_DUCKDB_MEMORY", raising=False)
    con = connect_duckdb(_db(tmp_path), True, "test")
    try:
        assert abs(_bytes(_setting(con, "memory_limit")) - 512e6) < 1e6
    finally:
        con.close()


def test_the_limit_and_threads_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", "300MB")
    monkeypatch.setenv("PRIVACYOPS_DUCKDB_THREADS", "1")
    con = connect_duckdb(_db(tmp_path), True, "test")
    try:
        assert abs(_bytes(_setting(con, "memory_limit")) - 300e6) < 1e6
        assert _setting(con, "threads") == "1"
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    finally:
        con.close()


def test_a_writer_keeps_duckdbs_default(tmp_path, monkeypatch):
    """Writes pin ART indexes whole: a limit would fail them (or abort the process)."""
    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", "300MB")
    path = _db(tmp_path)
    fresh = duckdb.connect(":memory:")
    default = _setting(fresh, "memory_limit")
    fresh.close()
    con = connect_duckdb(path, False, "test")
    try:
        assert _setting(con, "memory_limit") == default
    finally:
        con.close()


@pytest.mark.parametrize("bad", ["lots", "512", "1GB; DROP TABLE t"])
def test_a_bad_setting_is_refused_with_what_to_give(tmp_path, monkeypatch, bad):
    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", bad)
    with pytest.raises(SourceError, match="PRIVACYOPS_DUCKDB_MEMORY.*e.g. 512MB"):
        connect_duckdb(_db(tmp_path), True, "test")


def test_a_writer_reads_under_the_limit_and_writes_without(tmp_path, monkeypatch):
    """Erasure's stale check reads in the writer's transaction under the limit; its writes get the default back."""
    from types import SimpleNamespace

    from privacyops.sources.duckdb import DuckDBConnector

    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", "300MB")
    writer = SimpleNamespace(con=connect_duckdb(_db(tmp_path), False, "test"))
    try:
        default = _setting(writer.con, "memory_limit")
        DuckDBConnector.limit_reads(writer)
        assert abs(_bytes(_setting(writer.con, "memory_limit")) - 150e6) < 2e6  # half: readers are open beside it
        DuckDBConnector.lift_limit(writer)
        assert abs(_bytes(_setting(writer.con, "memory_limit")) - _bytes(default)) < 0.01 * _bytes(default)
        writer.con.execute("DELETE FROM t")  # writes as before
    finally:
        writer.con.close()


def _art_mb(con):
    got = con.execute("SELECT memory_usage_bytes FROM duckdb_memory() WHERE tag = 'ART_INDEX'").fetchone()
    return got[0] / 2 ** 20 if got else 0.0


def _indexed_db(tmp_path, rows=2_000_000):
    path = tmp_path / "big.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE t AS SELECT i AS id, hash(i) % 1000 AS v FROM range({rows}) r(i) ORDER BY hash(i)")
    con.execute("CREATE INDEX t_id ON t(id)")
    con.close()
    return str(path)


@pytest.mark.parametrize("read_only", [True, False])
def test_a_long_in_list_scans_instead_of_loading_the_index(tmp_path, monkeypatch, read_only):
    """ART buffers a probe reads stay in memory until the file closes: an IN list of many keys reads the table
    (evictable) instead; one key still probes the index. The rows found are the same either way."""
    monkeypatch.delenv("PRIVACYOPS_DUCKDB_MEMORY", raising=False)
    path = _indexed_db(tmp_path)
    keys = list(range(7, 2_000_000, 1999))  # 1,001 keys spread over the whole index
    raw = duckdb.connect(path, read_only=True)  # DuckDB's defaults: the ground truth and the memory before
    try:
        want = raw.execute(f"SELECT id, v FROM t WHERE id IN ({', '.join('?' * len(keys))}) ORDER BY id",
                           keys).fetchall()
        uncapped = _art_mb(raw)
        want_one = raw.execute("SELECT v FROM t WHERE id = 12345").fetchall()
    finally:
        raw.close()
    assert len(want) == len(keys) and uncapped > 8  # the default probes every key
    con = connect_duckdb(path, read_only, "test")
    try:
        assert con.execute("SELECT v FROM t WHERE id = 12345").fetchall() == want_one
        assert _art_mb(con) > 0  # one key: the index answered (its path read)
        got = con.execute(f"SELECT id, v FROM t WHERE id IN ({', '.join('?' * len(keys))}) ORDER BY id",
                          keys).fetchall()
        assert got == want
        assert _art_mb(con) < uncapped / 4
    finally:
        con.close()


def test_the_file_engine_reads_and_rewrites_under_the_limit(mini_ws, monkeypatch):
    """The in-memory engine for Parquet/CSV gets the read limit too, and spills to this process's own folder: a
    rewrite larger than the limit (an erasure in a big file) completes, keeping every other row."""
    import os
    import tempfile

    from privacyops.sources import duckdb as duckdb_mod

    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", "100MB")
    monkeypatch.setattr(duckdb_mod, "_ENGINE", None)  # a new engine, with this setting
    folder = mini_ws.root / "files" / "events"
    for f in folder.glob("*.parquet"):
        f.unlink()
    big = folder / "big.parquet"
    raw = duckdb.connect()
    raw.execute(f"COPY (SELECT i AS eid, i % 1000 AS oid, md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS ip "
                f"FROM range(1500000) r(i)) TO '{big}' (FORMAT parquet)")
    engine = duckdb_mod._file_engine()
    try:
        assert abs(_bytes(_setting(engine, "memory_limit")) - 100e6) < 1e6
        assert _setting(engine, "temp_directory").endswith(f"privacyops-spill-{os.getpid()}")
        assert _setting(engine, "temp_directory").startswith(tempfile.gettempdir())
        ev = mini_ws.datamap.datasets["shop.order_events"]
        with mini_ws.session():
            con = mini_ws.writer("files")
            with con.transaction():
                assert con.delete_in(ev, "oid", [7]) == 1500
        got = raw.execute(f"SELECT count(*), count(*) FILTER (oid = 7), sum(eid) FROM '{big}'").fetchone()
        assert got == (1_498_500, 0, sum(range(1_500_000)) - sum(range(7, 1_500_000, 1000)))
    finally:
        engine.close()
        raw.close()


def test_a_writer_lets_go_of_what_it_read_before_writing(tmp_path, monkeypatch):
    """The blocks erasure's stale check read under the limit are dropped when the limit is lifted (they are on
    disk): the room is the commit's, which loads the tables' ART index parts."""
    from types import SimpleNamespace

    from privacyops.sources.duckdb import DuckDBConnector

    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", "400MB")
    path = tmp_path / "wide.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t AS SELECT hash(i) AS a, hash(i + 1) AS b FROM range(10000000) r(i)")
    con.close()
    writer = SimpleNamespace(con=connect_duckdb(str(path), False, "test"))
    cached = "SELECT coalesce(sum(memory_usage_bytes), 0) / 2 ** 20 FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
    try:
        default = _setting(writer.con, "memory_limit")
        DuckDBConnector.limit_reads(writer)
        assert writer.con.execute("SELECT count(*) FROM t WHERE a % 3 = b % 5").fetchone()[0] > 0
        read = writer.con.execute(cached).fetchone()[0]
        DuckDBConnector.lift_limit(writer)
        assert read > 100 and writer.con.execute(cached).fetchone()[0] < read / 2
        assert abs(_bytes(_setting(writer.con, "memory_limit")) - _bytes(default)) < 0.01 * _bytes(default)
        writer.con.execute("DELETE FROM t WHERE a % 7 = 0")
    finally:
        writer.con.close()


def test_a_reader_whose_index_parts_crowd_its_limit_says_so(tmp_path, monkeypatch):
    """ART parts a probe loads are never evicted: past half the limit the reader reports itself crowded."""
    from privacyops.sources.duckdb import index_crowded

    monkeypatch.setenv("PRIVACYOPS_DUCKDB_MEMORY", "24MB")
    con = connect_duckdb(_indexed_db(tmp_path), True, "test")
    try:
        assert not index_crowded(con)
        for k in range(5, 2_000_000, 4999):  # one probe each: each loads its own path
            con.execute("SELECT v FROM t WHERE id = ?", [k]).fetchall()
            if _art_mb(con) > 13:
                break
        assert _art_mb(con) > 12.5 and index_crowded(con)
    finally:
        con.close()


def test_a_crowded_reader_is_closed_after_the_lookup(mini_ws, monkeypatch):
    """A lookup whose readers crowd their limit closes them at its end (the next opens the files afresh); others
    stay open for the next lookup."""
    from privacyops.lookup import lookup
    from privacyops.sources import duckdb as duckdb_mod
    from privacyops.workspace import create_indexes

    from privacyops.workspace import folder

    create_indexes(mini_ws, progress=False)
    mini_ws.keep_open = 60
    monkeypatch.setattr(folder, "CROWDED_EVERY", 1)  # looked at after every operation
    try:
        monkeypatch.setattr(duckdb_mod, "CROWDED_SHARE", 10.0)
        first = lookup(mini_ws, "janis@mini.example", audit_log=False)
        assert "main" in mini_ws._connectors
        monkeypatch.setattr(duckdb_mod, "CROWDED_SHARE", 0.0)
        again = lookup(mini_ws, "janis@mini.example", audit_log=False)
        assert "main" not in mini_ws._connectors
        assert again.subject.ref == first.subject.ref == "people.person:1"
        monkeypatch.setattr(folder, "CROWDED_EVERY", 10 ** 9)  # not looked at: kept, however crowded
        lookup(mini_ws, "janis@mini.example", audit_log=False)
        assert "main" in mini_ws._connectors
    finally:
        mini_ws.close()

