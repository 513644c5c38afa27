"""DuckDB's constraints (a mixin of `DuckDBConnector`), from `duckdb_constraints()` and `information_schema`.

DuckDB checks a foreign key at once and knows no referential actions: `ON DELETE CASCADE`, `SET NULL` and `SET
DEFAULT` are refused when the table is created, `RESTRICT` is accepted and behaves as the default, and nothing is
deferrable. So every DuckDB key is `no action`, immediate. A key never leaves its schema (DuckDB refuses one that
would), which is why the catalog names the referenced table without a schema. DuckDB's catalog shows a generated
column's expression as its default; which columns are generated is read from the table's CREATE statement
(`duckdb_tables().sql`, `ddl.create_table`). DuckDB has no triggers.
"""

from __future__ import annotations

from ..map import Dataset
from . import ddl
from .constraints import VIRTUAL, ForeignKey, LiveColumn

_OF_TABLE = "database_name = current_database() AND schema_name = ? AND table_name = ?"


class DuckDBConstraints:
    """Foreign keys and columns of a DuckDB table (see the module docstring)."""

    def _schema_table(self, dataset: Dataset) -> tuple[str, str]:
        """(schema, table) of the dataset's table; an unqualified name is in the current schema."""
        self.columns(dataset)  # a missing table: the same SourceError as describe()
        parts = dataset.table.split(".")
        if len(parts) > 1:
            return parts[-2], parts[-1]
        return self.execute("SELECT current_schema()").rows[0][0], parts[0]

    def foreign_keys(self, dataset: Dataset) -> list[ForeignKey]:
        schema, table = self._schema_table(dataset)
        rows = self.execute("SELECT constraint_name, constraint_column_names, referenced_table, "
                            "referenced_column_names FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' "
                            f"AND {_OF_TABLE} ORDER BY constraint_index", [schema, table]).rows
        return [ForeignKey(name, schema, table, tuple(cols), None, ref, tuple(ref_cols))
                for name, cols, ref, ref_cols in rows]

    def column_info(self, dataset: Dataset) -> dict[str, LiveColumn]:
        schema, table = self._schema_table(dataset)
        cols = self.execute("SELECT column_name, data_type, is_nullable = 'YES', column_default, "
                            "character_maximum_length FROM information_schema.columns WHERE table_catalog = "
                            "current_database() AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                            [schema, table]).rows
        keys = self.execute("SELECT constraint_type, constraint_column_names, constraint_text FROM "
                            "duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'CHECK') "
                            f"AND {_OF_TABLE} ORDER BY constraint_index", [schema, table]).rows
        sql = self.execute(f"SELECT sql FROM duckdb_tables() WHERE {_OF_TABLE}", [schema, table]).rows
        definition = ddl.create_table(sql[0][0] if sql else "")
        out = {}
        for name, dtype, nullable, default, length in cols:
            mine = [(kind, text, len(names)) for kind, names, text in keys if name in names]
            generated = VIRTUAL if definition.columns.get(name.lower(), ddl.ColumnDef(name)).generated else None
            out[name] = LiveColumn(
                name, dtype, bool(nullable), None if generated else default, generated,
                default if generated else None, any(k == "PRIMARY KEY" for k, _, _ in mine),
                any(k in ("PRIMARY KEY", "UNIQUE") and n == 1 for k, _, n in mine),
                tuple(text for k, text, _ in mine if k == "CHECK"), int(length) if length else None)
        return out

    def enforces_foreign_keys(self) -> bool:
        return True

    def points_at(self, fk: ForeignKey, dataset: Dataset) -> bool:
        schema, table = self._schema_table(dataset)
        return ((fk.ref_schema or fk.schema or "").lower(), fk.ref_table.lower()) == (schema.lower(), table.lower())
