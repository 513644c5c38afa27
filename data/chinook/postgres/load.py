"""Load the public Chinook PostgreSQL script into a database you name (for data/chinook/postgres/privacyops.yaml).

Chinook_PostgreSql.sql (https://github.com/lerocha/chinook-database, Luis Rocha, MIT licence) begins with
`DROP DATABASE IF EXISTS chinook; CREATE DATABASE chinook; \\c chinook`. This script runs only what follows that
`\\c` line, with psql (ON_ERROR_STOP, one transaction), into the database the DSN names: it never drops or creates a
database, so pointing it at a shared server is safe. The database should be empty.

    python data/chinook/postgres/load.py DSN        # e.g. "host=localhost dbname=chinook_test"
    python data/chinook/postgres/load.py            # DSN from $PRIVACYOPS_CHINOOK_DSN

The script: `CHINOOK_POSTGRES_SQL`, else data/external/chinook/Chinook_PostgreSql.sql (a copy kept in the repository).
The password (if the DSN has one) reaches psql through PGPASSWORD, not its command line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEFAULT_SCRIPT = REPO / "data" / "external" / "chinook" / "Chinook_PostgreSql.sql"
DSN_ENV = "PRIVACYOPS_CHINOOK_DSN"
_CONNECT_LINE = re.compile(r"^\s*\\c(onnect)?\s+chinook\s*;?\s*$", re.M)


def script_path_default() -> Path:
    env = os.environ.get("CHINOOK_POSTGRES_SQL")
    return Path(env) if env else DEFAULT_SCRIPT


def script_body(text: str) -> str:
    """The part of the public script after `\\c chinook` (tables, rows, keys, indexes)."""
    m = _CONNECT_LINE.search(text)
    if not m:
        raise ValueError("no '\\c chinook' line in the script: is this Chinook_PostgreSql.sql?")
    body = text[m.end():]
    if re.search(r"^\s*\\", body, re.M):
        raise ValueError("the script has psql meta-commands after '\\c chinook'; refusing to guess what they do")
    return body


def load(dsn: str, script: Path | None = None, psql: str | None = None, timeout: float = 300) -> None:
    """Run the Chinook script (without its DROP/CREATE DATABASE) into the database `dsn` names."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    script = Path(script) if script else script_path_default()
    if not script.is_file():
        raise FileNotFoundError(f"Chinook PostgreSQL script not found: {script} (set CHINOOK_POSTGRES_SQL)")
    exe = psql or shutil.which("psql")
    if not exe:
        raise FileNotFoundError("psql not found; install Debian's postgresql-client")
    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    env = {**os.environ, **({"PGPASSWORD": str(password)} if password else {})}
    with tempfile.NamedTemporaryFile("w", suffix=".sql", encoding="utf-8", delete=False) as tmp:
        tmp.write(script_body(script.read_text(encoding="utf-8")))
    try:
        proc = subprocess.run([exe, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", make_conninfo(**params),
                               "-f", tmp.name], capture_output=True, text=True, timeout=timeout, env=env)
    finally:
        os.unlink(tmp.name)
    if proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    dsn = argv[0] if argv else os.environ.get(DSN_ENV, "")
    if not dsn:
        print(f"usage: load.py DSN   (or set {DSN_ENV})", file=sys.stderr)
        return 2
    load(dsn)
    print("Loaded Chinook.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
