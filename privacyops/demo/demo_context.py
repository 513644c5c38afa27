"""The state one generation run shares between the table groups: the DuckDB connection, its SQL macros and pools,
the next id of every table, and the chunk of customer ids being generated.

Every row is produced set-based inside DuckDB: ``range()`` over customer ids, ``hash(key, salt, seed)`` (the ``h``
and ``u`` macros) for deterministic pseudo-random choices, joins to the pools by hashed index.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from .demo_people import LOCALES, Columns, people_pools
from .demo_schema import DATASETS, create_schema
from .demo_stories import STORY_CUSTOMERS, STORY_ROWS
from .demo_texts import IP_PREFIXES, text_pools

__all__ = ["BuildContext", "Chunk", "open_context", "sql_list"]


def sql_list(values: list[str]) -> str:
    """A DuckDB list literal of quoted strings, e.g. ``['a', 'b']``."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


@dataclass(frozen=True)
class Chunk:
    """One slice of customer ids ``[lo, hi)``; chunk 0 also carries the story people (ids below the bulk)."""

    number: int
    lo: int
    hi: int

    @property
    def first(self) -> bool:
        """The first chunk: the one that inserts the story rows."""
        return self.number == 0

    @property
    def bulk_lo(self) -> int:
        """The first bulk (generated, not story) customer id in this chunk."""
        return max(self.lo, STORY_CUSTOMERS + 1)


@dataclass
class BuildContext:
    """The connection and counters every table group writes through during one run."""

    con: duckdb.DuckDBPyConnection
    seed: int
    lake_dir: Path
    next_id: dict[str, int] = field(default_factory=dict)  # rows so far per table: the next chunk's id offset
    lake_rows: int = 0

    # Bijection offsets (e-mail numbers, phone digits, prospect numbers), derived from the seed (see people.MUL).
    @property
    def email_off(self) -> int:
        """Offset of the customers' e-mail numbers."""
        return (self.seed * 2_654_435_761 + 12_345) % 9_900_000

    @property
    def phone_off(self) -> int:
        """Offset of the customers' phone digits."""
        return (self.seed * 40_503 + 777) % 7_000_000

    @property
    def prospect_off(self) -> int:
        """Offset of the newsletter prospects' e-mail numbers."""
        return (self.seed * 97_531 + 4_242) % 9_900_000

    def exec(self, sql: str) -> int:
        """Run one statement; its single value (an INSERT's row count) or 0."""
        result = self.con.execute(sql).fetchone()
        return int(result[0]) if result and result[0] is not None else 0

    def load(self, name: str, columns: Columns) -> None:
        """Load a pool (columns) as the temporary table `name`."""
        table = pa.Table.from_pydict(columns)
        self.con.register("_arrow_in", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _arrow_in")
        self.con.unregister("_arrow_in")

    def insert_rows(self, table: str, rows: list[tuple]) -> None:
        """Insert literal rows (in table column order)."""
        marks = ", ".join("?" for _ in rows[0])
        self.con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)

    def insert_stories(self, table: str, rows: list[tuple] | None = None) -> None:
        """Insert the story rows of `table` (or `rows` built from them); the bulk ids continue after them."""
        rows = rows if rows is not None else STORY_ROWS[table]
        self.insert_rows(table, rows)
        self.next_id[table] = len(rows)


def open_context(con: duckdb.DuckDBPyConnection, seed: int, lake_dir: Path, primary_keys: bool) -> BuildContext:
    """Prepare an empty database for a run: the tables, the seeded SQL macros and the value pools."""
    create_schema(con, primary_keys)
    _create_macros(con, seed)
    ctx = BuildContext(con=con, seed=seed, lake_dir=lake_dir)
    # One random stream for all pools, drawn from in a fixed order (people, then texts): reordering changes
    # every generated company.
    rnd = random.Random(seed * 1_000_003 + 17)
    for name, cols in {**people_pools(seed, rnd), **text_pools(seed, rnd)}.items():
        ctx.load(name, cols)
    # agents and products are fixed reference rows with their own ids, not counted per chunk
    ctx.next_id = {ds: 0 for ds in DATASETS if ds not in ("support.agents", "catalog.products")}
    return ctx


def _create_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    con.execute(f"CREATE TEMP MACRO h(a, s) AS hash(a, s, {seed})")
    con.execute(f"CREATE TEMP MACRO h2(a, b, s) AS hash(a, b, s, {seed})")
    con.execute(f"CREATE TEMP MACRO u(a, s, n) AS (hash(a, s, {seed}) % n)::BIGINT")
    con.execute(f"CREATE TEMP MACRO u2(a, b, s, n) AS (hash(a, b, s, {seed}) % n)::BIGINT")
    # a pseudo-random timestamp in [lo, hi) (lo when the window is empty)
    con.execute("CREATE TEMP MACRO rts(x, lo, hi) AS "
                "lo + to_seconds((x % greatest(1, date_diff('second', lo, hi))::UBIGINT)::BIGINT)")
    con.execute(f"CREATE TEMP MACRO ip(a, s) AS list_element({sql_list(IP_PREFIXES)}, "
                f"1 + u(a, s, {len(IP_PREFIXES)})::INT) || '.' || u(a, s + 1, 256) || '.' || (1 + u(a, s + 2, 254))")
    con.execute("CREATE TEMP MACRO pk(c, g, i) AS (CASE c " + " ".join(
        f"WHEN '{c}' THEN {n}" for n, c in enumerate(LOCALES)) + " END) * 100000 + g * 10000 + i")
    con.execute("CREATE TEMP MACRO notice(ts) AS CASE WHEN ts < TIMESTAMP '2020-01-01' THEN 'v1.2' "
                "WHEN ts < TIMESTAMP '2023-01-01' THEN 'v2.0' ELSE 'v3.1' END")
