"""Connectors: one small interface over every kind of store a data map can name.

`open_source(source, root)` returns a connector for a `datamap.Source`; the registry maps source kinds to classes so
new kinds (PostgreSQL, SQLite) plug in without touching the callers.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SourceError
from ..map.model import Source
from . import errors as store_errors
from .base import Connector
from .constraints import (
    CASCADE,
    INHERITANCE_CHILD,
    NO_ACTION,
    PARENT,
    PARTITION,
    PARTITIONED_TABLE,
    REFERENTIAL_ACTIONS,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    ForeignKey,
    LiveColumn,
    Trigger,
)
from .duckdb import DuckDBConnector, FileConnector, batch_reads, connect_duckdb
from .errors import StoreError
from .secrets import resolve_dsn
from .sqlite import SQLiteConnector
from .types import CHUNK, SCORE, Rows, digits_of, index_name, type_family

CONNECTORS: dict[str, type[Connector]] = {
    "duckdb": DuckDBConnector,
    "parquet": FileConnector,
    "csv": FileConnector,
    "sqlite": SQLiteConnector,
}


def _postgres() -> type[Connector]:
    from .postgres import PostgresConnector

    return PostgresConnector


def open_source(source: Source, root: Path, read_only: bool = True) -> Connector:
    """Open the store behind `source`; paths are relative to the workspace folder `root`."""
    try:
        cls = _postgres() if source.kind == "postgres" else CONNECTORS[source.kind]
    except KeyError:
        raise SourceError(
            f"source '{source.name}': no connector for kind '{source.kind}'; "
            f"available: {', '.join(sorted([*CONNECTORS, 'postgres']))}"
        ) from None
    return cls(source, Path(root), read_only=read_only)


__all__ = [
    "CASCADE",
    "CHUNK",
    "CONNECTORS",
    "INHERITANCE_CHILD",
    "NO_ACTION",
    "PARENT",
    "PARTITION",
    "PARTITIONED_TABLE",
    "REFERENTIAL_ACTIONS",
    "RESTRICT",
    "SCORE",
    "SET_DEFAULT",
    "SET_NULL",
    "Connector",
    "StoreError",
    "ForeignKey",
    "LiveColumn",
    "Rows",
    "Trigger",
    "batch_reads",
    "connect_duckdb",
    "digits_of",
    "index_name",
    "open_source",
    "resolve_dsn",
    "store_errors",
    "type_family",
]
