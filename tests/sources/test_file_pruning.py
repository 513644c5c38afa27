"""A lookup's reference probe into a Parquet lake reads only the files whose statistics admit its values: the same
rows, in the same order, as the scan of every file (ground truth: DuckDB over the glob, in the test)."""

from __future__ import annotations

import os

import duckdb

import privacyops.sources.duckdb as duck


def _split_events(ws, files: int = 3) -> str:
    """Spread the mini workspace's events over several files (oid ranges disjoint per file); the glob."""
    folder = ws.root / "files" / "events"
    glob = str(folder / "*.parquet")
    con = duckdb.connect()
    rows = con.execute(f"SELECT * FROM read_parquet('{glob}')").fetchall()
    cols = [d[0] for d in con.description]
    con.execute(f"CREATE TABLE ev AS SELECT * FROM read_parquet('{glob}')")
    # more rows, so that every file holds a range of oids: file i holds oids 1000*i .. 1000*i + 99
    for i in range(files):
        con.execute(f"INSERT INTO ev SELECT eid + 10000 * {i + 1}, oid + 1000 * {i + 1}, ip FROM "
                    f"read_parquet('{glob}')")
    for f in folder.glob("*.parquet"):
        f.unlink()
    for i in range(files + 1):
        lo = 0 if i == 0 else 1000 * i
        con.execute(f"COPY (SELECT * FROM ev WHERE oid >= {lo} AND oid < {lo + 1000} ORDER BY eid) TO "
                    f"'{folder / f'part-{i}.parquet'}' (FORMAT parquet)")
    con.close()
    assert rows and "oid" in cols
    return glob


def _truth(glob: str, values: list[int]) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT * FROM read_parquet('{glob}') WHERE oid IN ({', '.join('?' * len(values))})",
                           values).fetchall()
    finally:
        con.close()


def test_probes_read_only_matching_files_with_the_scans_answer(mini_ws, monkeypatch):
    glob = _split_events(mini_ws)
    ev = mini_ws.datamap.datasets["shop.order_events"]
    sent: list[str] = []
    real = duck.DuckDBConnector.execute
    monkeypatch.setattr(duck.DuckDBConnector, "execute",
                        lambda self, sql, params=(): (sent.append(sql), real(self, sql, params))[1])
    with mini_ws.session():
        con = mini_ws.connector("files")
        for values in ([101], [1101, 3102], [101, 2100, 3104], [999999], [1102, 1101]):
            sent.clear()
            got = con.select_in(ev, "oid", values)
            assert got.rows == _truth(glob, values)
            assert got.columns == ["eid", "oid", "ip"]
            reads = [s for s in sent if s.startswith("SELECT * FROM read_parquet(")]  # not DESCRIBE, statistics
            assert all("*.parquet" not in s for s in reads)  # never the whole lake
            wanted = {f"part-{v // 1000}.parquet" for v in values if v < 4000}
            assert {p for s in reads for p in wanted if p in s} == wanted
            assert sum(s.count(".parquet'") for s in reads) == len(wanted)


def test_a_rewritten_file_has_its_statistics_read_again(mini_ws):
    glob = _split_events(mini_ws)
    ev = mini_ws.datamap.datasets["shop.order_events"]
    with mini_ws.session():
        con = mini_ws.connector("files")
        assert con.select_in(ev, "oid", [5101]).rows == []
    # another writer replaces part-1 with rows of oid 5101 (a new file: new stamp)
    path = mini_ws.root / "files" / "events" / "part-1.parquet"
    c = duckdb.connect()
    c.execute(f"COPY (SELECT eid, 5101::BIGINT AS oid, ip FROM read_parquet('{path}')) TO '{path}.new' "
              f"(FORMAT parquet)")
    c.close()
    os.replace(f"{path}.new", path)
    with mini_ws.session():
        got = mini_ws.connector("files").select_in(ev, "oid", [5101])
        assert got.rows == _truth(glob, [5101]) and got.rows


def test_values_the_statistics_cannot_judge_read_every_file(mini_ws):
    glob = _split_events(mini_ws)
    ev = mini_ws.datamap.datasets["shop.order_events"]
    with mini_ws.session():
        con = mini_ws.connector("files")
        assert duck._files_for(con, ev, "ip", ["10.0.0.4"]) is None  # a text column: the scan
        assert con.select_in(ev, "ip", ["10.0.0.4"]).rows == duckdb.connect().execute(
            f"SELECT * FROM read_parquet('{glob}') WHERE ip = '10.0.0.4'").fetchall()
