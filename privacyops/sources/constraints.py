"""What a store declares about a table beyond its column types: foreign keys, column constraints, triggers.

Erasure needs the store's own word on references: a row that an enforced foreign key still needs cannot be deleted,
an `ON DELETE CASCADE` takes other rows with it, a `SET NULL` changes them, a deferred key is only checked at
commit, a NOT NULL or CHECK column refuses some masked values, a generated column cannot be written at all, and a
trigger may write (`last_update = now()`) where privacyops did not. `check` compares the same facts with the map.

Every connector answers through the methods of `StoreConstraints` (this module's defaults: a store that declares
nothing, such as a folder of Parquet files). The store-specific readers live beside their connectors
(`pg_constraints`, `sqlite_constraints`, `duckdb_constraints`); they read the catalog, never guess from names.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..map import Dataset
from .types import type_family

# What happens to referencing rows when the referenced row is deleted (SQL's referential actions).
NO_ACTION, RESTRICT, CASCADE, SET_NULL, SET_DEFAULT = "no action", "restrict", "cascade", "set null", "set default"
REFERENTIAL_ACTIONS = (NO_ACTION, RESTRICT, CASCADE, SET_NULL, SET_DEFAULT)
# Where a constraint or trigger is declared, seen from the dataset's table.
TABLE = "table"  # on the dataset's table itself
PARTITION = "partition"  # on a partition of it (PostgreSQL declarative partitioning)
INHERITANCE_CHILD = "inheritance child"  # on a table inheriting from it (PostgreSQL INHERITS)
PARENT = "parent"  # on the partitioned table the dataset's table is a partition of (it applies to the partition)
# What kind of table a foreign key points at.
PARTITIONED_TABLE = "partitioned table"
STORED, VIRTUAL = "stored", "virtual"  # how a generated column keeps its value


def qualified(schema: str | None, table: str) -> str:
    """`schema.table`, or the table alone in a store without schemas (the form `ForeignKey` names tables in)."""
    return f"{schema}.{table}" if schema else table


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key the store declares (and so enforces, where the store enforces keys at all).

    `columns` of `schema.table` hold values of `ref_columns` of `ref_schema.ref_table`. `table` is where the key is
    declared: the dataset's table, a partition or inheritance child of it, or the partitioned table the dataset's
    table is a partition of (`declared_on` says which). A key declared only on partitions still binds the rows a
    lookup reads through the partitioned table, so it counts for the dataset. Names are the catalog's, unquoted.
    """

    name: str | None
    schema: str | None  # None: the store has no schemas (SQLite)
    table: str
    columns: tuple[str, ...]
    ref_schema: str | None  # None: no schema (SQLite), or the store does not name one (DuckDB: always `schema`)
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str = NO_ACTION  # one of REFERENTIAL_ACTIONS
    on_update: str = NO_ACTION
    deferrable: bool = False
    initially_deferred: bool = False  # checked at commit, not after each statement
    declared_on: str = TABLE  # TABLE | PARTITION | INHERITANCE_CHILD | PARENT
    ref_kind: str = TABLE  # TABLE | PARTITIONED_TABLE | PARTITION | INHERITANCE_CHILD
    ref_ancestors: tuple[str, ...] = ()  # the referenced table's parents (partitioned or inherited), nearest first
    validated: bool = True  # PostgreSQL NOT VALID: existing rows were never checked (new ones are)

    @property
    def declared_in(self) -> str:
        """The table the key is declared on, qualified."""
        return qualified(self.schema, self.table)

    @property
    def referenced(self) -> str:
        """The referenced table, qualified as the catalog names it."""
        return qualified(self.ref_schema, self.ref_table)

    @property
    def column(self) -> str:
        """The referencing column of a single-column key (a map reference is one column)."""
        if len(self.columns) != 1:
            raise ValueError(f"foreign key {self.name} has {len(self.columns)} columns; use .columns")
        return self.columns[0]

    @property
    def ref_column(self) -> str:
        """The referenced column of a single-column key."""
        if len(self.ref_columns) != 1:
            raise ValueError(f"foreign key {self.name} has {len(self.ref_columns)} columns; use .ref_columns")
        return self.ref_columns[0]

    def pairs(self) -> list[tuple[str, str]]:
        """(referencing column, referenced column) for each column of the key."""
        return list(zip(self.columns, self.ref_columns))


@dataclass(frozen=True)
class LiveColumn:
    """A column as the store declares it: what a write must respect (NULL, length, CHECK, generated)."""

    name: str
    type: str  # the store's type name (PostgreSQL: format_type, with length and precision)
    nullable: bool = True
    default: str | None = None  # the default expression as the store writes it
    generated: str | None = None  # STORED | VIRTUAL for a generated column (it cannot be written), else None
    expression: str | None = None  # a generated column's expression, where the store says
    primary_key: bool = False  # part of the primary key
    unique: bool = False  # unique on its own (a one-column primary key, UNIQUE constraint or unique index)
    checks: tuple[str, ...] = ()  # CHECK constraints the column takes part in, as the store writes them
    max_length: int | None = None  # a declared text length (VARCHAR(n))

    @property
    def family(self) -> str:
        """The coarse type family (`types.type_family`)."""
        return type_family(self.type)


@dataclass(frozen=True)
class Trigger:
    """A trigger on a table: it may write what privacyops did not (a `last_update` stamp, an audit copy)."""

    name: str
    schema: str | None
    table: str
    timing: str  # BEFORE | AFTER | INSTEAD OF
    events: tuple[str, ...]  # INSERT, UPDATE, DELETE, TRUNCATE
    level: str = "row"  # row | statement
    enabled: bool = True
    function: str | None = None  # the function it calls (PostgreSQL), qualified
    definition: str = ""  # the CREATE TRIGGER statement
    declared_on: str = TABLE  # TABLE | PARTITION | INHERITANCE_CHILD | PARENT

    @property
    def declared_in(self) -> str:
        return qualified(self.schema, self.table)


class StoreConstraints:
    """The constraint readers every connector has (a mixin of `Connector`); these defaults fit a store that declares
    nothing (files). A store that declares constraints overrides them."""

    def foreign_keys(self, dataset: Dataset) -> list[ForeignKey]:
        """The foreign keys binding the dataset's rows (declared on its table, its partitions and children)."""
        return []

    def column_info(self, dataset: Dataset) -> dict[str, LiveColumn]:
        """Each live column with what the store declares about it (here: the type alone)."""
        return {name: LiveColumn(name, dtype) for name, dtype in self.columns(dataset).items()}

    def triggers(self, dataset: Dataset) -> list[Trigger]:
        """The triggers on the dataset's table (and its partitions and children), internal ones left out."""
        return []

    def enforces_foreign_keys(self) -> bool:
        """Whether this connection enforces declared foreign keys (SQLite: only with PRAGMA foreign_keys on)."""
        return False

    def parents_of(self, table: str) -> list[str]:
        """The tables `table` is a partition or inheritance child of, nearest first (a store without: none)."""
        return []

    def points_at(self, fk: ForeignKey, dataset: Dataset) -> bool:
        """Whether `fk` references the rows of `dataset` (a table of the same store)."""
        return fk.ref_table.lower() == dataset.table.lower()


__all__ = ["CASCADE", "INHERITANCE_CHILD", "NO_ACTION", "PARENT", "PARTITION", "PARTITIONED_TABLE",
           "REFERENTIAL_ACTIONS", "RESTRICT", "SET_DEFAULT", "SET_NULL", "STORED", "TABLE", "VIRTUAL", "ForeignKey",
           "LiveColumn", "StoreConstraints", "Trigger", "qualified"]
