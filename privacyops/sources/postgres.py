"""PostgreSQL sources (psycopg 3): `{kind: postgres, dsn_env: NAME, location: LV}` or `dsn_file: PATH`.

The connection string never appears in the map, and never in a message: it may hold a password. A dataset's
`table` is `[schema.]table`; tables named without a schema are found through the source's `schema` (the search
path) or the server's default search path.

Reads run in autocommit mode on a read-only session: every statement is its own short transaction, so a lookup
never leaves an idle transaction holding locks. Name similarity: PostgreSQL has no Jaro-Winkler without extensions
(which a user often cannot install), so a regular expression narrows the rows (`names.prefilter_pattern`: a word
beginning with the query's first letter, or three letters in a row of a query word, accents and case ignored) and
`privacyops.names` scores them exactly as DuckDB does in SQL: the same candidates, scores and order, and the same
total of matching rows, except for rare loose resemblances the pre-filter drops (never an exact match: it holds every
word of the query, and in our tests never a row scoring 0.9 or more).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any, Callable, Sequence

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ..errors import SourceError
from ..map import Dataset, Source
from . import names
from .base import Connector
from .errors import permission_denied, postgres_connect_error, postgres_error
from .pg_constraints import PostgresConstraints
from .queries import NameMatches
from .secrets import resolve_dsn
from .types import SCORE, Rows

CONNECT_TIMEOUT = 10  # seconds


def _encodable(encoding: str) -> Callable[[str], bool]:
    """Whether a character can travel in the client encoding (a Python codec name) the parameters are sent in."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        codec = "utf-8"
    if codec in ("utf-8", "utf_8"):
        return lambda ch: True

    def ok(ch: str) -> bool:
        try:
            ch.encode(codec)
            return True
        except UnicodeEncodeError:
            return False
    return ok


def _session_settings(source: Source, read_only: bool, quote: Callable[[str], str]) -> list[tuple[str, list]]:
    """The statements that set a session up: read-only for reads, the source's search path, and the map's timeouts
    for every statement of the session (in milliseconds, PostgreSQL's unit)."""
    out: list[tuple[str, list]] = [("SET default_transaction_read_only = on", [])] if read_only else []
    if source.schema:
        path = ", ".join(quote(s.strip()) for s in source.schema.split(",") if s.strip())
        out.append(("SELECT set_config('search_path', %s, false)", [path]))
    for key in ("statement_timeout", "lock_timeout"):
        seconds = getattr(source, key, None)
        if seconds:
            out.append(("SELECT set_config(%s, %s, false)", [key, f"{max(1, round(seconds * 1000))}ms"]))
    return out


class PostgresConnector(PostgresConstraints, Connector):
    """A PostgreSQL database reached through a DSN held outside the map."""

    param = "%s"

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        super().__init__(source, root, read_only)
        what = f"source '{source.name}'"
        dsn = resolve_dsn(source.dsn_env, source.dsn_file, root, what)
        self._where = f"${source.dsn_env}" if source.dsn_env else f"the DSN file {source.dsn_file}"
        try:
            given = conninfo_to_dict(dsn)
        except Exception:  # the parser's message quotes the string, password included: never pass it on
            raise SourceError(f"{what}: the connection string in {self._where} is not a valid PostgreSQL DSN; "
                              f"write key=value pairs or a postgresql:// URI") from None
        self._secrets = sorted({dsn, *([str(given["password"])] if given.get("password") else [])}, key=len,
                               reverse=True)
        extra = {k: v for k, v in (("connect_timeout", CONNECT_TIMEOUT), ("application_name", "privacyops"))
                 if k not in given}
        try:
            self.con = psycopg.connect(dsn, autocommit=True, **extra)
        except psycopg.Error as exc:
            raise postgres_connect_error(exc, source, self._clean_all,
                                         float(given.get("connect_timeout") or CONNECT_TIMEOUT)) from None
        try:
            for sql, params in _session_settings(source, read_only, self.quote):
                self.execute(sql, params)
        except SourceError:
            self.con.close()
            raise
        self._tables: dict[str, tuple[str, str]] = {}
        self._indexes: dict[tuple[str, str], set[str]] = {}

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _clean_all(self, text: str) -> str:
        """A driver text with every secret of the DSN (the DSN itself, its password) blanked out."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        try:
            cur = self.con.execute(sql, list(params) if params else None)
            if cur.description is None:  # DELETE / UPDATE: their row count, as DuckDB answers them
                return Rows(["Count"], [(cur.rowcount,)]) if cur.rowcount >= 0 else Rows([], [])
            return Rows([d.name for d in cur.description], cur.fetchall())
        except psycopg.Error as exc:
            try:
                user, dbname = self.con.info.user, self.con.info.dbname
            except psycopg.Error:  # the connection is gone: the message says so without them
                user = dbname = None
            raise postgres_error(exc, self.source, sql, self._clean_all, user=user, dbname=dbname) from None

    def relation(self, dataset: Dataset) -> str:
        return ".".join(self.quote(part) for part in dataset.table.split("."))

    def resolve(self, dataset: Dataset) -> tuple[str, str]:
        """(schema, table) the dataset's table resolves to (through the search path when unqualified)."""
        if dataset.table not in self._tables:
            got = self.execute("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace "
                               "n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)", [self.relation(dataset)])
            if not got.rows:
                where = f"schema search path {self.source.schema}" if self.source.schema else "the search path"
                raise SourceError(f"source '{self.source.name}': table {dataset.table} (dataset {dataset.name}) "
                                  f"does not exist in database {self.con.info.dbname}"
                                  + ("" if "." in dataset.table else f" ({where})"))
            self._tables[dataset.table] = (got.rows[0][0], got.rows[0][1])
        return self._tables[dataset.table]

    def describe(self, dataset: Dataset) -> dict[str, str]:
        schema, table = self.resolve(dataset)
        rows = self.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
                            "AND table_name = %s ORDER BY ordinal_position", [schema, table]).rows
        if not rows:  # information_schema lists only the columns this role may use: none means no grant
            raise permission_denied(self.source, f"reading table {schema}.{table}", f"dataset {dataset.name}: this "
                                    f"role may read none of its columns", f"{schema}.{table}", self.con.info.user,
                                    verb="SELECT")
        return {name: dtype for name, dtype in rows}

    def index_names(self, dataset: Dataset) -> set[str]:
        """Valid indexes on the dataset's table (a failed concurrent build leaves an invalid one: not counted)."""
        try:
            schema, table = self.resolve(dataset)
        except SourceError:
            return set()
        if (schema, table) in self._indexes:
            return self._indexes[(schema, table)]
        rows = self.execute("SELECT i.relname FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = "
                            "x.indexrelid JOIN pg_catalog.pg_class t ON t.oid = x.indrelid JOIN "
                            "pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = %s AND "
                            "t.relname = %s AND x.indisvalid", [schema, table]).rows
        self._indexes[(schema, table)] = {r[0] for r in rows}
        return self._indexes[(schema, table)]

    def close(self) -> None:
        self.con.close()

    # -- dialect --------------------------------------------------------------------------------------------------
    def email_expr(self, col: str) -> str:
        return f"lower(btrim({col}))"

    def phone_key_expr(self, col: str) -> str:
        # The reversed digits are compared as a range: byte order (COLLATE "C"), whatever the database collation
        # (a linguistic collation would skip the ":" that ends the range). An index on it must say so too.
        return f"({super().phone_key_expr(col)} COLLATE \"C\")"

    def contains_expr(self, haystack: str, needle: str) -> str:
        return f"(strpos({haystack}, {needle}) > 0)"

    def regex_expr(self, col: str, pattern: str) -> str:
        return f"({col} ~ {pattern})"  # an ARE; a leading (?i) makes it case-insensitive

    def create_index(self, dataset: Dataset, name: str, expr: str) -> None:
        self._indexes.clear()
        # CONCURRENTLY: the application keeps writing while the index builds (it needs autocommit: we have it).
        # A concurrent build that failed leaves an invalid index under the name: drop it, then build again.
        self.drop_index(dataset, name)
        self.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {self.quote(name)} ON {self.relation(dataset)} "
                     f"(({expr}))")

    def drop_index(self, dataset: Dataset, name: str) -> None:
        self._indexes.clear()
        schema, _ = self.resolve(dataset)
        self.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self.quote(schema)}.{self.quote(name)}")

    # -- names: a SQL pre-filter, scored in Python exactly as DuckDB scores in SQL ----------------------------------
    def name_matches(self, dataset: Dataset, columns: Sequence[str], query: str, threshold: float,
                     limit: int = 20) -> NameMatches:
        """As base.Connector.name_matches: the rows the pre-filter lets through, scored and cut by
        names.ranked_matches. Exact matches always pass the pre-filter (they hold every word of the query); `total`
        counts the rows scoring at least `threshold` among those that pass it (module docstring)."""
        cols = [self.quote(c) for c in columns]
        not_null = " OR ".join(f"{c} IS NOT NULL" for c in cols)
        where, params = f"({not_null})", []
        pattern = names.prefilter_pattern(query, _encodable(self.con.info.encoding))
        if pattern:
            full = cols[0] if len(cols) == 1 else f"concat_ws(' ', {', '.join(cols)})"
            where += f" AND {full} ~ %s"
            params.append(pattern)
        order = f" ORDER BY {', '.join(self.quote(k) for k in dataset.primary_key)}" if dataset.primary_key else ""
        got = self.execute(f"SELECT * FROM {self.relation(dataset)} WHERE {where}{order}", params)
        idx = [got.columns.index(c) for c in columns]  # ranked_matches sorts stably: ties stay in key order
        ranked, total = names.ranked_matches(got.rows, idx, query, threshold, limit)
        return NameMatches(Rows(got.columns + [SCORE], [tuple(row) + (score,) for score, row in ranked]), total)
