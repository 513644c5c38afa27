"""Retention end dates computed in SQL, set-based, in every store a map can name — the same dates as
`privacyops.retention` computes in Python (tests check that they agree).

A rule `keep: 5 years, from: end_of_fiscal_year(issued_at)` becomes, for each row, the last day the record is kept:
the anchor column's date, moved to the end of its month or fiscal year, plus the period (days and weeks exactly;
months and years as calendar months clamped to the month's end, 31 Jan + 1 month = 28/29 Feb). NULL anchors give
NULL (the period has not started).

Three dialects: DuckDB (DuckDB files, and Parquet/CSV read through DuckDB), PostgreSQL, SQLite. Only column names
from the validated map (quoted by the connector) and integers from the map go into the SQL text.

An anchor through a reference (`from: member_id.left_on`) takes the date from the referenced dataset. When it lives
in the same source, the statement joins it (`rows_end_sql`: still one statement per dataset). When it lives in
another store, no join is possible: the reference values are read from the dataset's store, the referenced end
dates computed in the referenced store's SQL for chunks of CHUNK values (`_referenced_ends`), and the two put
together in Python (`end_dates`, `overdue_keys`). A referenced row that is missing counts as an empty anchor, as the
join's NULL does. Rows whose anchor is empty end NULL: not started, or — with `keep_while_empty` — kept open-ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from ..map import Anchor, Dataset, Period, Reference, RetentionRule, Settings
from ..sources import CHUNK
from ..workspace import Workspace
from .retention import AnchorError, as_date

DUCKDB, POSTGRES, SQLITE = "duckdb", "postgres", "sqlite"


def dialect_of(source_kind: str) -> str:
    if source_kind == "postgres":
        return POSTGRES
    if source_kind == "sqlite":
        return SQLITE
    return DUCKDB  # duckdb files, parquet and csv folders


def date_of(dialect: str, column: str) -> str:
    """A column's value as a date (timestamps by their date as stored)."""
    if dialect == SQLITE:
        return f"date({column})"
    return f"CAST({column} AS DATE)"


def anchor_sql(dialect: str, column: str, anchor: Anchor, settings: Settings) -> str:
    """The date the period counts from, for the quoted `column`."""
    d = date_of(dialect, column)
    if anchor.function == "end_of_month":
        if dialect == SQLITE:
            return f"date({d}, 'start of month', '+1 month', '-1 day')"
        return f"CAST(date_trunc('month', {d}) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)"
    if anchor.function == "end_of_fiscal_year":
        month, day = (int(x) for x in settings.fiscal_year_start)
        if dialect == SQLITE:
            def start(year: str) -> str:
                return f"printf('%04d-%02d-%02d', {year}, {month}, {day})"
            y = f"CAST(strftime('%Y', {d}) AS INTEGER)"
            return (f"CASE WHEN {d} IS NULL THEN NULL WHEN {d} >= {start(y)} THEN date({start(y + ' + 1')}, '-1 day') "
                    f"ELSE date({start(y)}, '-1 day') END")
        y = f"CAST(extract(year FROM {d}) AS INTEGER)"
        return (f"CASE WHEN {d} >= make_date({y}, {month}, {day}) THEN make_date({y} + 1, {month}, {day}) - 1 "
                f"ELSE make_date({y}, {month}, {day}) - 1 END")
    if anchor.function:
        raise ValueError(f"unknown anchor function {anchor.function!r}")
    return d


def add_period_sql(dialect: str, date_expr: str, period: Period) -> str:
    """`date_expr` (a date) + `period`, as a date."""
    n = int(period.amount)
    if period.unit in ("days", "weeks"):
        days = n * (7 if period.unit == "weeks" else 1)
        return f"date({date_expr}, '+{days} days')" if dialect == SQLITE else f"({date_expr} + {days})"
    months = n * (12 if period.unit == "years" else 1)
    if period.unit not in ("months", "years"):
        raise ValueError(f"unknown period unit {period.unit!r}")
    if dialect == SQLITE:  # SQLite's '+N months' overflows into the next month: clamp to the month's last day
        return (f"min(date({date_expr}, 'start of month', '+{months} months', '+' || "
                f"(CAST(strftime('%d', {date_expr}) AS INTEGER) - 1) || ' days'), "
                f"date({date_expr}, 'start of month', '+{months + 1} months', '-1 day'))")
    return f"CAST({date_expr} + INTERVAL '{months} months' AS DATE)"


def retained_until_query(dialect: str, relation: str, column: str, rule: RetentionRule, settings: Settings,
                         where: str = "") -> str:
    """`SELECT e, n`: how many rows are kept through each last day `e` (NULL: the period has not started)."""
    inner = f"SELECT {anchor_sql(dialect, column, rule.anchor, settings)} AS a FROM {relation}"
    if where:
        inner += f" WHERE {where}"
    return (f"SELECT e, count(*) AS n FROM (SELECT {add_period_sql(dialect, 'a', rule.keep)} AS e "
            f"FROM ({inner}) t1) t2 GROUP BY e")


# ---------------------------------------------------------------------------------------------------------------
# A dataset's end dates in its store, the anchor through a reference included.


def _in(con, n: int) -> str:
    return ", ".join([con.param] * n)


def via_reference(ws: Workspace, ds: Dataset) -> tuple[Reference, Dataset] | None:
    """(reference, referenced dataset) of `ds`'s rule anchored through a reference; None for a rule that counts
    from a column of `ds` itself (the map's validation guarantees the reference exists)."""
    dm = ws.datamap
    rule = dm.retention[ds.retention]
    if rule.anchor.via is None:
        return None
    ref = ds.reference(rule.anchor.via)
    return ref, dm.datasets[ref.to_dataset]


def referenced_anchors(con, parent: Dataset, column: str, field: str, values: Iterable[Any]) -> dict[str, Any]:
    """{value as text: anchor value} of the `parent` rows whose `column` holds one of `values`, read raw (the caller
    computes the dates, `retention.retained_until`): one statement per CHUNK distinct values. Several rows with the
    same value (a reference to a column that is not a key) give the latest date, as the join's max() does."""
    vals = con.coerce(parent, column, values)
    out: dict[str, Any] = {}
    for i in range(0, len(vals), CHUNK):
        part = vals[i:i + CHUNK]
        sql = (f"SELECT {con.quote(column)}, {con.quote(field)} FROM {con.relation(parent)} "
               f"WHERE {con.quote(column)} IN ({_in(con, len(part))})")
        for value, anchor in con.execute(sql, part).rows:
            key = str(value)
            if key not in out or _later(anchor, out[key]):
                out[key] = anchor
    return out


def _later(new: Any, old: Any) -> bool:
    """Whether `new` is a later anchor than `old`; an unreadable one wins, so that the decision reports it."""
    try:
        a, b = as_date(new), as_date(old)
    except AnchorError:
        return True
    return b is None or (a is not None and a > b)


def rows_end_sql(ws: Workspace, ds: Dataset, keys: Sequence[str] = ()) -> str | None:
    """`SELECT <keys>, e FROM ...`: each row's last day kept (NULL: the anchor is empty), in the dataset's store.
    An anchor through a reference LEFT JOINs the referenced dataset (grouped on the referenced column, so a row
    never counts twice) when it is in the same source; None when it is in another store (see `end_dates`)."""
    dm = ws.datamap
    rule = dm.retention[ds.retention]
    con = ws.connector(ds.source)
    dialect, q = dialect_of(dm.sources[ds.source].kind), con.quote
    via = via_reference(ws, ds)
    if via is None:
        src, date_col = f"{con.relation(ds)} t", f"t.{q(rule.anchor.field)}"
    else:
        ref, parent = via
        if parent.source != ds.source:
            return None
        k = q(ref.to_column)
        src = (f"{con.relation(ds)} t LEFT JOIN (SELECT {k} AS k, max({date_of(dialect, q(rule.anchor.field))}) "
               f"AS f FROM {con.relation(parent)} GROUP BY {k}) p ON t.{q(ref.column)} = p.k")
        date_col = "p.f"
    inner = "".join(f"t.{q(c)}, " for c in keys) + f"{anchor_sql(dialect, date_col, rule.anchor, dm.settings)} AS a"
    return (f"SELECT {''.join(f'{q(c)}, ' for c in keys)}{add_period_sql(dialect, 'a', rule.keep)} AS e "
            f"FROM (SELECT {inner} FROM {src}) t1")


def _referenced_ends(ws: Workspace, ds: Dataset, values: Iterable[Any]) -> dict[str, dt.date | None]:
    """{reference value as text: last day kept} for `values` of `ds`'s reference column, computed in the referenced
    dataset's own store (another store than `ds`'s): one grouped statement per CHUNK values."""
    dm = ws.datamap
    rule = dm.retention[ds.retention]
    ref, parent = via_reference(ws, ds)
    con = ws.connector(parent.source)
    dialect, k = dialect_of(dm.sources[parent.source].kind), con.quote(ref.to_column)
    end = add_period_sql(dialect, anchor_sql(dialect, "f", rule.anchor, dm.settings), rule.keep)
    vals = con.coerce(parent, ref.to_column, values)
    out: dict[str, dt.date | None] = {}
    for i in range(0, len(vals), CHUNK):
        part = vals[i:i + CHUNK]
        sql = (f"SELECT k, {end} AS e FROM (SELECT {k} AS k, max({date_of(dialect, con.quote(rule.anchor.field))}) "
               f"AS f FROM {con.relation(parent)} WHERE {k} IN ({_in(con, len(part))}) GROUP BY {k}) p")
        out.update((str(v), as_date(e)) for v, e in con.execute(sql, part).rows)
    return out


def end_dates(ws: Workspace, ds: Dataset) -> dict[dt.date | None, int]:
    """{last day kept: records} for one dataset with a rule (None: the anchor is empty). One grouped statement in
    the dataset's store (the referenced dataset joined when it is in the same source); a referenced dataset in
    another store: the records counted per reference value, then the referenced end dates fetched in chunks."""
    con = ws.connector(ds.source)
    sql = rows_end_sql(ws, ds)
    if sql is not None:
        return {as_date(e): int(n) for e, n in con.execute(f"SELECT e, count(*) AS n FROM ({sql}) t2 GROUP BY e").rows}
    via = con.quote(via_reference(ws, ds)[0].column)
    counts = con.execute(f"SELECT {via}, count(*) FROM {con.relation(ds)} GROUP BY {via}").rows
    ends = _referenced_ends(ws, ds, [v for v, _ in counts if v is not None])
    out: dict[dt.date | None, int] = {}
    for value, n in counts:
        end = None if value is None else ends.get(str(value))
        out[end] = out.get(end, 0) + int(n)
    return out


def overdue_keys(ws: Workspace, ds: Dataset, as_of: dt.date, limit: int | None = None) -> list[tuple]:
    """Primary keys of the records whose rule ended before `as_of` (last day kept < as_of), oldest end first, then
    by key; at most `limit`. Selected in the dataset's store (joined as in `rows_end_sql`); a referenced dataset in
    another store: its ended reference values are computed there in chunks, then the rows holding them are read in
    chunks. An empty anchor (NULL end) is never overdue."""
    dm = ws.datamap
    con = ws.connector(ds.source)
    dialect = dialect_of(dm.sources[ds.source].kind)
    keys = ", ".join(con.quote(c) for c in ds.primary_key)
    sql = rows_end_sql(ws, ds, ds.primary_key)
    if sql is not None:
        got = con.execute(f"SELECT {keys} FROM ({sql}) t2 WHERE e < {con.param} ORDER BY e, {keys}"
                          + (f" LIMIT {int(limit)}" if limit is not None else ""),
                          [as_of.isoformat() if dialect == SQLITE else as_of])
        return [tuple(r) for r in got.rows]
    via = con.quote(via_reference(ws, ds)[0].column)
    values = [v for (v,) in con.execute(f"SELECT DISTINCT {via} FROM {con.relation(ds)} WHERE {via} IS NOT NULL").rows]
    ends = _referenced_ends(ws, ds, values)
    late = [v for v in values if ends.get(str(v)) is not None and ends[str(v)] < as_of]
    found: list[tuple[dt.date, tuple]] = []
    for i in range(0, len(late), CHUNK):
        part = late[i:i + CHUNK]
        rows = con.execute(f"SELECT {keys}, {via} FROM {con.relation(ds)} WHERE {via} IN ({_in(con, len(part))})",
                           part).rows
        found += [(ends[str(r[-1])], tuple(r[:-1])) for r in rows]
    found.sort()
    return [k for _, k in (found if limit is None else found[:limit])]


__all__ = ["dialect_of", "date_of", "anchor_sql", "add_period_sql", "retained_until_query", "rows_end_sql",
           "end_dates", "overdue_keys", "referenced_anchors", "via_reference", "DUCKDB", "POSTGRES", "SQLITE"]
