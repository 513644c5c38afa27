"""PostgreSQL's constraints and triggers, read from the system catalog (a mixin of `PostgresConnector`).

A dataset names one table, but its rows may live in partitions (declarative partitioning, `pg_partitioned_table`)
or inheritance children (`INHERITS`), and a lookup through the parent reads them all. So every reader walks
`pg_inherits` down from the table, recursively, and reads `pg_constraint` / `pg_trigger` for the whole tree:
Pagila-style schemas declare the payments' foreign keys only on the monthly partitions, and PostgreSQL never passes
a foreign key down to an inheritance child. A constraint PostgreSQL cloned from one already in the tree (a
partitioned table's key on each partition, a key to a partitioned table on each referenced partition:
`conparentid`) is reported once, where it was declared. When the dataset's table is itself a partition, the keys
its partitioned parent declared bind it too and are reported as declared on the `parent`.
"""

from __future__ import annotations

from ..map import Dataset
from .constraints import (
    CASCADE,
    INHERITANCE_CHILD,
    NO_ACTION,
    PARENT,
    PARTITION,
    PARTITIONED_TABLE,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    STORED,
    TABLE,
    VIRTUAL,
    ForeignKey,
    LiveColumn,
    Trigger,
    qualified,
)

ACTIONS = {"a": NO_ACTION, "r": RESTRICT, "c": CASCADE, "n": SET_NULL, "d": SET_DEFAULT}  # pg_constraint.confdeltype
GENERATED = {"s": STORED, "v": VIRTUAL}  # pg_attribute.attgenerated ('' : not generated)

# The table and every partition / inheritance child below it, at any depth (depth 0: the table itself).
_TREE = """WITH RECURSIVE tree(oid, depth) AS (
    SELECT %s::oid, 0
    UNION ALL
    SELECT i.inhrelid, t.depth + 1 FROM pg_catalog.pg_inherits i JOIN tree t ON i.inhparent = t.oid
), rels AS (SELECT oid, min(depth) AS depth FROM tree GROUP BY oid)
"""


def _names(key: str, rel: str) -> str:
    """The column names of an attnum array (`conkey` of relation `conrelid`), in the key's order."""
    return (f"ARRAY(SELECT a.attname::text FROM unnest({key}) WITH ORDINALITY AS u(num, ord) JOIN "
            f"pg_catalog.pg_attribute a ON a.attrelid = {rel} AND a.attnum = u.num ORDER BY u.ord)")


# The parents of a relation (partitioned or inherited), nearest first, as schema.table.
_ANCESTORS = """ARRAY(WITH RECURSIVE up(oid, depth) AS (
    SELECT {rel}, 0
    UNION ALL
    SELECT i.inhparent, up.depth + 1 FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid = up.oid
) SELECT an.nspname || '.' || ac.relname FROM up JOIN pg_catalog.pg_class ac ON ac.oid = up.oid
  JOIN pg_catalog.pg_namespace an ON an.oid = ac.relnamespace WHERE up.depth > 0 ORDER BY up.depth)"""

# The relation holding the constraint a clone was first declared as (following conparentid to the top).
_ORIGIN = """(WITH RECURSIVE up(oid, parent, rel) AS (
    SELECT k.oid, k.conparentid, k.conrelid
    UNION ALL
    SELECT p.oid, p.conparentid, p.conrelid FROM pg_catalog.pg_constraint p JOIN up ON p.oid = up.parent
) SELECT rel FROM up WHERE parent = 0 LIMIT 1)"""

_FOREIGN_KEYS = _TREE + f"""
SELECT k.oid, k.conparentid, k.conname::text, r.depth, c.relispartition, {_names('k.conkey', 'k.conrelid')},
       rn.nspname::text, rc.relname::text, rc.relkind::text, rc.relispartition,
       EXISTS (SELECT 1 FROM pg_catalog.pg_inherits WHERE inhrelid = rc.oid),
       {_names('k.confkey', 'k.confrelid')}, k.confdeltype::text, k.confupdtype::text, k.condeferrable,
       k.condeferred, k.convalidated, {_ANCESTORS.format(rel='k.confrelid')}, on_.nspname::text, oc.relname::text
FROM rels r
JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid AND k.contype = 'f'
JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid
JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
JOIN pg_catalog.pg_class oc ON oc.oid = {_ORIGIN}
JOIN pg_catalog.pg_namespace on_ ON on_.oid = oc.relnamespace
ORDER BY r.depth, oc.relname, k.conname
"""

_COLUMNS = """
SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull, a.attgenerated::text,
       pg_catalog.pg_get_expr(d.adbin, d.adrelid),
       CASE WHEN a.atttypid IN ('pg_catalog.varchar'::regtype, 'pg_catalog.bpchar'::regtype) AND a.atttypmod > 0
            THEN a.atttypmod - 4 END,
       EXISTS (SELECT 1 FROM pg_catalog.pg_index x WHERE x.indrelid = a.attrelid AND x.indisprimary
               AND a.attnum = ANY (x.indkey)),
       EXISTS (SELECT 1 FROM pg_catalog.pg_index x WHERE x.indrelid = a.attrelid AND x.indisunique
               AND x.indnkeyatts = 1 AND x.indkey[0] = a.attnum AND x.indexprs IS NULL AND x.indpred IS NULL),
       ARRAY(SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k
             WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND a.attnum = ANY (k.conkey) ORDER BY k.conname)
FROM pg_catalog.pg_attribute a
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_TRIGGERS = _TREE + """
SELECT t.oid, {parent}, t.tgname::text, n.nspname::text, c.relname::text, r.depth, c.relispartition, t.tgtype,
       t.tgenabled::text, pg_catalog.pg_get_triggerdef(t.oid), pn.nspname || '.' || p.proname
FROM rels r
JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
ORDER BY r.depth, c.relname, t.tgname
"""

# pg_trigger.tgtype bits (PostgreSQL's include/catalog/pg_trigger.h)
_ROW, _BEFORE, _INSERT, _DELETE, _UPDATE, _TRUNCATE, _INSTEAD = 1, 2, 4, 8, 16, 32, 64


def _declared_on(depth: int, is_partition: bool) -> str:
    if depth == 0:
        return TABLE
    return PARTITION if is_partition else INHERITANCE_CHILD


def _ref_kind(relkind: str, is_partition: bool, inherits: bool) -> str:
    if is_partition:
        return PARTITION
    if relkind == "p":
        return PARTITIONED_TABLE
    return INHERITANCE_CHILD if inherits else TABLE


def _timing(tgtype: int) -> str:
    if tgtype & _INSTEAD:
        return "INSTEAD OF"
    return "BEFORE" if tgtype & _BEFORE else "AFTER"


def _events(tgtype: int) -> tuple[str, ...]:
    bits = ((_INSERT, "INSERT"), (_UPDATE, "UPDATE"), (_DELETE, "DELETE"), (_TRUNCATE, "TRUNCATE"))
    return tuple(word for bit, word in bits if tgtype & bit)


class PostgresConstraints:
    """Foreign keys, columns and triggers of a dataset's table tree (see the module docstring)."""

    def _oid(self, dataset: Dataset) -> int:
        schema, table = self.resolve(dataset)  # a missing table: the same SourceError as describe()
        got = self.execute("SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = "
                           "c.relnamespace WHERE n.nspname = %s AND c.relname = %s", [schema, table])
        return int(got.rows[0][0])

    def foreign_keys(self, dataset: Dataset) -> list[ForeignKey]:
        rows = self.execute(_FOREIGN_KEYS, [self._oid(dataset)]).rows
        found = {r[0] for r in rows}
        out = []
        for (oid, parent, name, depth, is_part, cols, rschema, rtable, relkind, ref_part, ref_inherits, rcols,
             deltype, updtype, deferrable, deferred, validated, ancestors, oschema, otable) in rows:
            if parent and parent in found:
                continue  # a clone of a key already reported where it was declared
            declared = PARENT if parent else _declared_on(depth, is_part)
            out.append(ForeignKey(name, oschema, otable, tuple(cols), rschema, rtable, tuple(rcols),
                                  ACTIONS[deltype], ACTIONS[updtype], deferrable, deferred, declared,
                                  _ref_kind(relkind, ref_part, ref_inherits), tuple(ancestors), validated))
        return out

    def column_info(self, dataset: Dataset) -> dict[str, LiveColumn]:
        out = {}
        for name, dtype, nullable, gen, expr, length, pk, unique, checks in self.execute(
                _COLUMNS, [self._oid(dataset)]).rows:
            generated = GENERATED.get(gen or "")
            out[name] = LiveColumn(name, dtype, nullable, None if generated else expr, generated,
                                   expr if generated else None, pk, unique, tuple(checks),
                                   int(length) if length else None)
        return out

    def triggers(self, dataset: Dataset) -> list[Trigger]:
        # tgparentid (a partition's copy of its parent's trigger) exists from PostgreSQL 13
        parent = "t.tgparentid" if self.con.info.server_version >= 130000 else "0::oid"
        rows = self.execute(_TRIGGERS.format(parent=parent), [self._oid(dataset)]).rows
        found = {r[0] for r in rows}
        out = []
        for oid, parent_oid, name, schema, table, depth, is_part, tgtype, enabled, definition, function in rows:
            if parent_oid and parent_oid in found:
                continue
            declared = PARENT if parent_oid else _declared_on(depth, is_part)
            out.append(Trigger(name, schema, table, _timing(tgtype), _events(tgtype),
                               "row" if tgtype & _ROW else "statement", enabled != "D", function, definition,
                               declared))
        return out

    def enforces_foreign_keys(self) -> bool:
        return True

    def points_at(self, fk: ForeignKey, dataset: Dataset) -> bool:
        """The key references the dataset's table, one of its partitions or children (their rows are the
        dataset's), or the partitioned table the dataset's table is a partition of (the key covers it)."""
        target = qualified(*self.resolve(dataset))
        if fk.referenced == target or target in fk.ref_ancestors:
            return True
        return fk.ref_kind == PARTITIONED_TABLE and fk.referenced in self._ancestors(dataset)

    def parents_of(self, table: str) -> list[str]:
        """The tables `table` (`schema.table`) is a partition or inheritance child of, nearest first."""
        got = self.execute(f"SELECT {_ANCESTORS.format(rel='to_regclass(%s)::oid')}", [table])
        return list(got.rows[0][0] or []) if got.rows else []

    def _ancestors(self, dataset: Dataset) -> tuple[str, ...]:
        """The partitioned (or inherited) parents of the dataset's table, nearest first; asked once per table."""
        cache: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_ancestor_cache", {})
        if dataset.table not in cache:
            got = self.execute(f"SELECT {_ANCESTORS.format(rel='%s::oid')}", [self._oid(dataset)])
            cache[dataset.table] = tuple(got.rows[0][0])
        return cache[dataset.table]
