"""Name search over the lookup index's distinct spellings: which spellings a name query returns the rows of.

A names table of the index (lookup_entries.names_sql) holds every distinct spelling of a dataset's name columns,
how many rows bear it and their keys. A query scores these few thousand spellings with the source's own score
SQL instead of every row: the score depends on the spelling alone.
"""

from __future__ import annotations

from typing import Any, Sequence

import duckdb

from ..map import Dataset
from ..sources import SCORE, Connector, names
from ..sources.queries import NameQueries
from .lookup_entries import NAME_COUNT, NAME_ROWS


class _Spellings(NameQueries):
    """The source's name scoring (its dialect hooks) over a names table of the index instead of the source table."""

    param = "?"

    def __init__(self, source: Connector, relation: str):
        self._source = source
        self._relation = relation

    def relation(self, dataset: Dataset) -> str:
        return self._relation

    def __getattr__(self, name: str) -> Any:  # quote, name_expr, similarity_expr, ...: the source's
        return getattr(self._source, name)


def picked_spellings(index: duckdb.DuckDBPyConnection, table: str, con: Connector, ds: Dataset,
                     columns: Sequence[str], query: str, threshold: float,
                     limit: int = 20) -> tuple[list[tuple[tuple, list[int], float]], int]:
    """The spellings in the names `table` whose rows `Connector.name_matches` returns: (the name columns' values,
    the rows of `table` listing their keys, score), and how many rows matched in all. The same score SQL (the
    source's), the same threshold, and the same rank: a spelling borne by n rows counts n times."""
    cols = ", ".join(con.quote(c) for c in columns)
    spellings = _Spellings(con, f"(SELECT {cols}, sum({NAME_COUNT}) AS {NAME_COUNT}, list(rowid) AS {NAME_ROWS} "
                                f"FROM {table} GROUP BY ALL) g")  # the keys stay behind: fetched for the few
    scored, params = spellings._name_scored_sql(ds, columns, query)
    s, n, keep = SCORE, NAME_COUNT, max(int(limit), 1)
    exact = f"({s} >= {names.EXACT})"
    ranked = (f"SELECT {cols}, {NAME_ROWS}, {s}, {exact} AS ex, sum({n}) OVER () AS total, 1 + sum({n}) OVER "
              f"(PARTITION BY {exact} ORDER BY {s} DESC RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - "
              f"sum({n}) OVER (PARTITION BY {exact}, {s}) AS rnk FROM ({scored}) x WHERE {s} >= ?")
    picked = index.execute(f"SELECT {cols}, {NAME_ROWS}, {s}, total FROM ({ranked}) r WHERE ex OR "
                           f"({'rnk <= ' + str(keep) if limit >= 1 else 'false'})", [*params, threshold]).fetchall()
    total = int(picked[0][-1]) if picked else 0
    return [(tuple(p[:-3]), list(p[-3]), float(p[-2])) for p in picked], total
