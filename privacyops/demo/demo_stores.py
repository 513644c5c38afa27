"""The cross-store demo: the same company spread over the stores real companies use.

`privacyops demo --postgres DSN` builds the demo, then moves billing (invoices, their lines, the product catalogue)
into PostgreSQL, the newsletter list into a SQLite file (a desktop tool's), the consent log into a CSV export, and
leaves CRM, accounts, support and marketing sends in DuckDB and web analytics in Parquet. One lookup then spans five
kinds of store. The DSN is written to `keys/billing.dsn` (owner-only, git-ignored), never into the map.
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import duckdb
from tqdm.auto import tqdm

MOVES = {  # dataset -> (source name, table in that source)
    "billing.invoices": ("billing_db", "billing.invoices"),
    "billing.invoice_lines": ("billing_db", "billing.invoice_lines"),
    "catalog.products": ("billing_db", "catalog.products"),
    "marketing.newsletter_signups": ("newsletter_app", "newsletter_signups"),
    "marketing.consent_events": ("consent_exports", "consent_events.csv"),
}
SOURCES = """  billing_db:
    kind: postgres
    dsn_file: keys/billing.dsn
    location: LV
    description: Billing application database (PostgreSQL)
  newsletter_app:
    kind: sqlite
    path: newsletter.sqlite
    location: LV
    description: The newsletter tool's local database (SQLite)
  consent_exports:
    kind: csv
    path: exports
    location: LV
    description: Consent log exported nightly from the consent platform (CSV)
"""
PG_TYPES = {"BIGINT": "BIGINT", "INTEGER": "INTEGER", "VARCHAR": "TEXT", "DATE": "DATE", "TIMESTAMP": "TIMESTAMP",
            "BOOLEAN": "BOOLEAN", "DOUBLE": "DOUBLE PRECISION"}


def _pg_type(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return duck_type.replace("DECIMAL", "NUMERIC")
    return PG_TYPES.get(duck_type, "TEXT")


def distribute(workspace: Path, postgres_dsn: str, progress: bool = True) -> dict[str, str]:
    """Move the datasets in MOVES out of company.duckdb into PostgreSQL, SQLite and CSV; rewrite the map."""
    import psycopg

    ws = Path(workspace)
    company = ws / "company.duckdb"
    steps = list(MOVES.items())
    con = duckdb.connect(str(company))
    try:
        with psycopg.connect(postgres_dsn) as pg:
            for dataset, (source, table) in tqdm(steps, desc="spreading over stores", unit="dataset",
                                                 disable=not progress):
                if source == "billing_db":
                    _to_postgres(con, pg, dataset, table, ws)
                elif source == "newsletter_app":
                    _to_sqlite(con, dataset, table, ws / "newsletter.sqlite")
                else:
                    (ws / "exports").mkdir(exist_ok=True)
                    tmp = ws / "exports" / f".{table}.tmp"
                    con.execute(f"COPY {dataset} TO '{tmp}' (FORMAT csv, HEADER)")
                    os.replace(tmp, ws / "exports" / table)
                con.execute(f"DROP TABLE {dataset}")
            pg.commit()
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _write_dsn(ws, postgres_dsn)
    _rewrite_map(ws / "privacyops.yaml")
    return {d: s for d, (s, _) in MOVES.items()}


def _to_postgres(con: duckdb.DuckDBPyConnection, pg, dataset: str, table: str, ws: Path) -> None:
    schema, name = table.split(".")
    cols = con.execute(f"DESCRIBE {dataset}").fetchall()
    pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    pg.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
    pg.execute(f'CREATE TABLE "{schema}"."{name}" ('
               + ", ".join(f'"{c[0]}" {_pg_type(c[1])}' for c in cols) + ")")
    tmp = ws / f".{dataset}.csv"
    con.execute(f"COPY {dataset} TO '{tmp}' (FORMAT csv, HEADER)")
    try:
        with pg.cursor() as cur, cur.copy(f'COPY "{schema}"."{name}" FROM STDIN WITH (FORMAT csv, HEADER true)') as cp:
            with open(tmp, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
    finally:
        tmp.unlink(missing_ok=True)
    key = cols[0][0]
    pg.execute(f'ALTER TABLE "{schema}"."{name}" ADD PRIMARY KEY ("{key}")')


def _to_sqlite(con: duckdb.DuckDBPyConnection, dataset: str, table: str, path: Path) -> None:
    cols = con.execute(f"DESCRIBE {dataset}").fetchall()
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    lite = sqlite3.connect(tmp)
    try:
        lite.execute(f'CREATE TABLE "{table}" (' + ", ".join(
            f'"{c[0]}" {"INTEGER" if c[1] in ("BIGINT", "INTEGER") else "DATETIME" if c[1] == "TIMESTAMP" else "TEXT"}'
            for c in cols) + ")")
        cur = con.execute(f"SELECT * FROM {dataset} ORDER BY 1")
        while rows := cur.fetchmany(50_000):
            lite.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(cols))})',
                             [tuple(v.isoformat(sep=" ") if hasattr(v, "isoformat") else v for v in r) for r in rows])
        lite.commit()
    finally:
        lite.close()
    os.replace(tmp, path)


def _write_dsn(ws: Path, dsn: str) -> None:
    keys = ws / "keys"
    keys.mkdir(exist_ok=True)
    path = keys / "billing.dsn"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(dsn + "\n")


def _rewrite_map(map_path: Path) -> None:
    """Point the moved datasets at their new sources, keeping the map's text and comments."""
    text = map_path.read_text(encoding="utf-8")
    if "billing_db:" in text:
        return  # already spread
    text = re.sub(r"(?m)^datasets:\n", SOURCES + "\ndatasets:\n", text, count=1)
    for dataset, (source, table) in MOVES.items():
        old = f"  {dataset}:\n    source: company\n    table: {dataset}\n"
        if old not in text:
            raise ValueError(f"cannot find the source of {dataset} in {map_path}; was the demo map edited?")
        text = text.replace(old, f"  {dataset}:\n    source: {source}\n    table: {table}\n")
    map_path.write_text(text, encoding="utf-8")
