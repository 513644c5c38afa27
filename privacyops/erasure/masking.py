"""Masking: what a field holds after erasure when its row stays (`erasure.mask` in the map), and what each store
allows there.

Strategies (docs/datamap.md): `null` (the value removed), `redact` (a fixed text, `[erased]`), `hmac` (a keyed
pseudonym: the same value always gives the same pseudonym under one workspace key, so kept records still link up,
but the value cannot be read back without guessing it *and* holding the key). Fields a rule does not keep and the
map names no strategy for get the least revealing value the column accepts: NULL where the column allows it, else
the redaction text for text columns; a NOT NULL column of another type cannot be masked and is reported.

The store is asked what its columns allow (NULL, text length) and which foreign keys it enforces, so a plan never
writes a value the store would reject, and never deletes a row an enforced foreign key still needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..map import Dataset
from ..sources import Connector, type_family
from ..workspace.keys import keyed_hash

NULL, REDACT, HMAC = "null", "redact", "hmac"
REDACTED = "[erased]"
PSEUDONYM_PREFIX = "ps-"
PSEUDONYM_HEX = 16  # 64 bits: unique enough to link records, short enough for VARCHAR(20) columns
MASK_PURPOSE = "mask"


@dataclass(frozen=True)
class ColumnInfo:
    family: str  # integer, text, date, number, boolean, other (sources.base.type_family)
    nullable: bool = True
    max_length: int | None = None  # text columns with a declared length (PostgreSQL VARCHAR(n))


@dataclass(frozen=True)
class ForeignKey:
    """An enforced (declared) foreign key inside one store: `table.column` -> `ref_table.ref_column`."""

    table: str
    column: str
    ref_table: str
    ref_column: str


def pseudonym(secret: bytes, value: Any) -> str:
    """The keyed pseudonym of a value (HMAC-SHA256, purpose "mask"): `ps-` and 16 hex digits."""
    return PSEUDONYM_PREFIX + keyed_hash(secret, str(value), MASK_PURPOSE)[:PSEUDONYM_HEX]


def is_pseudonym(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == len(PSEUDONYM_PREFIX) + PSEUDONYM_HEX
            and value.startswith(PSEUDONYM_PREFIX) and all(c in "0123456789abcdef" for c in value[3:]))


def _fit(text: str, info: ColumnInfo) -> str:
    return text[:info.max_length] if info.max_length else text


def masked_value(strategy: str | None, value: Any, info: ColumnInfo, secret: bytes) -> tuple[Any, str, str | None]:
    """(new value, strategy applied, note). `strategy` None: the default (NULL, else redaction text). The note
    says when the store forced another strategy; a value that cannot be masked comes back unchanged with
    strategy "kept" and the reason."""
    if value is None and (info.nullable or strategy in (None, NULL)):
        return None, strategy or NULL, None  # nothing to mask
    text_ok = info.family == "text"
    if strategy == HMAC:
        if text_ok and is_pseudonym(value):
            return value, HMAC, None  # masked before (an earlier erasure): masking again changes nothing
        if text_ok:
            return _fit(pseudonym(secret, value), info), HMAC, None
        strategy = None
        note = "hmac needs a text column"
    elif strategy == REDACT:
        if text_ok:
            return _fit(REDACTED, info), REDACT, None
        strategy = None
        note = "redact needs a text column"
    elif strategy == NULL:
        note = None
    else:
        note = None
    if info.nullable:
        return None, NULL, note
    if text_ok:
        return _fit(REDACTED, info), REDACT, ((note + "; ") if note else "") + "the column does not allow NULL"
    return value, "kept", "NOT NULL and not text: cannot be masked"


# -- what the store allows --------------------------------------------------------------------------------------


def _split(table: str) -> tuple[str | None, str]:
    parts = table.split(".")
    return (parts[-2], parts[-1]) if len(parts) > 1 else (None, parts[0])


def column_info(con: Connector, ds: Dataset) -> dict[str, ColumnInfo]:
    """Each live column's type family, nullability and declared text length."""
    types = con.columns(ds)
    kind = con.source.kind
    nullable: dict[str, bool] = {}
    lengths: dict[str, int | None] = {}
    try:
        if kind == "sqlite":
            for r in con.execute("SELECT name, \"notnull\", pk FROM pragma_table_info(?)", [ds.table]).rows:
                nullable[r[0]] = not (r[1] or r[2])
        elif kind == "postgres":
            schema, table = con.resolve(ds)
            rows = con.execute("SELECT column_name, is_nullable, character_maximum_length FROM "
                               "information_schema.columns WHERE table_schema = %s AND table_name = %s",
                               [schema, table]).rows
            for name, is_null, length in rows:
                nullable[name] = is_null == "YES"
                lengths[name] = int(length) if length else None
        elif kind == "duckdb":
            schema, table = _split(ds.table)
            sql = ("SELECT column_name, is_nullable, character_maximum_length FROM information_schema.columns "
                   "WHERE table_name = ?")
            params: list[Any] = [table]
            if schema:
                sql += " AND table_schema = ?"
                params.append(schema)
            for name, is_null, length in con.execute(sql, params).rows:
                nullable[name] = is_null == "YES"
                lengths[name] = int(length) if length else None
    except Exception:  # a store that will not say: assume NULL is allowed (a rejected write rolls back)
        nullable = {}
    return {c: ColumnInfo(type_family(t), nullable.get(c, True), lengths.get(c)) for c, t in types.items()}


def foreign_keys(con: Connector, ds: Dataset) -> list[ForeignKey]:
    """Foreign keys declared on `ds`'s table (the store enforces them: a referenced row cannot be deleted).
    SQLite's declared keys count even though Python's sqlite3 leaves enforcement off: other programs turn it on."""
    kind = con.source.kind
    out: list[ForeignKey] = []
    try:
        if kind == "sqlite":
            for r in con.execute("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?)",
                                 [ds.table]).rows:
                out.append(ForeignKey(ds.table, r[1], r[0], r[2] or ""))
        elif kind == "postgres":
            schema, table = con.resolve(ds)
            rows = con.execute(
                "SELECT a.attname, rn.nspname, rc.relname, ra.attname FROM pg_catalog.pg_constraint k "
                "JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = "
                "c.relnamespace JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid JOIN pg_catalog.pg_namespace rn "
                "ON rn.oid = rc.relnamespace CROSS JOIN LATERAL unnest(k.conkey, k.confkey) AS u(col, rcol) "
                "JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.col "
                "JOIN pg_catalog.pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = u.rcol "
                "WHERE k.contype = 'f' AND n.nspname = %s AND c.relname = %s", [schema, table]).rows
            for col, rschema, rtable, rcol in rows:
                out.append(ForeignKey(f"{schema}.{table}", col, f"{rschema}.{rtable}", rcol))
        elif kind == "duckdb":
            schema, table = _split(ds.table)
            sql = ("SELECT constraint_column_names, referenced_table, referenced_column_names FROM "
                   "duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' AND table_name = ?")
            params: list[Any] = [table]
            if schema:
                sql += " AND schema_name = ?"
                params.append(schema)
            for cols, rtable, rcols in con.execute(sql, params).rows:
                for col, rcol in zip(cols, rcols):
                    out.append(ForeignKey(ds.table, col, rtable, rcol))
    except Exception:
        return []
    return out


def resolved_table(con: Connector, ds: Dataset) -> str:
    """The table name foreign keys name for `ds` (PostgreSQL: schema.table as resolved; others: the table)."""
    if con.source.kind == "postgres":
        schema, table = con.resolve(ds)
        return f"{schema}.{table}"
    return ds.table


def fk_matches(fk: ForeignKey, con: Connector, target: Dataset) -> bool:
    """Whether a foreign key points at `target`'s table."""
    if con.source.kind == "postgres":
        return fk.ref_table == resolved_table(con, target)
    if con.source.kind == "duckdb":
        return fk.ref_table == _split(target.table)[1]
    return fk.ref_table.lower() == target.table.lower()


__all__ = ["NULL", "REDACT", "HMAC", "REDACTED", "ColumnInfo", "ForeignKey", "pseudonym", "masked_value",
           "column_info", "foreign_keys", "fk_matches", "resolved_table"]
