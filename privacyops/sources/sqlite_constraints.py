"""SQLite's constraints and triggers (a mixin of `SQLiteConnector`).

The pragmas say most of it: `foreign_key_list` (referenced table and columns, ON DELETE / ON UPDATE),
`table_xinfo` (type, NOT NULL, default, primary key, generated), `index_list` / `index_info` (unique columns).
What they leave out - whether a key is DEFERRABLE, CHECK constraints, a generated column's expression - is read
from the table's CREATE statement in `sqlite_master` (`ddl.create_table`). Triggers are `sqlite_master` rows of
type `trigger`; SQLite's are always row-level.

SQLite enforces declared foreign keys only on a connection that turned them on (`PRAGMA foreign_keys = ON`; the
default is off, per connection). Other programs writing the file usually turn it on, so a declared key counts as
enforced; privacyops' own writer turns it on too (`SQLiteConnector`), so its erasures meet the same refusals and
cascades the application's writes do. `enforces_foreign_keys()` says what this connection does.
"""

from __future__ import annotations

from ..map import Dataset
from . import ddl
from .constraints import NO_ACTION, STORED, VIRTUAL, ForeignKey, LiveColumn, Trigger

_GENERATED = {2: VIRTUAL, 3: STORED}  # pragma table_xinfo's `hidden` (1: a virtual table's hidden column)


class SQLiteConstraints:
    """Foreign keys, columns and triggers of a SQLite table (see the module docstring)."""

    def _definition(self, dataset: Dataset) -> ddl.TableDef:
        got = self.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
                           [dataset.table]).rows
        return ddl.create_table(got[0][0] if got else "")

    def _primary_key(self, table: str) -> tuple[str, ...]:
        rows = self.execute("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [table]).rows
        return tuple(r[0] for r in rows)

    def foreign_keys(self, dataset: Dataset) -> list[ForeignKey]:
        self.columns(dataset)  # a missing table: the same SourceError as describe()
        rows = self.execute('SELECT id, "table", "from", "to", on_update, on_delete FROM '
                            'pragma_foreign_key_list(?) ORDER BY id, seq', [dataset.table]).rows
        keys: dict[int, list[tuple]] = {}
        for r in rows:
            keys.setdefault(r[0], []).append(r)
        declared = {(tuple(c.lower() for c in k.columns), k.ref_table.lower()): k
                    for k in self._definition(dataset).foreign_keys}
        out = []
        for parts in keys.values():
            ref, columns = parts[0][1], tuple(p[2] for p in parts)
            ref_columns = tuple(p[3] for p in parts)
            if any(c is None for c in ref_columns):  # REFERENCES t without columns: t's primary key
                ref_columns = self._primary_key(ref)
            clause = declared.get((tuple(c.lower() for c in columns), ref.lower()))
            out.append(ForeignKey(None, None, dataset.table, columns, None, ref, ref_columns,
                                  (parts[0][5] or NO_ACTION).lower(), (parts[0][4] or NO_ACTION).lower(),
                                  bool(clause and clause.deferrable), bool(clause and clause.initially_deferred)))
        return out

    def column_info(self, dataset: Dataset) -> dict[str, LiveColumn]:
        self.columns(dataset)
        rows = self.execute('SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) '
                            'WHERE hidden <> 1 ORDER BY cid', [dataset.table]).rows
        unique = {r[0] for r in self.execute(
            'SELECT min(ii.name) FROM pragma_index_list(?) AS il JOIN pragma_index_info(il.name) AS ii '
            'WHERE il."unique" = 1 AND il.partial = 0 GROUP BY il.name HAVING count(*) = 1',
            [dataset.table]).rows if r[0] is not None}
        definition = self._definition(dataset)
        n_pk = sum(1 for r in rows if r[4])
        out = {}
        for name, dtype, notnull, default, pk, hidden in rows:
            # the rowid alias (a lone INTEGER PRIMARY KEY) and a WITHOUT ROWID table's key are never NULL; other
            # primary key columns of a rowid table may hold NULL (SQLite's long-standing quirk)
            never_null = bool(pk) and (definition.without_rowid or (n_pk == 1 and (dtype or "").upper() == "INTEGER"))
            col = definition.columns.get(name.lower(), ddl.ColumnDef(name))
            checks = list(col.checks) + [text for text, words in definition.checks if name.lower() in words]
            generated = _GENERATED.get(hidden)
            out[name] = LiveColumn(name, dtype or "", not (notnull or never_null), default, generated,
                                   col.expression if generated else None, bool(pk),
                                   name in unique or (bool(pk) and n_pk == 1), tuple(checks))
        return out

    def triggers(self, dataset: Dataset) -> list[Trigger]:
        rows = self.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND "
                            "tbl_name = ? COLLATE NOCASE ORDER BY name", [dataset.table]).rows
        out = []
        for name, table, sql in rows:
            timing, events = ddl.trigger_header(sql)
            out.append(Trigger(name, None, table, timing, events, "row", True, None, sql or ""))
        return out

    def enforces_foreign_keys(self) -> bool:
        return bool(self.execute("PRAGMA foreign_keys").rows[0][0])
