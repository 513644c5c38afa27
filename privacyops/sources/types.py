"""Types shared by every connector: rows, column type families, phone digits, index names, limits."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ..map import Dataset

CHUNK = 1000  # values per IN list: keeps statements small on every store
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "INT", "INT2", "INT4", "INT8", "SERIAL", "BIGSERIAL")
TEXT_TYPES = ("VARCHAR", "TEXT", "CHAR", "STRING", "NVARCHAR", "CHARACTER", "BPCHAR", "CHARACTER VARYING")
DATE_TYPES = ("DATE", "TIMESTAMP", "DATETIME", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP_S",
              "TIMESTAMP_MS", "TIMESTAMP_NS")
SCORE = "_privacyops_score"
INDEX_PREFIX = "privacyops_ix_"
INDEX_VERSION = 2  # bump when an indexed expression changes: old indexes then stop counting as present
# Characters people put between the digits of a phone number (stripped before matching).
PHONE_GAP = "[^0-9A-Za-z]{0,2}"  # what may stand between two digits of a phone number written in text
PHONE_SEPARATORS = (" ", "-", "(", ")", "+", ".", "/", "\u00a0", "\t")


def index_name(dataset: Dataset, kind: str, column: str) -> str:
    """The stable name of the lookup index serving (dataset, identity kind or "ref", column)."""
    digest = hashlib.sha1(f"{dataset.table}\x00{kind}\x00{column}\x00{INDEX_VERSION}".encode()).hexdigest()[:12]
    return f"{INDEX_PREFIX}{re.sub(r'[^a-z0-9_]', '_', kind.lower())[:12]}_{digest}"


def type_family(sql_type: str) -> str:
    """Coarse type family of a store's column type: integer, text, date, number, boolean or other."""
    t = sql_type.upper().split("(")[0].strip()
    if t in INTEGER_TYPES:
        return "integer"
    if t in TEXT_TYPES or t.startswith("VARCHAR") or "CHAR" in t:
        return "text"
    if t in DATE_TYPES or t.startswith("TIMESTAMP"):
        return "date"
    if t in ("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL", "DOUBLE PRECISION"):
        return "number"
    if t in ("BOOLEAN", "BOOL"):
        return "boolean"
    return "other"


def digits_of(text: str) -> str:
    """Phone normalisation: digits only, an international 00 prefix dropped."""
    d = re.sub(r"[^0-9]", "", text or "")  # ASCII digits only, as the stores' SQL compares them
    return d[2:] if d.startswith("00") else d


@dataclass
class Rows:
    """Rows returned by a connector: column names plus value tuples."""

    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)
