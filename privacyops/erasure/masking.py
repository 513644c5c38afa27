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

from dataclasses import dataclass, field
from typing import Any

from ..map import Dataset
from ..sources import Connector, type_family
from ..sources import ForeignKey as StoreForeignKey
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


# -- what the store allows: asked of the connector (sources.constraints), in the shapes erasure compares ---------


def column_info(con: Connector, ds: Dataset) -> dict[str, ColumnInfo]:
    """Each live column's type family, nullability and declared text length (`Connector.column_info`). A primary
    key column never takes a mask; a store that will not say is taken to allow NULL (a rejected write rolls back)."""
    types = con.columns(ds)
    try:
        live = con.column_info(ds)
    except Exception:
        live = {}
    out = {}
    for c, t in types.items():
        lc = live.get(c)
        out[c] = ColumnInfo(type_family(t), lc is None or (lc.nullable and not lc.primary_key),
                            lc.max_length if lc else None)
    return out


@dataclass(frozen=True)
class ForeignKey:
    """One column pair of a declared foreign key (`sources.ForeignKey`): `table.column` -> `ref_table.ref_column`.
    Erasure compares map references, one column each, with these; `constraint` is the whole key as the store
    declares it (where, ON DELETE, deferrable)."""

    table: str
    column: str
    ref_table: str
    ref_column: str
    constraint: StoreForeignKey | None = field(default=None, compare=False, repr=False)


def foreign_keys(con: Connector, ds: Dataset) -> list[ForeignKey]:
    """Foreign keys binding `ds`'s rows (`Connector.foreign_keys`: its table, partitions and inheritance children),
    a pair per column. SQLite's declared keys count even on a reading connection, which leaves enforcement off:
    other programs and privacyops' writer turn it on."""
    try:
        keys = con.foreign_keys(ds)
    except Exception:
        return []
    return [ForeignKey(fk.declared_in, col, fk.referenced, ref_col, fk) for fk in keys for col, ref_col in fk.pairs()]


def resolved_table(con: Connector, ds: Dataset) -> str:
    """The table name foreign keys name for `ds` (PostgreSQL: schema.table as resolved; others: the table)."""
    if con.source.kind == "postgres":
        schema, table = con.resolve(ds)
        return f"{schema}.{table}"
    return ds.table


def fk_matches(fk: ForeignKey, con: Connector, target: Dataset) -> bool:
    """Whether a foreign key points at `target`'s rows (`Connector.points_at`: its table, a partition of it, ...)."""
    if fk.constraint is not None:
        return con.points_at(fk.constraint, target)
    return fk.ref_table.lower() in (target.table.lower(), resolved_table(con, target).lower())


__all__ = ["NULL", "REDACT", "HMAC", "REDACTED", "ColumnInfo", "ForeignKey", "pseudonym", "masked_value",
           "column_info", "foreign_keys", "fk_matches", "resolved_table"]
