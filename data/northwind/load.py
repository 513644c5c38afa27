"""Load Microsoft's Northwind sample database (PostgreSQL edition, Ms-PL) into a database you name (for
data/northwind/privacyops.yaml).

northwind.sql is a pg_dump-style script: session settings, `DROP TABLE IF EXISTS` for each of its 14 tables, the
tables, one INSERT per row, then the primary and foreign keys. This loader runs it statement by statement with
psycopg, in one transaction, into the database the DSN names (no psql needed; it never creates or drops a
database):

- `SET default_with_oids = false` is skipped: tables have no OIDs since PostgreSQL 12, which keeps the setting only
  to refuse `true` (a script asking for OIDs is refused here with the same words);
- the `DROP TABLE IF EXISTS` statements run only with `replace=True` (`--replace`): by default a database already
  holding one of Northwind's tables is refused, so a table of the same name elsewhere is never dropped;
- psql meta-commands (a line starting with a backslash outside a string) and `COPY ... FROM stdin` are refused: only
  psql knows what to do with them, and guessing is not loading.

    python data/northwind/load.py DSN                # e.g. "host=localhost dbname=northwind_test"
    python data/northwind/load.py                    # DSN from $PRIVACYOPS_NORTHWIND_DSN
    python data/northwind/load.py --replace DSN      # drop and reload Northwind's tables in that database

The script: `NORTHWIND_SQL`, else data/external/northwind/northwind.sql (a copy kept in the repository, with its
licence). The tables land in the connection's current schema (the first of its search path: `public` by default).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCRIPT = REPO / "data" / "external" / "northwind" / "northwind.sql"
DSN_ENV = "PRIVACYOPS_NORTHWIND_DSN"
SCRIPT_ENV = "NORTHWIND_SQL"

_OIDS = re.compile(r"^SET\s+default_with_oids\s*(=|TO)\s*'?(\w+)'?$", re.IGNORECASE)
_DROP = re.compile(r"^DROP\s+TABLE\s+IF\s+EXISTS\s+(\w+)$", re.IGNORECASE)
_CREATE = re.compile(r"^CREATE\s+TABLE\s+(\w+)\s*\(", re.IGNORECASE)
_COPY_STDIN = re.compile(r"^COPY\b.*\bFROM\s+stdin\b", re.IGNORECASE | re.DOTALL)
_INSERT = re.compile(r"^INSERT\s+INTO\s+(\w+)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    line: int  # the script line the statement starts on
    sql: str  # without comments, without the final semicolon


@dataclass
class LoadReport:
    tables: dict[str, int] = field(default_factory=dict)  # table -> rows inserted
    skipped: list[str] = field(default_factory=list)  # what was left out, and why


def script_path_default() -> Path:
    env = os.environ.get(SCRIPT_ENV)
    return Path(env) if env else DEFAULT_SCRIPT


def statements(text: str) -> list[Statement]:
    """The script's statements, split on semicolons outside strings, quoted names and comments. A psql
    meta-command (a backslash starting a line outside a string) is refused."""
    out: list[Statement] = []
    buf: list[str] = []
    i, n, line, start = 0, len(text), 1, None
    at_line_start = True
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            at_line_start = True
            buf.append(ch)
            i += 1
            continue
        if at_line_start and ch in " \t\r":
            buf.append(ch)
            i += 1
            continue
        if at_line_start and ch == "\\":
            cmd = text[i:text.find("\n", i) if "\n" in text[i:] else n].strip()
            raise ValueError(f"line {line}: psql meta-command {cmd[:40]!r}; this loader runs SQL only and refuses "
                             f"to guess what it does")
        at_line_start = False
        if text.startswith("--", i):  # a comment to the end of the line
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError(f"line {line}: unterminated /* comment")
            line += text.count("\n", i, j)
            i = j + 2
            buf.append(" ")
            continue
        if ch in "'\"":  # a string or a quoted name; a doubled quote stays inside
            j = i + 1
            while True:
                j = text.find(ch, j)
                if j < 0:
                    raise ValueError(f"line {line}: unterminated {ch} quote")
                if text.startswith(ch * 2, j):
                    j += 2
                    continue
                break
            if start is None:
                start = line
            buf.append(text[i:j + 1])
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if ch == "$":
            m = re.match(r"\$(\w*)\$", text[i:])
            if m and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
                tag = m.group(0)
                j = text.find(tag, i + len(tag))
                if j < 0:
                    raise ValueError(f"line {line}: unterminated {tag} quote")
                if start is None:
                    start = line
                buf.append(text[i:j + len(tag)])
                line += text.count("\n", i, j)
                i = j + len(tag)
                continue
        if ch == ";":
            sql = "".join(buf).strip()
            if sql:
                out.append(Statement(start or line, sql))
            buf, start = [], None
            i += 1
            continue
        if start is None and not ch.isspace():
            start = line
        buf.append(ch)
        i += 1
    rest = "".join(buf).strip()
    if rest:
        out.append(Statement(start or line, rest))
    return out


def plan(text: str, replace: bool = False) -> tuple[list[Statement], list[str], list[str]]:
    """What runs (statements), what is skipped (and why), and the tables the script creates."""
    run, skipped, tables = [], [], []
    for st in statements(text):
        flat = " ".join(st.sql.split())
        oids = _OIDS.match(flat)
        if oids:
            if oids.group(2).lower() not in ("false", "off", "0"):
                raise ValueError(f"line {st.line}: tables declared WITH OIDS are not supported (PostgreSQL 12+)")
            skipped.append(f"line {st.line}: {flat} (no table has OIDs since PostgreSQL 12)")
            continue
        if _COPY_STDIN.match(flat):
            raise ValueError(f"line {st.line}: COPY ... FROM stdin needs psql to feed the rows; refusing")
        if _DROP.match(flat) and not replace:
            skipped.append(f"line {st.line}: {flat} (only with replace)")
            continue
        create = _CREATE.match(flat)
        if create:
            tables.append(create.group(1))
        run.append(st)
    return run, skipped, tables


def load(dsn: str, script: Path | None = None, replace: bool = False) -> LoadReport:
    """Run the Northwind script into the database `dsn` names, in one transaction (nothing stays on failure)."""
    import psycopg

    script = Path(script) if script else script_path_default()
    if not script.is_file():
        raise FileNotFoundError(f"Northwind script not found: {script} (set {SCRIPT_ENV})")
    todo, skipped, tables = plan(script.read_text(encoding="utf-8"), replace)
    report = LoadReport(tables={t: 0 for t in tables}, skipped=skipped)
    with psycopg.connect(dsn, connect_timeout=10) as con, con.transaction():
        if not replace:
            present = [t for t in tables
                       if con.execute("SELECT to_regclass(%s)", [t]).fetchone()[0] is not None]
            if present:
                raise RuntimeError(f"the database already has Northwind's table(s) {', '.join(present)}; "
                                   f"load into an empty database, or pass replace=True (--replace) to drop "
                                   f"and reload them")
        for st in todo:
            try:
                cur = con.execute(st.sql, prepare=False)
            except psycopg.Error as exc:
                raise RuntimeError(f"northwind.sql line {st.line}: {type(exc).__name__}: "
                                   f"{str(exc).strip()[:500]}") from None
            ins = _INSERT.match(st.sql)
            if ins and ins.group(1) in report.tables:
                report.tables[ins.group(1)] += max(cur.rowcount, 0)
    return report


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    replace = "--replace" in argv
    args = [a for a in argv if a != "--replace"]
    dsn = args[0] if args else os.environ.get(DSN_ENV, "")
    if not dsn or len(args) > 1:
        print(f"usage: load.py [--replace] DSN   (or set {DSN_ENV})", file=sys.stderr)
        return 2
    report = load(dsn, replace=replace)
    print(f"Loaded Northwind: {len(report.tables)} tables, {sum(report.tables.values()):,} rows.")
    for s in report.skipped:
        print(f"  skipped {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
