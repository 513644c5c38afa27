"""SQLite sources: `{kind: sqlite, path: app.sqlite, location: LV}` (path relative to the workspace folder).

Python's sqlite3 opens the file read-only for lookups (`mode=ro`). SQLite lacks several functions the shared SQL
uses; they are registered on the connection as Python functions (`privacyops.names` for name similarity, so
names rank exactly as on DuckDB). SQLite has no schemas: a dataset's `table` is the table's name as written,
dots included (`people.person` is one table name).

Indexes (`privacyops index`) use SQLite's own functions only: an index over a function that only privacyops
defines would make every other program writing the table fail ("no such function"). So e-mails, ids, references
and keys get indexes; phone numbers are found with a pre-filter and a scan.

A connection opened for writing turns foreign keys on (`PRAGMA foreign_keys = ON`; SQLite's default is off, per
connection): an erasure then meets the refusals and ON DELETE actions the application's own writes meet.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

from ..errors import SourceError
from ..map import PHONE, Dataset, Source
from . import names
from .base import Connector
from .duckdb import LOCK_WAIT_SECONDS
from .errors import sqlite_error
from .sqlite_constraints import SQLiteConstraints
from .types import Rows, type_family


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _regexp(pattern: str | None, text: Any) -> int | None:
    """SQLite's `text REGEXP pattern` calls regexp(pattern, text)."""
    if pattern is None or text is None:
        return None
    return int(_compiled(pattern).search(str(text)) is not None)


def _greatest(*values: Any) -> Any:
    """The largest non-NULL argument (as DuckDB's and PostgreSQL's greatest; SQLite's max() is NULL on any NULL)."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _concat_ws(sep: str | None, *values: Any) -> str | None:
    if sep is None:
        return None
    return sep.join(str(v) for v in values if v is not None)


def _str_fn(fn):
    def call(value: Any) -> Any:
        return None if value is None else fn(str(value))
    return call


def _sqlite_type(declared: str) -> str:
    """A declared column type as a type name the type families know (SQLite's affinity rules otherwise)."""
    t = (declared or "").strip().upper()
    if t and type_family(t) != "other":
        return t
    if "INT" in t:
        return "INTEGER"
    if any(x in t for x in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if any(x in t for x in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    if not t or "BLOB" in t:
        return "BLOB"
    return "NUMERIC"


class SQLiteConnector(SQLiteConstraints, Connector):
    """A SQLite database file."""

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        super().__init__(source, root, read_only)
        self.path = self.database_file()
        uri = self.path.resolve().as_uri() + ("?mode=ro" if read_only else "?mode=rw")
        # lock_timeout is SQLite's busy timeout: how long a statement waits for another program's lock on the file.
        try:
            self.con = sqlite3.connect(uri, uri=True, timeout=source.lock_timeout or LOCK_WAIT_SECONDS,
                                       check_same_thread=False, isolation_level=None)
            self.con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a file that is no database fails here
        except sqlite3.Error as exc:
            raise sqlite_error(exc, source, self.path, None) from None
        if not read_only:  # SQLite enforces declared keys only on connections that ask; ours meet them as apps do
            self.con.execute("PRAGMA foreign_keys = ON")
        self._deadline: float | None = None
        if source.statement_timeout:  # SQLite has no statement timeout: a progress handler interrupts the statement
            self.con.set_progress_handler(self._past_deadline, 10_000)
        self._register()

    def _past_deadline(self) -> int:
        """Non-zero (interrupt) once the running statement passed the source's statement_timeout."""
        return int(self._deadline is not None and time.monotonic() > self._deadline)

    def _referencing(self, table: str) -> list[tuple[str, str, str]]:
        """(table, column, referenced column) of the foreign keys pointing at `table` (SQLite's refusal names none)."""
        try:
            return [(t, c, rc or "?") for t, c, rc in self.con.execute(
                'SELECT m.name, f."from", f."to" FROM sqlite_master m, pragma_foreign_key_list(m.name) f '
                "WHERE m.type = 'table' AND f.\"table\" = ? COLLATE NOCASE ORDER BY 1, 2", [table]).fetchall()]
        except sqlite3.Error:
            return []

    def _register(self) -> None:
        fn = self.con.create_function
        det = {"deterministic": True}
        fn("regexp", 2, _regexp, **det)
        fn("reverse", 1, _str_fn(lambda s: s[::-1]), **det)
        fn("strip_accents", 1, _str_fn(names.strip_accents), **det)
        fn("privacyops_fold", 1, _str_fn(names.fold), **det)
        fn("privacyops_lower", 1, _str_fn(names.lower), **det)
        fn("privacyops_sorted_words", 1, _str_fn(names.sorted_words), **det)
        fn("privacyops_digits", 1, _str_fn(lambda s: re.sub(r"[^0-9]", "", s)), **det)
        fn("jaro_winkler_similarity", 2, lambda a, b: names.jaro_winkler(
            None if a is None else str(a), None if b is None else str(b)), **det)
        fn("greatest", -1, _greatest, **det)
        if not self._has_function("concat_ws"):  # built in from SQLite 3.44
            fn("concat_ws", -1, _concat_ws, **det)

    def _has_function(self, name: str) -> bool:
        try:
            self.con.execute(f"SELECT {name}(' ', 'a')").fetchone()
            return True
        except sqlite3.OperationalError:
            return False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        if self.source.statement_timeout:
            self._deadline = time.monotonic() + self.source.statement_timeout
        try:
            cur = self.con.execute(sql, list(params))
            if cur.description is None:  # DELETE / UPDATE: their row count, as DuckDB answers them
                return Rows(["Count"], [(cur.rowcount,)]) if cur.rowcount >= 0 else Rows([], [])
            return Rows([d[0] for d in cur.description], cur.fetchall())
        except sqlite3.Error as exc:
            raise sqlite_error(exc, self.source, self.path, sql, self._referencing) from None
        finally:
            self._deadline = None

    def relation(self, dataset: Dataset) -> str:
        return self.quote(dataset.table)

    def describe(self, dataset: Dataset) -> dict[str, str]:
        rows = self.execute("SELECT name, type FROM pragma_table_info(?)", [dataset.table]).rows
        if not rows:
            raise SourceError(f"source '{self.source.name}': table {dataset.table} (dataset {dataset.name}) "
                              f"does not exist in {self.path}")
        return {name: _sqlite_type(dtype) for name, dtype in rows}

    def index_names(self, dataset: Dataset) -> set[str]:
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                            [dataset.table]).rows
        return {r[0] for r in rows}

    def close(self) -> None:
        self.con.close()

    # -- dialect --------------------------------------------------------------------------------------------------
    def contains_expr(self, haystack: str, needle: str) -> str:
        return f"(instr({haystack}, {needle}) > 0)"

    def regex_expr(self, col: str, pattern: str) -> str:
        return f"({col} REGEXP {pattern})"

    def digits_expr(self, col: str) -> str:
        return f"privacyops_digits({col})"

    def name_expr(self, col: str) -> str:
        return f"privacyops_fold({col})"  # SQLite's lower() folds ASCII only

    def lower_expr(self, text: str) -> str:
        return f"privacyops_lower({text})"

    def sorted_words_expr(self, text: str) -> str:
        return f"privacyops_sorted_words({text})"

    def can_index(self, kind: str) -> bool:
        return kind != PHONE  # the phone key needs reverse(), which SQLite lacks (see the module docstring)

    def create_index(self, dataset: Dataset, name: str, expr: str) -> None:
        self.execute(f"CREATE INDEX IF NOT EXISTS {self.quote(name)} ON {self.relation(dataset)} ({expr})")

    def drop_index(self, dataset: Dataset, name: str) -> None:
        self.execute(f"DROP INDEX IF EXISTS {self.quote(name)}")
