"""Driver errors in plain words: what went wrong, where, and what to do about it.

Every connector passes its driver's exceptions through this module — on connect and on every statement — so that
lookup, export, rectification and erasure say the same thing about the same trouble: the connection (refused, host
unknown or unreachable, authentication, no such database), permissions (which table, what to grant), waiting (a lock
held by someone else, a statement past its timeout, with the map setting that sets it), the store's constraints
(foreign key, NOT NULL, UNIQUE, CHECK: the constraint, the table, what it means) and locked database files.

A message names the source, the table, the constraint and the map setting; never the DSN, a password or a value of a
row. The drivers' DETAIL lines quote values ("Key (email)=(jane@example.com) already exists"): they are read into
`StoreError.key_values`, so that erasure can name the row by its dataset and key, and are never put in a message.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ..errors import SourceError
from ..map import Source

# What kind of trouble (StoreError.kind).
CONNECT, AUTH, NO_DATABASE, CONNECTION_LOST = "connect", "authentication", "no database", "connection lost"
PERMISSION, READ_ONLY, MISSING_TABLE, MISSING_COLUMN = "permission", "read-only", "missing table", "missing column"
LOCK_TIMEOUT, STATEMENT_TIMEOUT, CANCELLED, CONFLICT = "lock timeout", "statement timeout", "cancelled", "conflict"
FILE_LOCKED, NOT_A_DATABASE = "file locked", "not a database"
FOREIGN_KEY, NOT_NULL, UNIQUE, CHECK, EXCLUSION = "foreign key", "not null", "unique", "check", "exclusion"
CONSTRAINTS = (FOREIGN_KEY, NOT_NULL, UNIQUE, CHECK, EXCLUSION)
OTHER = "other"

DEFAULT_LOCK_WAIT = 30.0  # seconds a file store waits for another process's lock unless the map says otherwise


class StoreError(SourceError):
    """A store refused or failed a connection or a statement, in plain words.

    `kind` is one of this module's constants; `table` is the table the statement worked on (for a foreign key
    refusing a delete: the table deleted from), `referencing` the table whose foreign key refused, `constraint` and
    `columns` name the constraint and its columns. `operation` is the statement's verb (DELETE, UPDATE, SELECT).
    `key_values` ({column: value as text}, from the driver's DETAIL) identify the row for the caller; they are never
    part of a message."""

    def __init__(self, message: str, *, source: str, kind: str = OTHER, table: str | None = None,
                 referencing: str | None = None, constraint: str | None = None, columns: tuple[str, ...] = (),
                 operation: str | None = None, key_values: dict[str, str] | None = None):
        super().__init__(message)
        self.source, self.kind, self.table, self.referencing = source, kind, table, referencing
        self.constraint, self.columns, self.operation, self.key_values = constraint, columns, operation, key_values
        self.dataset: str | None = None  # set by a caller that knows which dataset it was writing


# ---------------------------------------------------------------------------------------------------------------
# Shared wording.


def seconds_text(seconds: float) -> str:
    """30 -> "30 s", 120 -> "2 min", 0.5 -> "500 ms"."""
    if seconds < 1:
        return f"{seconds * 1000:g} ms"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _setting(source: Source, key: str, default: str) -> str:
    """A timeout as the message states it: its value and where the map sets it, or that the store's default ran."""
    value = getattr(source, key, None)
    if value:
        return f"{seconds_text(value)}, sources.{source.name}.{key} in the map"
    return f"{default}; set sources.{source.name}.{key} in the map to choose"


def dsn_origin(source: Source) -> str:
    """Where a server source's DSN comes from, for messages (never the DSN itself)."""
    return f"${source.dsn_env}" if source.dsn_env else f"the file {source.dsn_file}"


_RELATION = r'((?:"(?:[^"]|"")*"\s*\.\s*)*"(?:[^"]|"")*"|[A-Za-z_][\w.]*)'
_TARGET = re.compile(r"\b(?:FROM|UPDATE|INTO|TABLE|ON)\s+" + _RELATION, re.I)


def _unquote(name: str) -> str:
    """`"schema"."table"` -> `schema.table` (names come from the map, quoted by the connector)."""
    parts = re.findall(r'"((?:[^"]|"")*)"', name)
    return ".".join(p.replace('""', '"') for p in parts) if parts else name


def statement(sql: str | None) -> tuple[str, str | None]:
    """(verb, table) of one of privacyops' statements: its first word and the first table it names (quoted
    names come from the map; a function such as read_parquet(...) gives none)."""
    sql = (sql or "").strip()
    verb = sql.split(None, 1)[0].upper() if sql else ""
    m = _TARGET.search(sql)
    table = _unquote(m.group(1)) if m and not sql[m.end():].lstrip().startswith("(") else None
    if table and table.lower().startswith(("pg_catalog.", "information_schema.", "sqlite_master", "pragma_",
                                           "duckdb_")):
        table = None  # a catalog query: no table of the map
    return verb, table


def _doing(verb: str, table: str | None) -> str:
    """What the statement was doing, in words: "deleting rows of table public.rental"."""
    on = f" table {table}" if table else " the source"
    return {"SELECT": f"reading{on}", "DELETE": f"deleting rows of{on}", "UPDATE": f"updating{on}",
            "INSERT": f"inserting into{on}", "CREATE": f"creating an index on{on}",
            "DROP": f"dropping an index on{on}", "COPY": f"rewriting{on}", "COMMIT": "committing the changes"
            }.get(verb, f"running a {verb or 'statement'} on{on}")


def _key_detail(detail: str | None) -> tuple[tuple[str, ...], dict[str, str] | None]:
    """Columns and values from "Key (a, b)=(1, x) ..." (PostgreSQL's DETAIL): the values only for the caller."""
    m = re.match(r"^Key \((.+?)\)=\((.*)\) (?:is still referenced|is not present|already exists)", detail or "")
    if not m:
        return (), None
    cols = tuple(c.strip().strip('"') for c in m.group(1).split(","))
    values = [v.strip() for v in m.group(2).split(",")]
    return cols, (dict(zip(cols, values)) if len(values) == len(cols) else None)


def _fk_delete(head: str, table: str | None, referencing: str | None, constraint: str | None, how: str) -> str:
    """A foreign key refusing a delete: which key of which table, and what that means."""
    which = f"foreign key {constraint} of table {referencing}" if constraint else \
        f"a FOREIGN KEY of table {referencing}" if referencing else "a FOREIGN KEY of another table"
    return (f"{head}: the database refuses to delete rows of table {table or '?'}: {which} still refers to them "
            f"({how}). The store keeps references whole: the referring rows must go first or let go of them (ON "
            f"DELETE SET NULL / CASCADE on the key), or the rows they need must stay")


def _constraint_text(kind: str, head: str, doing: str, table: str | None, constraint: str | None,
                     column: str | None = None, refd: str | None = None) -> str:
    """A constraint refusing a written value (NOT NULL, UNIQUE, CHECK, EXCLUSION, a foreign key's missing target)."""
    t = table or "?"
    if kind == NOT_NULL:
        return (f"{head}: {doing}: column {column or '?'} of table {t} cannot be empty (NOT NULL constraint), "
                f"and the new value is empty")
    if kind == UNIQUE:
        return (f"{head}: {doing}: the new value would equal another row's, and unique constraint "
                f"{constraint or '(unnamed)'} of table {t} allows no two rows alike")
    if kind == CHECK:
        return (f"{head}: {doing}: the new value breaks check constraint {constraint or '(unnamed)'} of table {t} "
                f"(a rule the database applies to every row)")
    if kind == EXCLUSION:
        return f"{head}: {doing}: the row would conflict with another under exclusion constraint {constraint}"
    return (f"{head}: {doing}: the value written must exist in {refd or 'the table it refers to'} (foreign key "
            f"{constraint or '(unnamed)'} of table {t}), and it does not")


# ---------------------------------------------------------------------------------------------------------------
# PostgreSQL.


def postgres_connect_error(exc: Exception, source: Source, clean: Callable[[str], str],
                           connect_timeout: float) -> StoreError:
    """A failed connection in plain words (libpq's text, the DSN and its password blanked out by `clean`)."""
    text = clean(str(exc))
    low = text.lower()
    head = f"cannot connect to PostgreSQL source '{source.name}' (DSN from {dsn_origin(source)})"
    m = re.search(r'database "([^"]+)" does not exist', text)
    if "connection refused" in low:
        kind, why = CONNECT, "connection refused — is the server running and the host/port right?"
    elif any(s in low for s in ("could not translate host name", "failed to resolve host", "name or service")):
        kind, why = CONNECT, "the host name in the DSN cannot be resolved — check it for a typo, and DNS"
    elif any(s in low for s in ("timeout expired", "no route to host", "network is unreachable",
                                "closed the connection unexpectedly", "timed out")):
        kind, why = CONNECT, (f"the server cannot be reached (no answer within {seconds_text(connect_timeout)}, or "
                              f"no route) — check the host and port in the DSN, the network and any firewall")
    elif m:
        kind, why = NO_DATABASE, (f"database {m.group(1)} does not exist on that server — check the database name "
                                  f"(dbname) in the DSN")
    elif any(s in low for s in ("authentication failed", "no password supplied", "pg_hba.conf",
                                "not permitted to log in")) or re.search(r'role "[^"]*" does not exist', low):
        kind, why = AUTH, ("authentication failed — the server refused the user or password in the DSN; check them "
                           "(keep the password in ~/.pgpass or the DSN file, never in the map) and that the server's "
                           "pg_hba.conf admits this user from this host")
    elif "too many" in low or "connection slots" in low:
        kind, why = CONNECT, "the server has no free connection slot (max_connections) — try again later"
    else:
        kind, why = CONNECT, (text.splitlines() or [type(exc).__name__])[0]
    return StoreError(f"{head}: {why}", source=source.name, kind=kind)


def postgres_error(exc: Any, source: Source, sql: str | None, clean: Callable[[str], str], *,
                   user: str | None = None, dbname: str | None = None) -> StoreError:
    """A statement's error in plain words, from its SQLSTATE and the fields of its diagnostics (names only)."""
    state = getattr(exc, "sqlstate", None) or ""
    diag = getattr(exc, "diag", None)
    primary = clean((getattr(diag, "message_primary", None) or str(exc) or type(exc).__name__).splitlines()[0])
    verb, target = statement(sql)
    schema = getattr(diag, "schema_name", None)
    table = getattr(diag, "table_name", None)
    constraint = getattr(diag, "constraint_name", None)
    qualified = f"{schema}.{table}" if schema and table else table
    head, doing = f"source '{source.name}'", f"{_doing(verb, target)}"
    kw: dict[str, Any] = {"source": source.name, "operation": verb, "constraint": constraint}
    if state == "23503":
        cols, values = _key_detail(getattr(diag, "message_detail", None))
        m = re.match(r'update or delete on table "([^"]+)"', primary)
        if m:
            refd = f"{schema}.{m.group(1)}" if schema else m.group(1)
            how = f"{', '.join(cols)} of the rows deleted" if cols else "their key"
            return StoreError(_fk_delete(head, refd, qualified, constraint, f"through {how}"), kind=FOREIGN_KEY,
                              table=refd, referencing=qualified, columns=cols, key_values=values, **kw)
        return StoreError(_constraint_text(FOREIGN_KEY, head, doing, qualified, constraint), kind=FOREIGN_KEY,
                          table=qualified, referencing=qualified, columns=cols, **kw)
    kinds = {"23502": NOT_NULL, "23505": UNIQUE, "23514": CHECK, "23P01": EXCLUSION}
    if state in kinds:
        column = getattr(diag, "column_name", None)
        cols, _ = _key_detail(getattr(diag, "message_detail", None))
        return StoreError(_constraint_text(kinds[state], head, doing, qualified or target, constraint, column),
                          kind=kinds[state], table=qualified or target,
                          columns=(column,) if column else cols, **kw)
    if state == "42501":
        m = re.search(r"permission denied for (schema|table|relation|view|sequence|materialized view|database) "
                      r"(\S+)", primary)
        what, obj = (m.group(1), m.group(2)) if m else ("table", target or "?")
        return permission_denied(source, doing, f"{what} {obj}", obj, user, verb=verb, schema=what == "schema",
                                 table=target)
    if state == "55P03":
        return StoreError(f"{head}: {doing} waited longer than the source's lock_timeout ("
                          f"{_setting(source, 'lock_timeout', 'the server default')}) for a lock another session "
                          f"holds: wait for that session to finish (or raise the lock_timeout) and run it again",
                          kind=LOCK_TIMEOUT, table=target, **kw)
    if state == "57014":
        if "statement timeout" in primary:
            locked = " (it was waiting for a lock another session holds)" if "while locking" in str(exc) else ""
            return StoreError(f"{head}: {doing} took longer than the source's statement_timeout ("
                              f"{_setting(source, 'statement_timeout', 'the server default')}){locked}: raise it "
                              f"in the map, or make the query faster (privacyops index creates lookup indexes)",
                              kind=STATEMENT_TIMEOUT, table=target, **kw)
        return StoreError(f"{head}: {doing} was cancelled on the server (pg_cancel_backend, or a shutdown): run it "
                          f"again", kind=CANCELLED, table=target, **kw)
    if state in ("40P01", "40001"):
        return StoreError(f"{head}: {doing} collided with another session changing the same rows (the server "
                          f"cancelled this one{': a deadlock' if state == '40P01' else ''}): run it again",
                          kind=CONFLICT, table=target, **kw)
    if state == "25006":
        return StoreError(f"source '{source.name}' was opened read-only and cannot run {verb or 'this'} (PostgreSQL: "
                          f"read-only transaction); open it for writing (Workspace.writer) to change data",
                          kind=READ_ONLY, table=target, **kw)
    if state == "42P01":
        m = re.search(r'relation "([^"]+)" does not exist', primary)
        return StoreError(f"{head}: table {m.group(1) if m else target} does not exist in database {dbname or '?'}"
                          f" — check the dataset's table and the source's schema in the map (privacyops check lists "
                          f"what is missing)", kind=MISSING_TABLE, table=target, **kw)
    if state == "42703":
        m = re.search(r'column "?([^" ]+)"? does not exist', primary)
        return StoreError(f"{head}: column {m.group(1) if m else '?'} does not exist in table {target or '?'} — "
                          f"check the dataset's fields in the map (privacyops check lists what is missing)",
                          kind=MISSING_COLUMN, table=target, **kw)
    if state.startswith(("08", "57P")) or (not state and type(exc).__name__ in ("OperationalError",
                                                                              "InterfaceError")):
        return StoreError(f"{head}: the connection to PostgreSQL was lost while {doing} (the server restarted, or "
                          f"the network dropped): run it again; a change in progress was rolled back by the server",
                          kind=CONNECTION_LOST, table=target, **kw)
    return StoreError(f"{head}: {doing} failed (PostgreSQL error {state}): {primary}", table=target, **kw)


def permission_denied(source: Source, doing: str, where: str, obj: str, user: str | None, *, verb: str = "",
                      schema: bool = False, table: str | None = None) -> StoreError:
    """A grant missing: what to grant on which table (or schema), to which role."""
    role = f"{user}, the role privacyops connects as (from {dsn_origin(source)})" if user else \
        f"the role privacyops connects as (the user in {dsn_origin(source)})"
    grant = (f"grant USAGE on schema {obj} to {role}" if schema else
             f"grant SELECT, UPDATE, DELETE on {obj} to {role} — lookups and exports need SELECT, rectification "
             f"and erasure UPDATE and DELETE")
    return StoreError(f"source '{source.name}': permission denied {doing} ({where}): {grant}", source=source.name,
                      kind=PERMISSION, table=table or obj, operation=verb)


# ---------------------------------------------------------------------------------------------------------------
# SQLite and DuckDB (files).


def file_locked_message(what: str, path: Any, waited: float, holder: str = "", setting: str | None = None) -> str:
    """A database file another process holds locked."""
    raise_it = f" (or raise {setting} in the map)" if setting else ""
    return (f"{what}: the file {path} is locked by another program{holder}; privacyops waited "
            f"{seconds_text(waited)} — close the program writing to it (a notebook kernel, a desktop tool, another "
            f"privacyops run){raise_it} and run it again")


def duckdb_lock_holder(text: str) -> str:
    """ " (PID 123, /usr/bin/python3)" from DuckDB's lock message, when it says."""
    m = re.search(r"held in (.+?) \(PID (\d+)\)", text)
    return f" (PID {m.group(2)}, {m.group(1)})" if m else ""


def sqlite_error(exc: Exception, source: Source, path: Any, sql: str | None,
                 referencing: Callable[[str], list[tuple[str, str, str]]] | None = None) -> StoreError:
    """A sqlite3 error in plain words. `referencing(table)` lists (table, column, referenced column) of the foreign
    keys pointing at a table: SQLite's own message names none."""
    line = (str(exc).splitlines() or [type(exc).__name__])[0]
    low = line.lower()
    verb, target = statement(sql)
    head, doing = f"source '{source.name}'", _doing(verb, target)
    kw: dict[str, Any] = {"source": source.name, "operation": verb}
    m = re.match(r"(NOT NULL|UNIQUE|CHECK) constraint failed: (.+)", line)
    if "foreign key constraint failed" in low:
        if verb == "DELETE":
            refs = referencing(target) if referencing and target else []
            names = ", ".join(f"{t}.{c} → {target}.{rc}" for t, c, rc in refs) or "SQLite does not say which"
            msg = _fk_delete(head, target, refs[0][0] if len(refs) == 1 else None, None,
                             f"FOREIGN KEY constraint: {names}; SQLite does not say which row")
            return StoreError(msg, kind=FOREIGN_KEY, table=target, referencing=refs[0][0] if len(refs) == 1 else None,
                              columns=tuple(rc for _, _, rc in refs[:1]), **kw)
        return StoreError(_constraint_text(FOREIGN_KEY, head, doing, target, None) + " (FOREIGN KEY constraint)",
                          kind=FOREIGN_KEY, table=target, **kw)
    if m:
        kind = {"NOT NULL": NOT_NULL, "UNIQUE": UNIQUE, "CHECK": CHECK}[m.group(1)]
        cols = tuple(c.strip().split(".")[-1] for c in m.group(2).split(","))
        table = m.group(2).split(",")[0].rsplit(".", 1)[0] if kind != CHECK else target
        return StoreError(_constraint_text(kind, head, doing, table, m.group(2) if kind == CHECK else None,
                                           cols[0]), kind=kind, table=table, columns=cols, **kw)
    if "database is locked" in low or "database table is locked" in low:
        return StoreError(file_locked_message(head, path, source.lock_timeout or DEFAULT_LOCK_WAIT, "",
                                              f"sources.{source.name}.lock_timeout"), kind=FILE_LOCKED, **kw)
    if low == "interrupted":
        return StoreError(f"{head}: {doing} took longer than the source's statement_timeout ("
                          f"{_setting(source, 'statement_timeout', 'none set')}): raise it in the map, or make the "
                          f"query faster (privacyops index creates lookup indexes)", kind=STATEMENT_TIMEOUT,
                          table=target, **kw)
    if "readonly" in low:
        return StoreError(f"source '{source.name}' was opened read-only (SQLite: {line}); open it for writing "
                          f"(Workspace.writer) to change data", kind=READ_ONLY, **kw)
    m = re.match(r"no such (table|column): (.+)", line)
    if m:
        return StoreError(f"{head}: {m.group(1)} {m.group(2)} does not exist in {path} — check the dataset's "
                          f"{'table' if m.group(1) == 'table' else 'fields'} in the map (privacyops check lists what "
                          f"is missing)", kind=MISSING_TABLE if m.group(1) == "table" else MISSING_COLUMN,
                          table=target, **kw)
    if any(s in low for s in ("not a database", "malformed", "unable to open")):
        return StoreError(f"{head}: cannot open {path}: {line} — check sources.{source.name}.path in the map (a "
                          f"SQLite database file, readable by this user)", kind=NOT_A_DATABASE, **kw)
    return StoreError(f"{head}: {doing} failed (SQLite): {line}", table=target, **kw)


def duckdb_error(exc: Exception, source: Source, path: Any, sql: str | None) -> StoreError:
    """A duckdb error in plain words. DuckDB's constraint messages quote key values: they are never passed on."""
    line = (str(exc).splitlines() or [type(exc).__name__])[0]
    low = line.lower()
    verb, target = statement(sql)
    head, doing = f"source '{source.name}'", _doing(verb, target)
    kw: dict[str, Any] = {"source": source.name, "operation": verb, "table": target}
    name = type(exc).__name__
    if name == "ConstraintException" or "constraint" in low and "violat" in low:
        if "foreign key" in low and "still referenced" in low:
            return StoreError(_fk_delete(head, target, None, None, "DuckDB does not say which table or row"),
                              kind=FOREIGN_KEY, **kw)
        if "foreign key" in low:
            return StoreError(_constraint_text(FOREIGN_KEY, head, doing, target, None), kind=FOREIGN_KEY, **kw)
        m = re.search(r"(NOT NULL|CHECK) constraint failed: (\S+)", line)
        if m and m.group(1) == "NOT NULL":
            column = m.group(2).split(".")[-1]
            return StoreError(_constraint_text(NOT_NULL, head, doing, target, None, column), kind=NOT_NULL,
                              columns=(column,), **kw)
        if m:
            return StoreError(_constraint_text(CHECK, head, doing, target, None), kind=CHECK, **kw)
        return StoreError(_constraint_text(UNIQUE, head, doing, target, "(primary key or unique)"), kind=UNIQUE,
                          **kw)
    if "read-only" in low or "read only" in low:
        return StoreError(f"source '{source.name}' was opened read-only and cannot run {verb or 'this'}; open it for "
                          f"writing (Workspace.writer) to change data", kind=READ_ONLY, **kw)
    if "could not set lock" in low:
        return StoreError(file_locked_message(head, path, source.lock_timeout or DEFAULT_LOCK_WAIT,
                                              duckdb_lock_holder(str(exc)), f"sources.{source.name}.lock_timeout"),
                          kind=FILE_LOCKED, **kw)
    if name == "TransactionException" and "conflict" in low:
        return StoreError(f"{head}: {doing} collided with another writer changing the same rows: run it again",
                          kind=CONFLICT, **kw)
    if name == "InterruptException":
        return StoreError(f"{head}: {doing} was interrupted: run it again", kind=CANCELLED, **kw)
    return StoreError(f"{head}: {doing} failed (DuckDB): {line}", **kw)


__all__ = ["StoreError", "seconds_text", "dsn_origin", "statement", "postgres_connect_error", "postgres_error",
           "permission_denied", "sqlite_error", "duckdb_error", "file_locked_message", "duckdb_lock_holder", "CONSTRAINTS", "FOREIGN_KEY",
           "NOT_NULL", "UNIQUE", "CHECK", "EXCLUSION", "CONNECT", "AUTH", "NO_DATABASE", "CONNECTION_LOST",
           "PERMISSION", "READ_ONLY", "MISSING_TABLE", "MISSING_COLUMN", "LOCK_TIMEOUT", "STATEMENT_TIMEOUT",
           "CANCELLED", "CONFLICT", "FILE_LOCKED", "NOT_A_DATABASE", "OTHER", "DEFAULT_LOCK_WAIT"]
