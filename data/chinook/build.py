"""Build the Chinook workspace: every table of the public Chinook SQLite sample copied into `chinook.duckdb`.

Chinook (https://github.com/lerocha/chinook-database, Luis Rocha, MIT licence) is a small music store: customers,
their invoices and invoice lines, the employees who support them, and a catalogue of tracks, albums and artists.
privacyops knows nothing about it; the map next to this script (`privacyops.yaml`) describes it.

Table and column names are kept as they are (CamelCase); declared SQLite types become DuckDB types:
INTEGER -> INTEGER, NVARCHAR(n) -> VARCHAR, DATETIME -> TIMESTAMP, NUMERIC(p,s) -> DECIMAL(p,s) (default (10,2)).
Primary keys and NOT NULL are kept; foreign keys are not (privacyops reads them from the map, and DuckDB's foreign
keys would block later erasure and rectification).

    python data/chinook/build.py [TARGET_DIR]      # default: data/chinook (next to this script)

The SQLite file: `CHINOOK_SQLITE`, else data/external/chinook/Chinook_Sqlite.sqlite (a copy kept in the repository).
Python's sqlite3 reads it (DuckDB's sqlite extension would have to be downloaded).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

HERE = Path(__file__).resolve().parent
REPO = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE = REPO / "data" / "external" / "chinook" / "Chinook_Sqlite.sqlite"
DB_FILE = "chinook.duckdb"
MAP_FILE = "privacyops.yaml"


def sqlite_path_default() -> Path:
    env = os.environ.get("CHINOOK_SQLITE")
    return Path(env) if env else DEFAULT_SQLITE


def duckdb_type(declared: str) -> str:
    """DuckDB type for a declared SQLite column type."""
    t = (declared or "").strip().upper()
    base = t.split("(")[0].strip()
    if base in ("INTEGER", "INT", "BIGINT", "SMALLINT", "TINYINT"):
        return "INTEGER" if base in ("INTEGER", "INT") else base
    if "CHAR" in base or base in ("TEXT", "CLOB", ""):
        return "VARCHAR"
    if base in ("DATETIME", "TIMESTAMP"):
        return "TIMESTAMP"
    if base == "DATE":
        return "DATE"
    if base in ("NUMERIC", "DECIMAL"):
        m = re.search(r"\((\d+)\s*,\s*(\d+)\)", t)
        return f"DECIMAL({m.group(1)},{m.group(2)})" if m else "DECIMAL(10,2)"
    if base in ("REAL", "DOUBLE", "FLOAT"):
        return "DOUBLE"
    if base in ("BLOB",):
        return "BLOB"
    raise ValueError(f"no DuckDB type for SQLite type {declared!r}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value(v, dtype: str):
    """A SQLite value ready for the DuckDB column (decimals exact, via text)."""
    if v is None:
        return None
    if dtype.startswith("DECIMAL"):
        scale = int(dtype.rstrip(")").split(",")[1])
        return Decimal(repr(v) if isinstance(v, float) else str(v)).quantize(Decimal(1).scaleb(-scale))
    return v


def _copy_table(src: sqlite3.Connection, dst: duckdb.DuckDBPyConnection, table: str) -> int:
    info = src.execute(f"PRAGMA table_info({_q(table)})").fetchall()  # cid, name, type, notnull, default, pk
    cols = [(r[1], duckdb_type(r[2]), bool(r[3]), int(r[5])) for r in info]
    pk = [name for name, _, _, k in sorted((c for c in cols if c[3]), key=lambda c: c[3])]
    defs = [f"{_q(n)} {t}" + (" NOT NULL" if nn else "") for n, t, nn, _ in cols]
    if pk:
        defs.append(f"PRIMARY KEY ({', '.join(_q(c) for c in pk)})")
    dst.execute(f"CREATE TABLE {_q(table)} ({', '.join(defs)})")
    rows = src.execute(f"SELECT {', '.join(_q(c[0]) for c in cols)} FROM {_q(table)} "
                       f"ORDER BY {', '.join(_q(c) for c in pk) if pk else 'rowid'}").fetchall()
    if not rows:
        return 0
    # Through Arrow: one typed columnar insert per table (executemany is slow in DuckDB).
    arrays, names = [], []
    for i, (name, dtype, _, _) in enumerate(cols):
        values = [_value(r[i], dtype) for r in rows]
        if dtype.startswith("DECIMAL"):
            p, s = dtype[len("DECIMAL("):-1].split(",")
            arr = pa.array(values, type=pa.decimal128(int(p), int(s)))
        elif dtype in ("TIMESTAMP", "DATE", "VARCHAR"):
            arr = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        elif dtype == "BLOB":
            arr = pa.array(values, type=pa.binary())
        elif dtype == "DOUBLE":
            arr = pa.array(values, type=pa.float64())
        else:
            arr = pa.array(values, type=pa.int64())
        arrays.append(arr)
        names.append(name)
    staged = pa.Table.from_arrays(arrays, names=names)
    select = ", ".join(f"CAST(staged.{_q(n)} AS {t})" for n, t, _, _ in cols)
    dst.register("staged", staged)
    try:
        dst.execute(f"INSERT INTO {_q(table)} SELECT {select} FROM staged")
    finally:
        dst.unregister("staged")
    return len(rows)


def build(target_dir: Path, sqlite_path: Path | None = None) -> Path:
    """Copy every table of the Chinook SQLite file into TARGET_DIR/chinook.duckdb (atomically); return its path.

    When TARGET_DIR is not this folder, the data map is copied there too, so TARGET_DIR is a complete workspace.
    """
    target_dir = Path(target_dir)
    sqlite_path = Path(sqlite_path) if sqlite_path else sqlite_path_default()
    if not sqlite_path.is_file():
        raise FileNotFoundError(f"Chinook SQLite file not found: {sqlite_path} (set CHINOOK_SQLITE)")
    target_dir.mkdir(parents=True, exist_ok=True)
    out = target_dir / DB_FILE

    fd, tmp_name = tempfile.mkstemp(prefix=".chinook-", suffix=".duckdb", dir=target_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # DuckDB creates the file itself (an empty file is not a database)
    try:
        src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
        try:
            dst = duckdb.connect(str(tmp))
            try:
                tables = [r[0] for r in src.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                    "ORDER BY name")]
                for table in tables:
                    _copy_table(src, dst, table)
                dst.execute("CHECKPOINT")
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(tmp, out)
    finally:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)

    if target_dir.resolve() != HERE:
        shutil.copyfile(HERE / MAP_FILE, target_dir / MAP_FILE)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    target = Path(argv[0]) if argv else HERE
    out = build(target)
    con = duckdb.connect(str(out), read_only=True)
    try:
        tables = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY table_name").fetchall()
    finally:
        con.close()
    print(f"Built {out}: " + ", ".join(f"{t} ({n:,})" for t, n in tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
