"""Masking: what a field holds after erasure when its row stays (`erasure.mask` in the map), and what each store
allows there.

Strategies (docs/datamap.md): `null` (the value removed), `redact` (a fixed text, `[erased]`), `hmac` (a keyed
pseudonym: the same value always gives the same pseudonym under one workspace key, so kept records still link up,
but the value cannot be read back without guessing it *and* holding the key), and a placeholder the map gives
(`{value: 1970-01-01}`) where NULL means something. Fields a rule does not keep and the map names no strategy for
get the least revealing value the column accepts: NULL where allowed, else the redaction text, else a pseudonym.

Every candidate is held to what the store declares before it is chosen, so that a plan never writes a value the
store would refuse at execution: NULL only where the column allows it, the redaction text only where it fits the
declared length, is not in a UNIQUE column (every erased row would hold the same text) and passes the column's
CHECK constraints (evaluated by the store itself on the row as the plan leaves it), a pseudonym only in full where
the column is UNIQUE, a placeholder only when it is of the column's type and range. When none fits,
`NoMaskedValue` says why each failed; the planner refuses the plan for a personal field (or one the map names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..map import Dataset
from ..sources import INHERITANCE_CHILD, PARENT, PARTITION, Connector, type_family
from ..sources import ForeignKey as StoreForeignKey
from ..workspace.check import placeholder_fit
from ..workspace.keys import keyed_hash, pseudonym_secret

NULL, REDACT, HMAC, VALUE = "null", "redact", "hmac", "value"
REDACTED = "[erased]"
PSEUDONYM_PREFIX = "ps-"
PSEUDONYM_HEX = 16  # 64 bits: unique enough to link records, short enough for VARCHAR(20) columns
MIN_PSEUDONYM_HEX = 8  # a pseudonym cut to fit a short column keeps at least this many digits (not in UNIQUE ones)
MASK_PURPOSE = "mask"
# The type each family stands for when the store does not say (a placeholder is checked against it).
_FAMILY_TYPES = {"integer": "BIGINT", "text": "TEXT", "date": "TIMESTAMP", "number": "NUMERIC", "boolean": "BOOLEAN"}

# A CHECK's refusal, given a candidate value: the check's text, or None when every check lets it pass.
CheckTest = Callable[[Any], "str | None"]


class NoMaskedValue(ValueError):
    """No value both hides the data and is accepted by the column; the message says why each candidate failed."""


@dataclass(frozen=True)
class ColumnInfo:
    """What a column accepts, as erasure needs it (from `sources.LiveColumn`)."""

    family: str  # integer, text, date, number, boolean, other (sources.base.type_family)
    nullable: bool = True
    max_length: int | None = None  # text columns with a declared length (PostgreSQL VARCHAR(n))
    unique: bool = False  # UNIQUE on its own: two erased rows may not hold the same masked value
    generated: bool = False  # computed by the store: never written
    checks: tuple[str, ...] = ()  # CHECK constraints the column takes part in, as the store writes them
    type: str = field(default="", compare=False)  # the store's type name (casts, ranges)
    store: str = field(default="", compare=False)  # the source kind (what the store holds types to)


def pseudonym(secret: bytes, value: Any) -> str:
    """The keyed pseudonym of a value (HMAC-SHA256, purpose "mask"): `ps-` and 16 hex digits. Always under the
    key's first generation: pseudonyms written into the sources keep linking across key rotations (docs/keys.md)."""
    return PSEUDONYM_PREFIX + keyed_hash(pseudonym_secret(secret), str(value), MASK_PURPOSE)[:PSEUDONYM_HEX]


def is_pseudonym(value: Any) -> bool:
    """A pseudonym, whole or cut to a column's length (masking it again changes nothing)."""
    digits = value[len(PSEUDONYM_PREFIX):] if isinstance(value, str) else ""
    return (isinstance(value, str) and value.startswith(PSEUDONYM_PREFIX)
            and MIN_PSEUDONYM_HEX <= len(digits) <= PSEUDONYM_HEX and all(c in "0123456789abcdef" for c in digits))


def _candidate(kind: str, value: Any, info: ColumnInfo, secret: bytes, test: CheckTest) -> tuple[Any, str | None]:
    """(the value of one strategy, None) or (None, why the column cannot take it)."""
    if kind == NULL:
        if not info.nullable:
            return None, "the column does not allow NULL"
        check = test(None)
        return None, (f"the store's check {check} refuses NULL" if check else None)
    if info.family != "text":
        return None, f"{kind} needs a text column"
    if kind == REDACT:
        if value == REDACTED:
            return value, None  # masked before (an earlier erasure)
        if info.unique:
            return None, f"the column is UNIQUE: {REDACTED} in every erased row would collide"
        if info.max_length is not None and len(REDACTED) > info.max_length:
            return None, f"{REDACTED} does not fit the column's {info.max_length} characters"
        check = test(REDACTED)
        return (None, f"the store's check {check} refuses {REDACTED}") if check else (REDACTED, None)
    if is_pseudonym(value):
        return value, None  # masked before (an earlier erasure): masking again changes nothing
    alias = pseudonym(secret, value)
    if info.max_length is not None and len(alias) > info.max_length:
        if info.unique or info.max_length - len(PSEUDONYM_PREFIX) < MIN_PSEUDONYM_HEX:
            return None, (f"a pseudonym ({len(alias)} characters) does not fit the column's {info.max_length}"
                          + (" (UNIQUE: it is not cut)" if info.unique else ""))
        alias = alias[:info.max_length]
    check = test(alias)
    return (None, f"the store's check {check} refuses a pseudonym") if check else (alias, None)


def _placeholder(placeholder: Any, info: ColumnInfo, test: CheckTest) -> Any:
    """The map's placeholder as written to the column, or NoMaskedValue saying why the column cannot take it."""
    if placeholder is None:
        raise NoMaskedValue("the map gives no placeholder value")
    if info.unique:
        raise NoMaskedValue(f"the column is UNIQUE: the placeholder {placeholder!r} in every erased row would "
                            f"collide; use hmac (a distinct pseudonym per value)")
    type_name = info.type or _FAMILY_TYPES.get(info.family, "")
    value, why = placeholder_fit(placeholder, type_name, info.max_length, info.store)
    if why:
        raise NoMaskedValue(f"the placeholder {placeholder!r} does not fit the column ({type_name}): {why}")
    check = test(value)
    if check:
        raise NoMaskedValue(f"the store's check {check} refuses the placeholder {placeholder!r}")
    return value


def masked_value(strategy: str | None, value: Any, info: ColumnInfo, secret: bytes, placeholder: Any = None,
                 checks: CheckTest | None = None) -> tuple[Any, str, str | None]:
    """(new value, strategy applied, note). `strategy` None: the default (NULL, else the redaction text, else a
    pseudonym); `value` (strategy VALUE): the map's `placeholder`. `checks` tells whether the store's CHECK
    constraints refuse a candidate. The note says why the store forced another strategy than the one asked for;
    when no candidate fits, NoMaskedValue says why each failed."""
    test = checks or (lambda v: None)
    if strategy == VALUE:
        return _placeholder(placeholder, info, test), VALUE, None
    if value is None and (info.nullable or strategy in (None, NULL)):
        return None, strategy or NULL, None  # nothing to mask
    order = {HMAC: (HMAC, NULL, REDACT), REDACT: (REDACT, NULL, HMAC)}.get(strategy or NULL, (NULL, REDACT, HMAC))
    reasons: list[str] = []
    for kind in order:
        got, why = _candidate(kind, value, info, secret, test)
        if why is None:
            return got, kind, "; ".join(reasons) or None
        reasons.append(why)
    raise NoMaskedValue("; ".join(reasons))


# -- CHECK constraints, evaluated by the store ----------------------------------------------------------------

_LITERAL = re.compile(r"'(?:[^']|'')*'")
_WORD = re.compile(r'"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*)')


def check_expression(check: str) -> str:
    """The boolean expression of a CHECK constraint as the store writes it (`CHECK ((a > 0)) NOT VALID`)."""
    text = re.sub(r'(?is)^\s*CONSTRAINT\s+("(?:[^"]|"")+"|\S+)\s+', "", check)
    text = re.sub(r"(?is)^\s*CHECK\s*", "", text)
    return re.sub(r"(?is)\s+NOT\s+VALID\s*$", "", text).strip()


def check_columns(check: str, columns: Iterable[str]) -> list[str]:
    """The columns (of `columns`) a check names: its words outside string literals that are column names."""
    columns = list(columns)
    lower = {c.lower(): c for c in columns}
    found: dict[str, None] = {}
    for quoted, bare in _WORD.findall(_LITERAL.sub("''", check_expression(check))):
        name = quoted.replace('""', '"') if quoted else lower.get(bare.lower())
        if name in columns:
            found[name] = None
    return list(found)


def check_refuses(con: Connector, check: str, values: dict[str, Any], types: dict[str, str]) -> bool:
    """Whether the store's CHECK refuses a row holding `values` (every column the check names): the store
    evaluates the check's own expression on them, as it will on the write. A check is refused only by FALSE (NULL
    lets it pass). The expression and type names are the store's catalog text, not the map's."""
    expr = check_expression(check)
    if con.param == "%s":
        expr = expr.replace("%", "%%")  # psycopg formats the statement: a LIKE pattern's % is not a parameter
    cast = con.source.kind in ("postgres", "duckdb")  # SQLite has no column types to cast to
    cols = [(f"CAST({con.param} AS {types[c]})" if cast and types.get(c) else con.param) + f" AS {con.quote(c)}"
            for c in values]
    sql = f"SELECT ({expr})" + (f" FROM (SELECT {', '.join(cols)}) AS privacyops_check" if cols else "")
    got = con.execute(sql, list(values.values())).rows
    verdict = got[0][0] if got and got[0] else None
    return verdict is not None and not verdict


# -- what the store allows: asked of the connector (sources.constraints), in the shapes erasure compares ---------


def column_info(con: Connector, ds: Dataset) -> dict[str, ColumnInfo]:
    """Each live column's type family, nullability, declared text length, uniqueness, generation and CHECK
    constraints (`Connector.column_info`). A primary key column never takes a mask; a store that will not say is
    taken to allow NULL (a rejected write rolls back)."""
    types = con.columns(ds)
    try:
        live = con.column_info(ds)
    except Exception:
        live = {}
    out = {}
    for c, t in types.items():
        lc = live.get(c)
        if lc is None:
            out[c] = ColumnInfo(type_family(t), type=t, store=con.source.kind)
            continue
        out[c] = ColumnInfo(type_family(t), lc.nullable and not lc.primary_key, lc.max_length,
                            lc.unique and not lc.primary_key, bool(lc.generated), tuple(lc.checks), lc.type or t,
                            con.source.kind)
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


def declared_keys(con: Connector, ds: Dataset) -> list[StoreForeignKey]:
    """The store's foreign keys declared on `ds`'s table tree, whole (several columns, ON DELETE, deferral); none
    when the store will not say."""
    try:
        return con.foreign_keys(ds)
    except Exception:
        return []


_WHERE = {PARTITION: "declared on a partition", INHERITANCE_CHILD: "declared on an inheritance child",
          PARENT: "declared on the partitioned table"}


def describe_key(fk: StoreForeignKey) -> str:
    """A foreign key in words: `payment_p2024_01_rental_id_fkey (declared on a partition)`; an unnamed key (SQLite)
    by its columns."""
    name = fk.name or (f"{fk.declared_in}({', '.join(fk.columns)}) REFERENCES "
                       f"{fk.referenced}({', '.join(fk.ref_columns)})")
    how = [_WHERE[fk.declared_on]] if fk.declared_on in _WHERE else []
    if fk.deferrable:
        how.append("deferrable, checked when the transaction commits" if fk.initially_deferred else "deferrable")
    if not fk.validated:
        how.append("NOT VALID: older rows were never checked")
    return name + (f" ({'; '.join(how)})" if how else "")


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


__all__ = ["HMAC", "NULL", "REDACT", "REDACTED", "VALUE", "ColumnInfo", "ForeignKey", "NoMaskedValue", "check_columns",
           "check_refuses", "column_info", "declared_keys", "describe_key", "fk_matches", "foreign_keys",
           "masked_value", "pseudonym", "resolved_table"]
