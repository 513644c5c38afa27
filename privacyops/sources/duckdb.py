"""DuckDB connectors: a DuckDB database file, and folders of Parquet or CSV files read through DuckDB."""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import Any, Sequence

import duckdb

from ..datamap import Dataset, Source
from ..errors import SourceError
from .base import Connector, Rows

LOCK_WAIT_SECONDS = 30.0


def connect_duckdb(path: str, read_only: bool, what: str, wait: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, waiting while another process holds its lock (DuckDB allows one writer process)."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                hint = (" Another privacyops process (or a notebook kernel) is using it; close it and retry."
                        if "lock" in str(exc).lower() else "")
                raise SourceError(f"{what}: cannot open {path}: {str(exc).splitlines()[0]}.{hint}") from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


_ENGINE: duckdb.DuckDBPyConnection | None = None


def _file_engine() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for reading Parquet/CSV: it holds no file locks, so unlike database
    files it can stay open, and each lookup saves starting an engine."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = duckdb.connect(":memory:")
    return _ENGINE


class DuckDBConnector(Connector):
    """A DuckDB database file; a dataset's `table` is `[schema.]table`."""

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        super().__init__(source, root, read_only)
        path = Path(source.path)
        self.path = path if path.is_absolute() else root / path
        if not self.path.is_file():
            raise SourceError(f"source '{source.name}': database file {self.path} not found; check "
                              f"sources.{source.name}.path in the map (relative to the workspace folder)")
        self.con = connect_duckdb(str(self.path), read_only, f"source '{source.name}'")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            cur = self.con.execute(sql, list(params))
            cols = [d[0] for d in cur.description] if cur.description else []
            return Rows(cols, cur.fetchall() if cols else [])
        except duckdb.Error as exc:
            raise SourceError(f"source '{self.source.name}': {str(exc).splitlines()[0]}") from None

    def relation(self, dataset: Dataset) -> str:
        return ".".join(self.quote(part) for part in dataset.table.split("."))

    def describe(self, dataset: Dataset) -> dict[str, str]:
        parts = dataset.table.split(".")
        schema, table = (parts[-2], parts[-1]) if len(parts) > 1 else (None, parts[0])
        sql = "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?"
        params: list[Any] = [table]
        if schema:
            sql += " AND table_schema = ?"
            params.append(schema)
        rows = self.execute(sql + " ORDER BY ordinal_position", params).rows
        if not rows:
            raise SourceError(f"source '{self.source.name}': table {dataset.table} (dataset {dataset.name}) "
                              f"does not exist in {self.path}")
        return {name: dtype for name, dtype in rows}

    def index_names(self, dataset: Dataset) -> set[str]:
        if not hasattr(self, "_index_names"):
            rows = self.execute("SELECT schema_name, table_name, index_name FROM duckdb_indexes()").rows
            self._index_names: dict[tuple, set[str]] = {}
            for schema, table, name in rows:
                self._index_names.setdefault((schema, table), set()).add(name)
        parts = dataset.table.split(".")
        schema, table = (parts[-2], parts[-1]) if len(parts) > 1 else ("main", parts[0])
        return self._index_names.get((schema, table), set())

    def close(self) -> None:
        self.con.close()


class FileConnector(DuckDBConnector):
    """A folder of Parquet or CSV files; a dataset's `table` is a path (glob allowed) inside the folder."""

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        Connector.__init__(self, source, root, read_only)
        path = Path(source.path)
        self.path = path if path.is_absolute() else root / path
        if not self.path.is_dir():
            raise SourceError(f"source '{source.name}': folder {self.path} not found; check "
                              f"sources.{source.name}.path in the map (relative to the workspace folder)")
        self.con = _file_engine().cursor()  # a cursor: cheap, and safe to use beside other cursors

    def index_names(self, dataset: Dataset) -> set[str]:
        return set()

    def files(self, dataset: Dataset) -> list[str]:
        return sorted(glob.glob(str(self.path / dataset.table)))

    def relation(self, dataset: Dataset) -> str:
        # The path comes from the validated map (never from user input); it is a SQL string literal, escaped.
        literal = "'" + str(self.path / dataset.table).replace("'", "''") + "'"
        if self.source.kind == "parquet":
            return f"read_parquet({literal})"
        return f"read_csv({literal}, header = true, auto_detect = true)"

    def describe(self, dataset: Dataset) -> dict[str, str]:
        if not self.files(dataset):
            raise SourceError(f"source '{self.source.name}': no {self.source.kind} files match "
                              f"{self.path / dataset.table} (dataset {dataset.name})")
        got = self.execute(f"DESCRIBE SELECT * FROM {self.relation(dataset)}")
        return {r[0]: r[1] for r in got.rows}
