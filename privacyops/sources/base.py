"""The connector interface and the SQL every connector shares.

Values always travel as query parameters. Table and column names come only from the validated data map and are
quoted with `quote()`; the few expressions that differ between stores (normalising an e-mail or a phone number,
name similarity) are methods a connector may override.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import SourceError
from ..map import Dataset, Settings, Source

CHUNK = 1000  # values per IN list: keeps statements small on every store
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "INT", "INT2", "INT4", "INT8", "SERIAL", "BIGSERIAL")
TEXT_TYPES = ("VARCHAR", "TEXT", "CHAR", "STRING", "NVARCHAR", "CHARACTER", "BPCHAR", "CHARACTER VARYING")
DATE_TYPES = ("DATE", "TIMESTAMP", "DATETIME", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP_S",
              "TIMESTAMP_MS", "TIMESTAMP_NS")
SCORE = "_privacyops_score"
INDEX_PREFIX = "privacyops_ix_"
INDEX_VERSION = 2  # bump when an indexed expression changes: old indexes then stop counting as present
# Characters people put between the digits of a phone number (stripped before matching).
PHONE_GAP = "[^0-9A-Za-z]{0,2}"  # what may stand between two digits of a phone number written in text
PHONE_SEPARATORS = (" ", "-", "(", ")", "+", ".", "/", "\u00a0", "\t")


def index_name(dataset: Dataset, kind: str, column: str) -> str:
    """The stable name of the lookup index serving (dataset, identity kind or "ref", column)."""
    digest = hashlib.sha1(f"{dataset.table}\x00{kind}\x00{column}\x00{INDEX_VERSION}".encode()).hexdigest()[:12]
    return f"{INDEX_PREFIX}{re.sub(r'[^a-z0-9_]', '_', kind.lower())[:12]}_{digest}"


def type_family(sql_type: str) -> str:
    """Coarse type family of a store's column type: integer, text, date, number, boolean or other."""
    t = sql_type.upper().split("(")[0].strip()
    if t in INTEGER_TYPES:
        return "integer"
    if t in TEXT_TYPES or t.startswith("VARCHAR") or "CHAR" in t:
        return "text"
    if t in DATE_TYPES or t.startswith("TIMESTAMP"):
        return "date"
    if t in ("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL", "DOUBLE PRECISION"):
        return "number"
    if t in ("BOOLEAN", "BOOL"):
        return "boolean"
    return "other"


def digits_of(text: str) -> str:
    """Phone normalisation: digits only, an international 00 prefix dropped."""
    d = re.sub(r"\D", "", text or "")
    return d[2:] if d.startswith("00") else d


@dataclass
class Rows:
    """Rows returned by a connector: column names plus value tuples."""

    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


class Connector(ABC):
    """One open store. Subclasses implement `execute`, `relation` and `describe`."""

    param = "?"  # the driver's placeholder

    def __init__(self, source: Source, root: Path, read_only: bool = True):
        self.source = source
        self.root = root
        self.read_only = read_only
        self._columns: dict[str, dict[str, str]] = {}

    def database_file(self) -> Path:
        """The source's database file (relative paths: to the workspace folder); a clear error when missing."""
        path = Path(self.source.path)
        path = path if path.is_absolute() else self.root / path
        if not path.is_file():
            raise SourceError(f"source '{self.source.name}': database file {path} not found; check "
                              f"sources.{self.source.name}.path in the map (relative to the workspace folder)")
        return path

    # -- what each store provides -------------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one parameterised statement and return its rows."""

    @abstractmethod
    def relation(self, dataset: Dataset) -> str:
        """The quoted FROM target of a dataset."""

    @abstractmethod
    def describe(self, dataset: Dataset) -> dict[str, str]:
        """Live columns of a dataset: name -> store type. Raises SourceError when the table is missing."""

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def __enter__(self) -> "Connector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- dialect hooks ------------------------------------------------------------------------------------------
    @staticmethod
    def quote(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def email_expr(self, col: str) -> str:
        return f"lower(trim({col}))"

    def phone_key_expr(self, col: str) -> str:
        """A phone number's digits, reversed: "the last k digits match" becomes a prefix, i.e. a range an index
        answers. (Plain replace() calls, not a regexp: DuckDB uses expression indexes only for such forms.)"""
        expr = col
        for sep in PHONE_SEPARATORS:
            expr = f"replace({expr}, '{sep}', '')"
        return f"reverse({expr})"

    def digits_expr(self, col: str) -> str:
        return f"regexp_replace({col}, '[^0-9]', '', 'g')"

    def name_expr(self, col: str) -> str:
        return f"lower(strip_accents({col}))"

    def similarity_expr(self, a: str, b: str) -> str:
        return f"jaro_winkler_similarity({a}, {b})"

    def contains_expr(self, haystack: str, needle: str) -> str:
        return f"contains({haystack}, {needle})"

    def lower_expr(self, text: str) -> str:
        """Unicode lowercase (the exact-spelling tie-break of name similarity)."""
        return f"lower({text})"

    # -- lookup indexes (`privacyops index`) --------------------------------------------------------------------
    def can_index(self, kind: str) -> bool:
        """Whether an index may serve identity kind (or "ref"/"key") lookups in this store."""
        return True

    def create_index(self, dataset: Dataset, name: str, expr: str) -> None:
        self.execute(f"CREATE INDEX {self.quote(name)} ON {self.relation(dataset)} (({expr}))")

    def drop_index(self, dataset: Dataset, name: str) -> None:
        schema = dataset.table.split(".")[0] if "." in dataset.table else None
        qualified = f"{self.quote(schema)}.{self.quote(name)}" if schema else self.quote(name)
        self.execute(f"DROP INDEX IF EXISTS {qualified}")

    # -- operations used by lookup ------------------------------------------------------------------------------
    def columns(self, dataset: Dataset) -> dict[str, str]:
        if dataset.name not in self._columns:
            self._columns[dataset.name] = self.describe(dataset)
        return self._columns[dataset.name]

    def _placeholders(self, n: int) -> str:
        return ", ".join([self.param] * n)

    def coerce(self, dataset: Dataset, column: str, values: Iterable[Any]) -> list[Any]:
        """Values converted to the column's type; values that cannot be of that type are dropped."""
        family = type_family(self.columns(dataset).get(column, ""))
        out = []
        for v in values:
            if v is None:
                continue
            if family == "integer":
                try:
                    out.append(int(str(v).strip()))
                except ValueError:
                    continue
            elif family == "text":
                out.append(str(v))
            else:
                out.append(v)
        return list(dict.fromkeys(out))

    def select_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> Rows:
        """Rows whose `column` holds one of `values` (chunked IN lists)."""
        vals = self.coerce(dataset, column, values)
        result = Rows(list(self.columns(dataset)), [])
        for i in range(0, len(vals), CHUNK):
            part = vals[i:i + CHUNK]
            sql = (f"SELECT * FROM {self.relation(dataset)} WHERE {self.quote(column)} "
                   f"IN ({self._placeholders(len(part))})")
            got = self.execute(sql, part)
            result.columns = got.columns
            result.rows.extend(got.rows)
        return result

    def index_names(self, dataset: Dataset) -> set[str]:
        """Names of the indexes on a dataset's table (stores without indexes: none)."""
        return set()

    def _dedupe(self, dataset: Dataset, rows: Rows) -> Rows:
        seen, out = set(), []
        pk = [rows.columns.index(c) for c in dataset.primary_key if c in rows.columns]
        for r in rows.rows:
            k = tuple(r[i] for i in pk) if pk else r
            if k not in seen:
                seen.add(k)
                out.append(r)
        return Rows(rows.columns, out)

    def select_identity(self, dataset: Dataset, kind: str, columns: Sequence[str], values: Sequence[str],
                        settings: Settings) -> Rows:
        """Rows whose identity columns of `kind` match one of `values` (normalised for e-mail and phone).

        Where `privacyops index` made an index on the normalising expression, one `expression = ?` per value
        uses it; otherwise a cheap pre-filter narrows the scan before the exact comparison.
        """
        indexes = self.index_names(dataset)
        result = Rows(list(self.columns(dataset)), [])
        rel, p = self.relation(dataset), self.param

        def run(where: str, params: list[Any], keep=None) -> None:
            got = self.execute(f"SELECT * FROM {rel} WHERE {where}", params)
            result.columns = got.columns
            result.rows.extend(r for r in got.rows if keep is None or keep(dict(zip(got.columns, r))))

        for col in columns:
            q = self.quote(col)
            has_index = index_name(dataset, kind, col) in indexes
            if kind == "email":
                emails = sorted({v.strip().lower() for v in values if v and v.strip()})
                if not emails:
                    continue
                if has_index:
                    for e in emails:
                        run(f"{self.email_expr(q)} = {p}", [e])
                else:
                    where = " OR ".join(self.contains_expr(f"lower({q})", p) for _ in emails)
                    run(where, emails, keep=lambda row, c=col, es=set(emails):
                        row[c] is not None and str(row[c]).strip(" ").lower() in es)
            elif kind == "phone":
                key = self.phone_key_expr(q)
                for v in values:
                    digits = digits_of(v)
                    k = min(settings.phone_match_digits, len(digits))
                    if k < 6:
                        continue
                    tail = digits[-k:]
                    # reversed digits starting with the reversed tail: a range (":" sorts right after "9")
                    where, params = f"{key} >= {p} AND {key} < {p}", [tail[::-1], tail[::-1] + ":"]
                    if not has_index:  # the last two digits are almost never split by formatting: cheap pre-filter
                        where, params = f"{self.contains_expr(q, p)} AND {where}", [tail[-2:], *params]
                    run(where, params, keep=lambda row, c=col, t=tail:
                        row[c] is not None and digits_of(str(row[c])).endswith(t))
            else:
                family = type_family(self.columns(dataset).get(col, ""))
                vals = self.coerce(dataset, col, [v.strip() for v in values])
                if not vals:
                    continue
                target = q if family in ("integer", "text") else f"CAST({q} AS VARCHAR)"
                run(f"{target} IN ({self._placeholders(len(vals))})",
                    vals if family in ("integer", "text") else [str(v) for v in vals])
        return self._dedupe(dataset, result)

    def name_candidates(self, dataset: Dataset, columns: Sequence[str], query: str, threshold: float,
                        limit: int = 20) -> Rows:
        """Rows whose name resembles `query`, best first, with a similarity score column.

        Several name columns are scored one by one and joined (a name split into first/last), and in any word
        order ("Berzins Janis"). Accent- and case-blind similarity decides; the exact spelling breaks ties, so
        "Jānis Bērziņš" ranks the person spelled that way first and the ASCII variant right after.
        """
        cols = [self.quote(c) for c in columns]
        exprs = cols if len(cols) == 1 else [f"concat_ws(' ', {', '.join(cols)})", *cols]
        p = self.param
        parts, params = [], []
        for e in exprs:
            norm, qn = self.name_expr(e), self.name_expr(p)
            parts.append(f"{self.similarity_expr(norm, qn)}")
            parts.append(f"CASE WHEN {self.contains_expr(norm, qn)} THEN 0.9 ELSE 0 END")
            parts.append(f"{self.similarity_expr(self.sorted_words_expr(norm), self.sorted_words_expr(qn))}")
            params += [query, query, query]
        full = exprs[0]
        score = (f"(0.97 * greatest({', '.join(parts)}) + 0.03 * "
                 f"{self.similarity_expr(self.lower_expr(full), self.lower_expr(p))})")
        params.append(query)
        not_null = " OR ".join(f"{c} IS NOT NULL" for c in cols)
        sql = (f"SELECT * FROM (SELECT *, {score} AS {SCORE} FROM {self.relation(dataset)} "
               f"WHERE {not_null}) t WHERE {SCORE} >= {p} ORDER BY {SCORE} DESC LIMIT {int(limit)}")
        return self.execute(sql, params + [threshold])

    def sorted_words_expr(self, text: str) -> str:
        return f"array_to_string(list_sort(string_split({text}, ' ')), ' ')"

    def select_mentions(self, dataset: Dataset, fields: Sequence[str], emails: Sequence[str],
                        phones: Sequence[str], limit: int = 500) -> Rows:
        """Rows whose free-text fields mention one of the e-mails (any case) or phone numbers (digits, with any
        separators between them). One scan per dataset; cheap pre-filters ("@", the last two digits) keep the
        regular expressions off most rows."""
        conds, params = [], []
        email_re = "(?i)" + "|".join(re.escape(e) for e in emails) if emails else None
        for f in fields:
            q = self.quote(f)
            if email_re:
                conds.append(f"({self.contains_expr(q, self.param)} AND {self.regex_expr(q, self.param)})")
                params += ["@", email_re]
            for ph in phones:
                conds.append(f"({self.contains_expr(q, self.param)} AND {self.regex_expr(q, self.param)})")
                params += [ph[-2:], PHONE_GAP.join(ph)]
        if not conds:
            return Rows(list(self.columns(dataset)), [])
        sql = f"SELECT * FROM {self.relation(dataset)} WHERE {' OR '.join(conds)} LIMIT {int(limit)}"
        return self.execute(sql, params)

    def regex_expr(self, col: str, pattern: str) -> str:
        return f"regexp_matches({col}, {pattern})"

    def count(self, dataset: Dataset) -> int:
        return int(self.execute(f"SELECT count(*) FROM {self.relation(dataset)}").rows[0][0])

    # -- writes (rectification, erasure) ------------------------------------------------------------------------
    # Every write goes through these three operations, inside `transaction()`: one transaction per source, so a
    # failure leaves each source fully changed or untouched. Values are parameters; columns come from the map.

    def _require_writable(self) -> None:
        if self.read_only:
            raise SourceError(f"source '{self.source.name}' was opened read-only; open it for writing "
                              f"(Workspace.writer) to change data")

    @contextmanager
    def transaction(self) -> Iterator["Connector"]:
        """Writes inside commit together at the end, or not at all if anything raises."""
        self._require_writable()
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def begin(self) -> None:
        self.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def _count_of(self, rows: Rows) -> int:
        return int(rows.rows[0][0]) if rows.rows and rows.rows[0] and rows.rows[0][0] is not None else 0

    def delete_in(self, dataset: Dataset, column: str, values: Iterable[Any]) -> int:
        """Delete the rows whose `column` holds one of `values`; returns how many."""
        self._require_writable()
        vals, n = self.coerce(dataset, column, values), 0
        for i in range(0, len(vals), CHUNK):
            part = vals[i:i + CHUNK]
            n += self._count_of(self.execute(
                f"DELETE FROM {self.relation(dataset)} WHERE {self.quote(column)} "
                f"IN ({self._placeholders(len(part))})", part))
        return n

    def update_in(self, dataset: Dataset, column: str, values: Iterable[Any], assignments: dict[str, Any]) -> int:
        """Set the same values (`assignments`: column -> value) on the rows whose `column` is in `values`."""
        self._require_writable()
        if not assignments:
            return 0
        sets = ", ".join(f"{self.quote(c)} = {self.param}" for c in assignments)
        vals, n = self.coerce(dataset, column, values), 0
        for i in range(0, len(vals), CHUNK):
            part = vals[i:i + CHUNK]
            n += self._count_of(self.execute(
                f"UPDATE {self.relation(dataset)} SET {sets} WHERE {self.quote(column)} "
                f"IN ({self._placeholders(len(part))})", [*assignments.values(), *part]))
        return n

    def update_rows(self, dataset: Dataset, key: str, changes: Sequence[tuple[Any, dict[str, Any]]]) -> int:
        """Per-row values: `changes` is [(key value, {column: new value})]. Rows with the same set of columns are
        updated together."""
        self._require_writable()
        groups: dict[tuple[str, ...], list[tuple[Any, dict[str, Any]]]] = {}
        for k, cols in changes:
            groups.setdefault(tuple(sorted(cols)), []).append((k, cols))
        n = 0
        for cols, items in groups.items():  # the generic form: one statement per row
            sets = ", ".join(f"{self.quote(c)} = {self.param}" for c in cols)
            sql = f"UPDATE {self.relation(dataset)} SET {sets} WHERE {self.quote(key)} = {self.param}"
            for k, values in items:
                n += self._count_of(self.execute(sql, [*(values[c] for c in cols), k]))
        return n
