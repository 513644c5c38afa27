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
        assert abs(_bytes(_setting(writer.con, "memory_limit")) - 300e6) < 1e6
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
