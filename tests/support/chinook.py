"""Chinook (Luis Rocha, MIT licence): the builders in data/chinook/ for DuckDB, SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHINOOK = REPO / "data" / "chinook"

DSN_ENV = "PRIVACYOPS_CHINOOK_DSN"

def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

duckdb_build = _module(CHINOOK / "build.py", "chinook_duckdb_build")

sqlite_build = _module(CHINOOK / "sqlite" / "build.py", "chinook_sqlite_build")

postgres_load = _module(CHINOOK / "postgres" / "load.py", "chinook_postgres_load")

SQLITE = sqlite_build.sqlite_path_default()

PG_SCRIPT = postgres_load.script_path_default()

def snake(name: str) -> str:
    """Chinook's SQLite names in its PostgreSQL script: CustomerId -> customer_id, InvoiceLine -> invoice_line."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
