"""Northwind (Microsoft, Ms-PL licence) on PostgreSQL: the loader in data/northwind/, and plain SQL on the loaded
database for the tests' ground truth (never privacyops' own reading of it)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parents[2]
NORTHWIND = REPO / "data" / "northwind"
MAP = NORTHWIND / "privacyops.yaml"
DSN_ENV = "PRIVACYOPS_NORTHWIND_DSN"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


loader = _module(NORTHWIND / "load.py", "northwind_load")
SCRIPT = loader.script_path_default()

# Primary keys, as the script declares them (ALTER TABLE ... PRIMARY KEY).
PRIMARY_KEYS = {
    "categories": ("category_id",), "customer_customer_demo": ("customer_id", "customer_type_id"),
    "customer_demographics": ("customer_type_id",), "customers": ("customer_id",), "employees": ("employee_id",),
    "employee_territories": ("employee_id", "territory_id"), "order_details": ("order_id", "product_id"),
    "orders": ("order_id",), "products": ("product_id",), "region": ("region_id",), "shippers": ("shipper_id",),
    "suppliers": ("supplier_id",), "territories": ("territory_id",), "us_states": ("state_id",),
}


def workspace(root: Path) -> Path:
    """A workspace folder holding a copy of data/northwind/privacyops.yaml (the DSN comes from DSN_ENV)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MAP, root / "privacyops.yaml")
    return root


class SQL:
    """Ground truth: queries on the database itself, as dicts, through one connection (close it when done)."""

    def __init__(self, dsn: str):
        import psycopg
        from psycopg.rows import dict_row

        self.con = psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=10)

    def rows(self, query: str, params: Any = ()) -> list[dict[str, Any]]:
        return list(self.con.execute(query, params).fetchall())

    def column(self, query: str, params: Any = ()) -> list[Any]:
        return [next(iter(r.values())) for r in self.rows(query, params)]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def snapshot(db: SQL) -> dict[str, dict[tuple, dict[str, Any]]]:
    """Every row of every Northwind table, by primary key."""
    return {t: {tuple(r[c] for c in pk): r for r in db.rows(f'SELECT * FROM "{t}"')}
            for t, pk in PRIMARY_KEYS.items()}


def not_null_columns(db: SQL, table: str) -> set[str]:
    return set(db.column("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND "
                         "table_name = %s AND is_nullable = 'NO'", [table]))


def phone_tail(text: str, digits: int = 8) -> str:
    """The README's rule: a phone number's digits (an international 00 dropped), compared on the last N."""
    d = re.sub(r"\D", "", text)
    d = d.removeprefix("00")
    return d[-min(digits, len(d)):]


def people_with_phone(db: SQL, phone: str) -> set[str]:
    """Every person (customers.phone, employees.home_phone, suppliers.phone: the map's phone identities) whose
    number ends with the same digits, by SQL."""
    tail = phone_tail(phone)
    found = db.rows("""
        WITH people AS (
            SELECT 'customers:' || customer_id AS ref, phone AS p FROM customers
            UNION ALL SELECT 'employees:' || employee_id, home_phone FROM employees
            UNION ALL SELECT 'suppliers:' || supplier_id, phone FROM suppliers),
        digits AS (SELECT ref, regexp_replace(p, '[^0-9]', '', 'g') AS d FROM people WHERE p IS NOT NULL)
        SELECT DISTINCT ref FROM digits
        WHERE right(CASE WHEN d LIKE '00%%' THEN substr(d, 3) ELSE d END, %(n)s) = %(tail)s""",
                 {"n": len(tail), "tail": tail})
    return {r["ref"] for r in found}
