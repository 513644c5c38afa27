"""DuckDB connectors: a DuckDB database file, and folders of Parquet or CSV files read through DuckDB."""

from __future__ import annotations

import glob
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import duckdb

from ..errors import SourceError
from ..map import Dataset, Source
from .base import Connector
from .constraints import StoreConstraints
from .duckdb_constraints import DuckDBConstraints
from .duckdb_memory import (  # noqa: F401 - the names other modules import from here
    _BATCH,
    _SIZE_RE,
    BATCH_SHARE,
    CROWDED_SHARE,
    DEFAULT_MEMORY,
    INDEX_SCAN_MAX_ROWS,
    MEMORY_ENV,
    THREADS_ENV,
    _bytes,
    _evict,
    _index_scans_capped,
    _limited,
    batch_reads,
    duckdb_limits,
    index_crowded,
)
from .errors import DEFAULT_LOCK_WAIT, duckdb_error, duckdb_lock_holder, file_locked_message
from .types import CHUNK, Rows, type_family
from .write_chain import writer_closed, writer_opened

SEMI_JOIN_FROM = CHUNK  # values from which select_in joins an Arrow table instead of IN lists

if TYPE_CHECKING:
    import pyarrow as pa

LOCK_WAIT_SECONDS = DEFAULT_LOCK_WAIT


WAIT_MARKER = ".privacyops-writer-waiting"  # beside a DuckDB file while a writer waits for its lock


def writer_marker(path: str | Path) -> Path:
    """The marker a privacyops writer leaves beside `path` while it waits for the file's lock: processes keeping
    read connections open (Workspace.keep_open) close them at the end of their current operation."""
    return Path(str(path) + WAIT_MARKER)


def writer_waiting(path: str | Path, wait: float | None = None) -> bool:
    """Whether a writer waits for `path` (a marker younger than the lock wait: one left by a killed process is
    ignored once it is that old)."""
    try:
        age = time.time() - writer_marker(path).stat().st_mtime
    except OSError:
        return False
    return age < (LOCK_WAIT_SECONDS if wait is None else wait) + 5


def connect_duckdb(path: str, read_only: bool, what: str, wait: float | None = None,
                   setting: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, waiting (`wait` seconds, default 30) while another process holds its lock (DuckDB allows
    one writer process); `setting` names the map setting that sets the wait, for the message. A writer that has
    to wait leaves a marker (`writer_marker`) so that readers keeping the file open step aside."""
    wait = LOCK_WAIT_SECONDS if wait is None else wait
    limits = duckdb_limits() if read_only else None  # a bad setting refused before anything is opened
    deadline = time.monotonic() + wait
    delay = 0.05
    marker = None
    try:
        while True:
            try:
                con = _index_scans_capped(duckdb.connect(path, read_only=read_only))
                return _limited(con, limits) if limits else con
            except duckdb.Error as exc:
                text = str(exc)
                if marker is None and "conflicting lock" in text.lower():  # readers too: a kept ledger steps aside
                    marker = writer_marker(path)
                    try:
                        marker.touch()
                    except OSError:
                        marker = None
                _wait_or_raise(text, path, what, wait, setting, deadline)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)


def _wait_or_raise(text: str, path: str, what: str, wait: float, setting: str | None, deadline: float) -> None:
    """Raise the error of a failed open unless it is a lock held elsewhere and there is time left to wait."""
    # DuckDB's lock error ("Could not set lock on file ...: Conflicting lock is held"); not "block", which a corrupt
    # file's checksum error names: that one fails at once instead of waiting for a lock
    low = text.lower()
    locked = ("could not set lock" in low or "conflicting lock" in low) or _being_created(path, text, deadline - wait)
    if locked and time.monotonic() <= deadline:
        return
    if locked:
        raise SourceError(file_locked_message(what, path, wait, duckdb_lock_holder(text), setting)) from None
    raise SourceError(f"{what}: cannot open {path}: {text.splitlines()[0]} — check that it is a DuckDB "
                      f"database file this user may read (and write, to change data)") from None


def _being_created(path: str, text: str, started: float) -> bool:
    """Another process is creating the file this instant (it exists, shorter than DuckDB's header): wait briefly
    as for a lock. A damaged file of full size is reported at once."""
    if "not a valid DuckDB database file" not in text or time.monotonic() - started > 2.0:
        return False
    try:
        return os.path.getsize(path) < _HEADER_BYTES
    except OSError:
        return False


# (file stamp, column) -> the column's (min, max) over the file's row groups, None when unknown: a file rewritten
# (an erasure replaces it whole) has another stamp, so its statistics are read again.
_FILE_RANGES: dict[tuple[tuple | None, str], tuple[int, int] | None] = {}


def _file_stamp(path: str) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (path, st.st_size, st.st_mtime_ns, st.st_ino)


_HEADER_BYTES = 3 * 4096  # DuckDB's file header: a file shorter than this is still being written
_ENGINE: duckdb.DuckDBPyConnection | None = None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _group_changes(changes: Sequence[tuple[Any, dict[str, Any]]]) -> dict[tuple[str, ...], list]:
    groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
    for k, cols in changes:
        groups.setdefault(tuple(sorted(cols)), []).append((k, cols))
    return groups


def _changes_table(items: list[tuple[Any, dict[str, Any]]], cols: tuple[str, ...]) -> pa.Table:
    """Per-row changes as an Arrow table: k (the key), v0..vn (the new values, in `cols` order)."""
    import pyarrow as pa  # here, not at the top: a third of a second that reading commands need not pay

    data = {"k": [k for k, _ in items]}
    for i, c in enumerate(cols):
        data[f"v{i}"] = [v[c] for _, v in items]
    return pa.table(data)


def _file_engine() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process for reading Parquet/CSV: it holds no file locks, so unlike database
    files it can stay open, and each lookup saves starting an engine."""
    global _ENGINE
    if _ENGINE is None:
        engine = duckdb.connect(":memory:")
        # The read limit here too: rewriting a Parquet file (an erasure) loads it whole into a temporary table,
        # which under the limit spills to this process's own folder (DuckDB's spill file names are not unique
        # per process) instead of holding it all (measured: 660 MB for a 42 MB file, 370 MB under 256MB)
        _limited(engine, duckdb_limits())
        spill = Path(tempfile.gettempdir()) / f"privacyops-spill-{os.getpid()}"
        engine.execute(f"SET temp_directory = {_literal(str(spill))}")
        _ENGINE = engine
    return _ENGINE


class DuckDBConnector(DuckDBConstraints, Connector):
    """A DuckDB database file; a dataset's `table` is `[schema.]table`."""

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        super().__init__(source, root, read_only)
        self.path = self.database_file()
        self.con = connect_duckdb(str(self.path), read_only, f"source '{source.name}'", source.lock_timeout,
                                  f"sources.{source.name}.lock_timeout")
        self._chained = not read_only
        if self._chained:  # what this process writes into the file, by stat (write_chain.py)
            writer_opened(str(self.path))
        # The file's catalog is named after the file: "club.duckdb" holding a schema "club" makes club.visits
        # ambiguous, so schema-qualified names are qualified with the catalog too.
        self.catalog = self.con.execute("SELECT current_database()").fetchone()[0]

    def limit_reads(self) -> None:
        """A writer about to read much before it writes (erasure's stale check inside its transaction): half the
        memory limit of `duckdb_limits` until `lift_limit()`, so the blocks it reads are evicted instead of kept
        (half: the process holds a reader of the lookup index and Parquet's engine beside it, each with the
        limit; the check reads the planned rows, by key: measured 1.26 GB -> 0.97 GB for 1,000 subjects at 1M)."""
        memory, threads = duckdb_limits()
        if getattr(self, "_unlimited", None) is None:
            self._unlimited = self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        _limited(self.con, (f"{max(int(_bytes(memory) / 2 / 2 ** 20), 64)}MiB", threads))

    def lift_limit(self) -> None:
        """Back to the limit the writer had before `limit_reads` (DuckDB's default) before writing, the blocks read
        under the limit dropped first (`_evict`): a commit loads the ART index parts of the rows it deletes or
        changes, which cannot be evicted, and a limit below them aborts the process. (An explicit SET: DuckDB
        1.5's RESET memory_limit reports the default but its buffer pool keeps the lower limit.)"""
        if getattr(self, "_unlimited", None):
            _evict(self.con)
            self.con.execute(f"SET memory_limit = {_literal(self._unlimited)}")

    def writer_waiting(self) -> bool:
        """Whether a privacyops writer in another process waits for this file (see `writer_marker`)."""
        return self.read_only and writer_waiting(self.path, self.source.lock_timeout)

    def crowded(self) -> bool:
        """Whether this reader should be closed at the end of the current operation (see `index_crowded`)."""
        return self.read_only and index_crowded(self.con)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            cur = self.con.execute(sql, list(params))
            cols = [d[0] for d in cur.description] if cur.description else []
            return Rows(cols, cur.fetchall() if cols else [])
        except duckdb.Error as exc:
            raise duckdb_error(exc, self.source, self.path, sql) from None

    def relation(self, dataset: Dataset) -> str:
        parts = dataset.table.split(".")
        return ".".join(self.quote(part) for part in ([self.catalog, *parts] if len(parts) == 2 else parts))

    def drop_index(self, dataset: Dataset, name: str) -> None:
        parts = dataset.table.split(".")
        where = [self.catalog, parts[0]] if len(parts) == 2 else parts[:-1]
        self.execute(f"DROP INDEX IF EXISTS {'.'.join(self.quote(p) for p in [*where, name])}")

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

    def select_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> Rows:
        """Many values (a batch: thousands of keys) travel as one Arrow table in one semi-join — one scan —
        instead of one IN list, and one scan, per 1,000; few values as the IN list (an index probe)."""
        vals = self.coerce(dataset, column, values)
        if len(vals) <= SEMI_JOIN_FROM:
            return super().select_in(dataset, column, vals)
        return self.select_in_joined(dataset, column, vals)

    def select_in_joined(self, dataset: Dataset, column: str, values: Iterable[Any]) -> Rows:
        """`select_in` as one semi-join on an Arrow table of the values, however few (a batch asks for its union
        this way: a scan whose blocks the buffer manager may drop, where an index probe would load the whole
        index into memory for good)."""
        vals = self.coerce(dataset, column, values)
        if not vals or type_family(self.columns(dataset).get(column, "")) not in ("integer", "text"):
            return super().select_in(dataset, column, vals)  # (other types compare as the IN list casts them)
        import pyarrow as pa  # here, not at the top: reading commands need not pay its import

        try:
            table = pa.table({"v": vals})
        except (pa.ArrowException, TypeError, ValueError):  # values Arrow cannot type alike: the IN lists
            return super().select_in(dataset, column, vals)
        name = f"_privacyops_in_{uuid.uuid4().hex[:8]}"
        self.con.register(name, table)
        try:
            return self.execute(f"SELECT * FROM {self.relation(dataset)} WHERE {self.quote(column)} IN "
                                f"(SELECT v FROM {name})")
        finally:
            self.con.unregister(name)

    def update_rows(self, dataset: Dataset, key: str, changes: Sequence[tuple[Any, dict[str, Any]]]) -> int:
        """Set-based: the changes travel as one Arrow table joined in a single UPDATE per set of columns."""
        self._require_writable()
        n = 0
        for cols, items in _group_changes(changes).items():
            table = _changes_table(items, cols)
            name = f"_privacyops_changes_{uuid.uuid4().hex[:8]}"
            self.con.register(name, table)
            try:
                sets = ", ".join(f"{self.quote(c)} = c.v{i}" for i, c in enumerate(cols))
                n += self._count_of(self.execute(
                    f"UPDATE {self.relation(dataset)} AS t SET {sets} FROM {name} AS c "
                    f"WHERE t.{self.quote(key)} = c.k"))
            finally:
                self.con.unregister(name)
        return n

    def close(self) -> None:
        self.con.close()
        if getattr(self, "_chained", False):
            self._chained = False
            writer_closed(str(self.path))


def _files_for(con: FileConnector, dataset: Dataset, column: str, vals: list[Any]) -> list[str] | None:
    """For `FileConnector.select_in` (a lookup's reference probe): the scan's rows in its order (files in glob
    order, rows in file order) come from these files alone. The files of a Parquet dataset that may hold one of the integer `vals` in `column`, by the min/max
    statistics of the files' row groups (read once per file version: path, size, mtime, inode); None when
    this cannot be told (not Parquet, not an integer column, a file without statistics for it)."""
    if con.source.kind != "parquet" or type_family(con.columns(dataset).get(column, "")) != "integer" \
            or not all(isinstance(v, int) for v in vals):
        return None
    files = con.files(dataset)
    stamps = {f: _file_stamp(f) for f in files}
    if not files or any(s is None for s in stamps.values()):
        return None  # no files (the scan says so), or one vanished meanwhile
    todo = [f for f in files if (stamps[f], column) not in _FILE_RANGES]
    if todo:
        got = {r[0]: r[1:] for r in con.execute(
            "SELECT file_name, min(TRY_CAST(stats_min_value AS HUGEINT)), max(TRY_CAST(stats_max_value AS "
            "HUGEINT)), bool_or(stats_min_value IS NULL OR stats_max_value IS NULL OR TRY_CAST(stats_min_value "
            "AS HUGEINT) IS NULL OR TRY_CAST(stats_max_value AS HUGEINT) IS NULL) FROM parquet_metadata("
            f"[{', '.join(_literal(f) for f in todo)}]) WHERE path_in_schema = ? GROUP BY file_name",
            [column]).rows}
        for f in todo:  # a file the query did not describe (no such column, unreadable): always read
            lo, hi, unknown = got.get(f, (None, None, True))
            _FILE_RANGES[(stamps[f], column)] = None if unknown or lo is None else (int(lo), int(hi))
    ranges = [_FILE_RANGES[(stamps[f], column)] for f in files]
    return [f for f, r in zip(files, ranges) if r is None or any(r[0] <= v <= r[1] for v in vals)]


def _in_list(con: FileConnector, dataset: Dataset, column: str, vals: list[Any]) -> tuple[str, list[Any]]:
    """`column IN (values)` for a file source's staging scan and each file's rewrite: integer and text values as ONE
    list parameter unnested (a batch's thousands of keys: an IN list of that many parameters costs DuckDB ~0.25 s
    per statement, the list ~5 ms); other types as the IN list, compared as the store casts them."""
    if len(vals) > 1 and type_family(con.columns(dataset).get(column, "")) in ("integer", "text") \
            and len({type(v) for v in vals}) == 1 and type(vals[0]) in (int, str):
        return f"{con.quote(column)} IN (SELECT unnest(?))", [vals]
    return f"{con.quote(column)} IN ({con._placeholders(len(vals))})", list(vals)


def _copy_without(con: FileConnector, path: Path, ops: list[tuple[str, Any]], tmp: Path, fmt: str) -> bool:
    """A file whose staged writes are all deletes, written to `tmp` as ONE COPY of its rows that no delete matches
    (in file order, as the table the other writes go through keeps them): a batch erasure's analytics parts are
    rewritten without reading each into a table first (~40% less CPU). False (nothing written) for other writes."""
    if not ops or any(kind != "delete" for kind, _ in ops):
        return False
    keep = " AND ".join(f"({where}) IS NOT TRUE" for _, (where, _) in ops)  # a NULL comparison deletes nothing
    con.execute(f"COPY (SELECT * FROM {con._reader(str(path))} WHERE {keep}) TO {_literal(str(tmp))} ({fmt})",
                [p for _, (_, params) in ops for p in params])
    return True


_CODECS = {"UNCOMPRESSED": "uncompressed", "SNAPPY": "snappy", "GZIP": "gzip", "ZSTD": "zstd", "BROTLI": "brotli",
           "LZ4": "lz4", "LZ4_RAW": "lz4_raw"}


def _parquet_layout(con: FileConnector, path: Path) -> str:
    """COPY options that write a Parquet file again as it was laid out: its compression and its row-group size (the
    largest group's rows). Written with the defaults instead, a file of small row groups (which a key's probe
    prunes by their min/max statistics) became one large group, and every later lookup read all of it (3x slower
    after one erasure)."""
    got = con.execute("SELECT max(row_group_num_rows), any_value(compression) FROM parquet_metadata("
                      f"{_literal(str(path))})").rows
    rows, codec = got[0] if got else (None, None)
    out = "FORMAT parquet"
    if codec in _CODECS:
        out += f", COMPRESSION {_CODECS[codec]}"
    if isinstance(rows, int) and rows > 0:
        out += f", ROW_GROUP_SIZE {rows}"
    return out


def _apply_staged(con: FileConnector, table: str, kind: str, op: Any) -> None:
    """One staged write (`FileConnector._stage`) applied to the temporary table holding a file's rows."""
    if kind == "delete":
        con.execute(f"DELETE FROM {table} WHERE {op[0]}", op[1])
    elif kind == "sql":
        sql, params = op
        con.execute(sql.format(t=table), params)
    else:
        key, cols, changes = op
        name = f"_privacyops_changes_{uuid.uuid4().hex[:8]}"
        con.con.register(name, changes)
        try:
            sets = ", ".join(f"{con.quote(c)} = c.v{i}" for i, c in enumerate(cols))
            con.execute(f"UPDATE {table} AS t SET {sets} FROM {name} AS c WHERE t.{con.quote(key)} = c.k")
        finally:
            con.con.unregister(name)


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

    def writer_waiting(self) -> bool:
        return False  # files hold no lock: writers replace them whole (see _rewrite)

    def select_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> Rows:
        """A lookup's few integer values read only the Parquet files that may hold them (`_files_for`)."""
        vals = self.coerce(dataset, column, values)
        files = _files_for(self, dataset, column, vals) if 0 < len(vals) <= SEMI_JOIN_FROM else None
        if not files:
            return super().select_in(dataset, column, vals) if files is None else Rows(list(self.columns(dataset)), [])
        return self.execute(f"SELECT * FROM read_parquet([{', '.join(_literal(f) for f in files)}]) WHERE "
                            f"{self.quote(column)} IN ({self._placeholders(len(vals))})", vals)

    # Files declare no constraints: the defaults of a store without a catalog, not DuckDB's.
    foreign_keys = StoreConstraints.foreign_keys
    column_info = StoreConstraints.column_info
    enforces_foreign_keys = StoreConstraints.enforces_foreign_keys
    points_at = StoreConstraints.points_at

    # Files cannot be changed in place: writes are staged per file and, at commit, every affected file is
    # rewritten to a temporary file beside it, fsynced, and only then renamed over the original (rename is
    # atomic), so a reader or a crash sees each file either wholly old or wholly new.
    _pending: dict[str, list[tuple[str, Any]]] | None = None

    def begin(self) -> None:
        self._pending = {}

    def rollback(self) -> None:
        self._pending = None

    def commit(self) -> None:
        pending, self._pending = self._pending or {}, None
        self._rewrite(pending)

    def _stage(self, dataset: Dataset, where: str, params: list[Any], op: tuple[str, Any]) -> int:
        """Record `op` for every file holding rows that match `where`; return how many rows match."""
        rows = self.execute(f"SELECT filename, count(*) FROM {self.relation(dataset, filename=True)} "
                            f"WHERE {where} GROUP BY filename", params).rows
        if not rows:
            return 0
        autocommit = self._pending is None
        if autocommit:
            self.begin()
        for filename, _ in rows:
            self._pending.setdefault(filename, []).append(op)
        if autocommit:
            self.commit()
        return sum(int(c) for _, c in rows)

    def delete_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> int:
        self._require_writable()
        vals = self.coerce(dataset, column, values)
        if not vals:
            return 0
        where, params = _in_list(self, dataset, column, vals)
        return self._stage(dataset, where, params, ("delete", (where, params)))

    def update_in(self, dataset: Dataset, column: str, values: Iterable[Any], assignments: dict[str, Any]) -> int:
        self._require_writable()
        vals = self.coerce(dataset, column, values)
        if not vals or not assignments:
            return 0
        where, params = _in_list(self, dataset, column, vals)
        sets = ", ".join(f"{self.quote(c)} = {self.param}" for c in assignments)
        return self._stage(dataset, where, params,
                           ("sql", (f"UPDATE {{t}} SET {sets} WHERE {where}", [*assignments.values(), *params])))

    def update_rows(self, dataset: Dataset, key: str, changes: Sequence[tuple[Any, dict[str, Any]]]) -> int:
        self._require_writable()
        n = 0
        for cols, items in _group_changes(changes).items():
            keys = self.coerce(dataset, key, [k for k, _ in items])
            if not keys:
                continue
            where = f"{self.quote(key)} IN ({self._placeholders(len(keys))})"
            n += self._stage(dataset, where, keys, ("join", (key, cols, _changes_table(items, cols))))
        return n

    def _rewrite(self, pending: dict[str, list[tuple[str, Any]]]) -> None:
        written: list[tuple[Path, Path]] = []
        try:
            for filename, ops in pending.items():
                path = Path(filename)
                fmt = _parquet_layout(self, path) if self.source.kind == "parquet" else "FORMAT csv, HEADER"
                tmp = path.with_name(f".{path.name}.privacyops-{uuid.uuid4().hex[:8]}.tmp")
                written.append((tmp, path))  # listed first: a failure removes what was written
                if _copy_without(self, path, ops, tmp, fmt):  # deletes only: one statement, no table
                    _fsync(tmp)
                    continue
                written.pop()
                table = f"_privacyops_rw_{uuid.uuid4().hex[:8]}"
                self.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {self._reader(str(path))}")
                try:
                    for kind, op in ops:
                        _apply_staged(self, table, kind, op)
                    written.append((tmp, path))
                    self.execute(f"COPY {table} TO {_literal(str(tmp))} ({fmt})")
                finally:
                    self.execute(f"DROP TABLE IF EXISTS {table}")
                _fsync(tmp)
        except BaseException:
            for tmp, _ in written:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, path in written:  # every new file is complete and on disk before any is swapped in
            os.replace(tmp, path)
        for folder in {path.parent for _, path in written}:
            _fsync(folder)

    def files(self, dataset: Dataset) -> list[str]:
        return sorted(glob.glob(str(self.path / dataset.table)))

    def relation(self, dataset: Dataset, filename: bool = False) -> str:
        # The path comes from the validated map (never from user input); it is a SQL string literal, escaped.
        return self._reader(str(self.path / dataset.table), filename)

    def _reader(self, path: str, filename: bool = False) -> str:
        extra = ", filename = true" if filename else ""
        if self.source.kind == "parquet":
            return f"read_parquet({_literal(path)}{extra})"
        return f"read_csv({_literal(path)}, header = true, auto_detect = true{extra})"

    def describe(self, dataset: Dataset) -> dict[str, str]:
        if not self.files(dataset):
            raise SourceError(f"source '{self.source.name}': no {self.source.kind} files match "
                              f"{self.path / dataset.table} (dataset {dataset.name})")
        got = self.execute(f"DESCRIBE SELECT * FROM {self.relation(dataset)}")
        return {r[0]: r[1] for r in got.rows}
