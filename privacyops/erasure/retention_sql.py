"""Retention end dates computed in SQL, set-based, in every store a map can name — the same dates as
`privacyops.retention` computes in Python (tests check that they agree).

A rule `keep: 5 years, from: end_of_fiscal_year(issued_at)` becomes, for each row, the last day the record is kept:
the anchor column's date, moved to the end of its month or fiscal year, plus the period (days and weeks exactly;
months and years as calendar months clamped to the month's end, 31 Jan + 1 month = 28/29 Feb). NULL anchors give
NULL (the period has not started).

Three dialects: DuckDB (DuckDB files, and Parquet/CSV read through DuckDB), PostgreSQL, SQLite. Only column names
from the validated map (quoted by the connector) and integers from the map go into the SQL text.
"""

from __future__ import annotations

from ..map import Anchor, Period, RetentionRule, Settings

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


__all__ = ["dialect_of", "date_of", "anchor_sql", "add_period_sql", "retained_until_query",
           "DUCKDB", "POSTGRES", "SQLITE"]
