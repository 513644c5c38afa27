"""The ops ledger: cases and the audit log (later: consent, holds, schedule).

Two homes, one SQL: the embedded DuckDB file `ledger.duckdb` in the workspace (default), or a PostgreSQL database
a team shares (`ledger: {kind: postgres, dsn_env: NAME}` in the map), so several analysts and the scheduler work on
the same cases and audit trail. The ledger is opened for one operation and closed again: processes take turns on
the embedded file (waiting for its lock) instead of holding it; on PostgreSQL, appends to the audit chain are
serialised with a transaction-scoped advisory lock. Two exceptions for the embedded file, both letting go as soon as
another process waits for it (`writer_waiting`, checked twice a second): a workspace with `keep_open` (the panels)
keeps it between operations like its sources, and `ledger_held` keeps it across the steps of one short operation
(an export, a plan, an approval), since opening and closing DuckDB costs tens of milliseconds each time.
"""

from __future__ import annotations

import functools
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

from ..errors import LedgerError, SourceError
from ..sources import connect_duckdb, resolve_dsn
from ..sources.duckdb import writer_waiting
from ..workspace import Workspace
from . import keyguard

F = TypeVar("F", bound=Callable[..., Any])
SCHEMA_VERSION = 1
APPEND_LOCK = 0x70726976  # advisory-lock key serialising audit appends on PostgreSQL
_READY: set[str] = set()  # ledgers whose tables this process has already created or seen

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS cases (
        case_id VARCHAR PRIMARY KEY,
        type VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        received DATE NOT NULL,
        due DATE NOT NULL,
        extended_due DATE,
        extension_reason VARCHAR,
        channel VARCHAR,
        verified_by VARCHAR,
        subject_hash VARCHAR,
        subject_ref VARCHAR,
        opened_by VARCHAR NOT NULL,
        opened_at TIMESTAMP NOT NULL,
        closed_at TIMESTAMP,
        outcome VARCHAR,
        notes VARCHAR,
        subject_informed DATE)""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq BIGINT PRIMARY KEY,
        recorded_at VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        case_id VARCHAR,
        subject_hash VARCHAR,
        details VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL)""",
    # The MAC'd head of the audit chain, kept with a shared ledger (an embedded ledger keeps it in a file beside).
    """CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash VARCHAR NOT NULL,
        mac VARCHAR NOT NULL)""",
    # Archives sent to subjects (access, portability): the file's SHA-256 and where it is, never its content.
    """CREATE TABLE IF NOT EXISTS exports (
        export_id VARCHAR PRIMARY KEY,
        case_id VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        created_by VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        datasets INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        purged_at TIMESTAMP)""",
    # Erasure (privacyops.erasure): plans with their approval, per-source commits, the schedule of records kept
    # until their retention ends, the Art. 18 restriction register, legal holds and the suppression list. Rows are
    # named by dataset and primary key (JSON); no personal data beyond keys, and e-mails only as keyed hashes.
    """CREATE TABLE IF NOT EXISTS erasure_plans (
        plan_id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        case_id VARCHAR,
        subject_hash VARCHAR,
        status VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        plan_hash VARCHAR NOT NULL,
        map_fingerprint VARCHAR NOT NULL,
        prepared_by VARCHAR NOT NULL,
        prepared_at TIMESTAMP NOT NULL,
        approved_by VARCHAR,
        approved_at TIMESTAMP,
        approval_note VARCHAR,
        executed_by VARCHAR,
        executed_at TIMESTAMP,
        certificate VARCHAR,
        body VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS erasure_sources (
        plan_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        committed_at TIMESTAMP NOT NULL,
        counts VARCHAR NOT NULL,
        PRIMARY KEY (plan_id, source))""",
    """CREATE TABLE IF NOT EXISTS erasure_schedule (
        dataset VARCHAR NOT NULL,
        row_key VARCHAR NOT NULL,
        plan_id VARCHAR NOT NULL,
        case_id VARCHAR,
        due_on DATE,
        retain_until DATE,
        basis VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        scheduled_at TIMESTAMP NOT NULL,
        done_plan VARCHAR,
        done_at TIMESTAMP,
        PRIMARY KEY (dataset, row_key))""",
    """CREATE TABLE IF NOT EXISTS restrictions (
        dataset VARCHAR NOT NULL,
        row_key VARCHAR NOT NULL,
        plan_id VARCHAR NOT NULL,
        case_id VARCHAR,
        basis VARCHAR NOT NULL,
        retain_until DATE,
        restricted_at TIMESTAMP NOT NULL,
        lifted_at TIMESTAMP,
        lifted_by VARCHAR,
        PRIMARY KEY (dataset, row_key, plan_id))""",
    """CREATE TABLE IF NOT EXISTS legal_holds (
        hold_id VARCHAR PRIMARY KEY,
        scope VARCHAR NOT NULL,
        dataset VARCHAR,
        reason VARCHAR NOT NULL,
        hold_owner VARCHAR NOT NULL,
        since DATE NOT NULL,
        review_on DATE,
        created_by VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        released_at TIMESTAMP,
        released_by VARCHAR,
        release_note VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS legal_hold_keys (
        hold_id VARCHAR NOT NULL,
        key_hash VARCHAR NOT NULL,
        PRIMARY KEY (hold_id, key_hash))""",
    """CREATE TABLE IF NOT EXISTS suppression (
        email_hash VARCHAR PRIMARY KEY,
        reason VARCHAR NOT NULL,
        added_at TIMESTAMP NOT NULL,
        added_by VARCHAR NOT NULL,
        case_id VARCHAR)""",
    # The consent ledger (privacyops.consent): consent given or withdrawn, recorded by privacyops (ISO/IEC TS
    # 27560-style: subject, purpose, action, when, how, under which notice, who recorded it). The subject appears
    # only as a keyed hash.
    """CREATE TABLE IF NOT EXISTS consent_records (
        record_id VARCHAR PRIMARY KEY,
        subject_hash VARCHAR NOT NULL,
        purpose VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        occurred_at TIMESTAMP NOT NULL,
        method VARCHAR,
        notice_version VARCHAR,
        recorded_by VARCHAR NOT NULL,
        recorded_at TIMESTAMP NOT NULL,
        case_id VARCHAR)""",
    # The people registry (privacyops.ledger.people): who may act, proven by their Ed25519 key.
    """CREATE TABLE IF NOT EXISTS people (
        key_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        public_key VARCHAR NOT NULL,
        roles VARCHAR NOT NULL,
        db_role VARCHAR,
        registered_by VARCHAR NOT NULL,
        registered_at TIMESTAMP NOT NULL,
        revoked_at TIMESTAMP,
        revoked_by VARCHAR)""",
]


MIGRATIONS = [
    "ALTER TABLE cases ADD COLUMN IF NOT EXISTS subject_informed DATE",
    # Signatures of the preparer, approver and executor of an erasure plan (JSON: person, key_id, sig).
    "ALTER TABLE erasure_plans ADD COLUMN IF NOT EXISTS prepared_sig VARCHAR",
    "ALTER TABLE erasure_plans ADD COLUMN IF NOT EXISTS approved_sig VARCHAR",
    "ALTER TABLE erasure_plans ADD COLUMN IF NOT EXISTS executed_sig VARCHAR",
    # Step 9: each audit entry carries a keyed MAC (ledgers made earlier gain it on their next append, once their
    # chain has been checked); a shared ledger's head holds the latest signed checkpoint.
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS mac VARCHAR",
    "ALTER TABLE audit_head ADD COLUMN IF NOT EXISTS checkpoint VARCHAR",
]


class LedgerConnection:
    """One open ledger. `execute` takes `?` placeholders on both kinds; `transaction(lock=True)` serialises
    writers that must see each other's rows (audit appends, case numbering)."""

    def __init__(self, raw: Any, kind: str, key: str):
        self.raw = raw
        self.kind = kind
        self.key = key  # identifies the ledger (file path or DSN digest) for the schema cache
        self.keys_dir: Any = None  # the workspace's keys folder: what the ledger seals uses its secret
        self.depth = 0  # open transaction() blocks: > 0 while inside one
        self._after_commit: list[Callable[[], None]] = []
        self.in_use = False  # a kept connection (open_ledger with keep_open / ledger_held) inside an operation
        self.closed_in_use = False
        self.key_checked: Any = None  # a kept connection: the key file's stat when its key was last checked

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the outermost transaction has committed (at once outside a transaction); dropped when it
        rolls back. The audit log writes its head and signed checkpoint this way: only for committed entries."""
        if self.depth:
            self._after_commit.append(fn)
        else:
            fn()

    def _committed(self) -> None:
        hooks, self._after_commit = self._after_commit, []
        for fn in hooks:
            fn()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.kind == "postgres":
            return self.raw.execute(sql.replace("?", "%s"), list(params))
        return self.raw.execute(sql, list(params))

    @contextmanager
    def transaction(self, lock: bool = False) -> Iterator["LedgerConnection"]:
        if self.depth and self.kind == "duckdb":  # DuckDB has no nested transactions: join the open one
            yield self
            return
        self.depth += 1
        try:
            if self.kind == "postgres":
                with self.raw.transaction():
                    if lock:
                        self.raw.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
                    yield self
            else:
                self.raw.execute("BEGIN TRANSACTION")  # DuckDB: one writing process at a time holds the file
                try:
                    yield self
                except BaseException:
                    self.raw.execute("ROLLBACK")
                    raise
                self.raw.execute("COMMIT")
        except BaseException:
            if self.depth == 1:
                self._after_commit.clear()
            raise
        finally:
            self.depth -= 1
        if not self.depth:
            self._committed()

    def close(self) -> None:
        if getattr(self, "in_use", False):  # a kept ledger closed by the workspace while an operation uses it
            self.closed_in_use = True
            return
        self.raw.close()


def ledger_exists(ws: "Workspace") -> bool:
    """Whether anything has been recorded yet (a shared ledger always exists once reachable)."""
    return ws.datamap.ledger.kind == "postgres" or ws.ledger_path.exists()


def _connect(ws: "Workspace", read_only: bool) -> LedgerConnection:
    cfg = ws.datamap.ledger
    if cfg.kind == "postgres":
        import hashlib

        import psycopg

        dsn = resolve_dsn(cfg.dsn_env, cfg.dsn_file, ws.root, "ledger")
        try:
            raw = psycopg.connect(dsn, autocommit=True, connect_timeout=15)
        except psycopg.Error as exc:
            # The message of a failed connection can echo the DSN: say what failed, not with what.
            raise LedgerError(f"ledger: cannot connect to PostgreSQL ({type(exc).__name__}); check the DSN in "
                              f"{cfg.dsn_env or cfg.dsn_file} and that the server is up") from None
        return LedgerConnection(raw, "postgres", hashlib.sha256(dsn.encode()).hexdigest())

    path = ws.ledger_path
    if read_only and not path.exists():
        raise LedgerError(f"no ledger at {path} yet: nothing has been recorded in this workspace")
    if not path.exists():
        _READY.discard(str(path.resolve()))
    try:
        raw = connect_duckdb(str(path), read_only, "ledger")
    except SourceError as exc:
        raise LedgerError(str(exc)) from None
    return LedgerConnection(raw, "duckdb", str(path.resolve()))


def _ddl_digest() -> str:
    import hashlib

    return hashlib.sha256("\n".join(SCHEMA + MIGRATIONS).encode()).hexdigest()[:16]


def _schema_current(con: LedgerConnection) -> bool:
    """A shared ledger whose tables are already as this version makes them: the DDL is skipped, so roles that may
    not create or alter tables (analysts under `privacyops person grants`) can open it."""
    if con.kind != "postgres":
        return False
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'ddl'").fetchone()
    except Exception:  # no meta table yet (autocommit: the failed statement leaves nothing open)
        return False
    return bool(row) and row[0] == _ddl_digest()


HELD_POLL = 0.5  # seconds between two looks for another process waiting for a held ledger
KEPT = "ledger"  # the name of the ledger connection a workspace keeps (Workspace.kept) while keep_open is on
_KEPT_LOCK = threading.Lock()


def _prepare(ws: "Workspace", con: LedgerConnection, read_only: bool) -> None:
    """Create the tables on first use (writable openings) and remember that they exist."""
    if not read_only and con.key not in _READY and not _schema_current(con):
        with con.transaction(lock=True):  # two processes creating the tables at once must not collide
            for stmt in SCHEMA:
                con.execute(stmt)
            for stmt in MIGRATIONS:  # ledgers made by an earlier privacyops gain the newer columns
                con.execute(stmt)
            con.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT DO NOTHING",
                        [str(SCHEMA_VERSION)])
            con.execute("INSERT INTO meta VALUES ('ddl', ?) ON CONFLICT (key) DO UPDATE SET value = "
                        "excluded.value", [_ddl_digest()])
    if not read_only:
        _READY.add(con.key)


def _open_kept(ws: "Workspace") -> LedgerConnection:
    """The embedded ledger opened writable, to be kept by the workspace (closed when idle, on `ws.close()`, or as
    soon as another process waits for the file: `writer_waiting`)."""
    con = _connect(ws, False)
    con.keys_dir = ws.keys_dir
    try:
        _prepare(ws, con, False)
    except BaseException:
        con.close()
        raise
    path = ws.ledger_path
    con.writer_waiting = lambda: writer_waiting(path)  # type: ignore[attr-defined]
    return con


@contextmanager
def ledger_held(ws: "Workspace") -> Iterator[None]:
    """Keep the embedded ledger open for one short operation of many steps (an export or an approval opens it ten
    times or more: tens of milliseconds each). Closed at the end; given up earlier when another process waits for
    the file (it gets in between two steps). Not for long operations that pause (an erasure's execution)."""
    ws._ledger_held = getattr(ws, "_ledger_held", 0) + 1  # type: ignore[attr-defined]
    try:
        yield
    finally:
        ws._ledger_held -= 1  # type: ignore[attr-defined]
        if not ws._ledger_held:  # type: ignore[attr-defined]
            _drop_held(ws)
            ws._ledger_yielded = False  # type: ignore[attr-defined]


def holding_ledger(fn: F) -> F:
    """Decorate a function whose first argument is the workspace: it runs under `ledger_held`."""
    @functools.wraps(fn)
    def held(ws: "Workspace", *args: Any, **kwargs: Any) -> Any:
        with ledger_held(ws):
            return fn(ws, *args, **kwargs)
    return held  # type: ignore[return-value]


def _drop_held(ws: "Workspace") -> None:
    with _KEPT_LOCK:
        con, ws._held_ledger = getattr(ws, "_held_ledger", None), None  # type: ignore[attr-defined]
        if con is not None:
            con.close()  # after its current step when one is under way


def _held(ws: "Workspace") -> LedgerConnection | None:
    """The ledger held by `ledger_held` (opened on first use); None once another process has asked for the file."""
    con = getattr(ws, "_held_ledger", None)
    if con is not None and not con.in_use and con.writer_waiting():  # type: ignore[attr-defined]
        ws._ledger_yielded = True  # type: ignore[attr-defined]
        _drop_held(ws)
        return None
    if con is None and not getattr(ws, "_ledger_yielded", False):
        con = ws._held_ledger = _open_kept(ws)  # type: ignore[attr-defined]
        _watch(ws, con)
    return con


def _watch(ws: "Workspace", con: LedgerConnection) -> None:
    """Between two steps of a held operation, let another process that waits for the ledger in (checked twice a
    second, like the connectors kept by keep_open): the operation goes on opening the ledger per step."""
    def tick() -> None:
        with _KEPT_LOCK:
            if getattr(ws, "_held_ledger", None) is not con:
                return  # dropped meanwhile: the watch ends
            if not con.in_use and con.writer_waiting():  # type: ignore[attr-defined]
                ws._ledger_yielded = True  # type: ignore[attr-defined]
                ws._held_ledger = None  # type: ignore[attr-defined]
                con.close()
                return
        _start(tick)
    _start(tick)


def _start(fn: Callable[[], None]) -> None:
    timer = threading.Timer(HELD_POLL, fn)
    timer.daemon = True
    timer.start()


def _kept_in_use(ws: "Workspace") -> LedgerConnection | None:
    """The ledger a keep_open workspace already keeps, marked in use (under the workspace's lock, which its idle
    close takes too: that close then waits for this use to end). Taken without restarting the idle clock: starting
    a timer thread per audit entry cost milliseconds."""
    if getattr(ws, "keep_open", 0) <= 0 or not hasattr(ws, "_connectors"):
        return None
    with ws._lock:
        con = ws._connectors.get(f"\x00kept\x00{KEPT}")
        with _KEPT_LOCK:
            if con is None or con.in_use or con.closed_in_use:
                return None
            con.in_use = True
    return con


def _take_kept(ws: "Workspace", read_only: bool) -> LedgerConnection | None:
    """The workspace's kept ledger connection (keep_open, or held by `ledger_held`), marked in use; None when the
    ledger is not kept (a shared ledger, no ledger yet for a reader) or the kept one is in use already (a nested
    opening, another thread: those open their own connection, as without keep_open)."""
    if ws.datamap.ledger.kind != "duckdb" or (read_only and not ws.ledger_path.exists()):
        return None
    if getattr(ws, "keep_open", 0) > 0:
        con: LedgerConnection | None = ws.kept(KEPT, lambda: _open_kept(ws))
        with _KEPT_LOCK:
            if con.in_use:
                return None
            con.in_use = True
        ws.release()  # the idle close armed again (a kept ledger in use is closed once its use ends)
        return con
    elif getattr(ws, "_ledger_held", 0) > 0:
        con = _held(ws)
    else:
        return None
    if con is None:
        return None
    with _KEPT_LOCK:
        if con.in_use or (getattr(ws, "keep_open", 0) <= 0 and con is not getattr(ws, "_held_ledger", None)):
            return None  # in use (nested, another thread), or let go by the watch meanwhile
        con.in_use = True
    return con


@contextmanager
def open_ledger(ws: "Workspace", read_only: bool = False, check_keys: bool = True) -> Iterator[LedgerConnection]:
    """Open the ledger for one operation (creating its tables on first use) and close it afterwards. A writable
    opening first checks the workspace key against the ledger's record (`check_keys=False`: `privacyops key`).

    With `ws.keep_open` on (the panels, benchmarks) an embedded ledger stays open between operations, like the
    sources' connectors: opening and closing a DuckDB file costs tens of milliseconds per audit entry. It is the
    same file and the same checks (keys, schema); other processes wanting it make it close within a moment."""
    kept = _kept_in_use(ws)
    if kept is None:
        kept = _take_kept(ws, read_only)
    if kept is not None:
        try:
            if check_keys and kept.key_checked != _key_stat(ws):  # once per key file: a rotation re-checks
                keyguard.check(ws.keys_dir, kept, writable=True)
                kept.key_checked = _key_stat(ws)
            yield kept
        finally:
            kept.in_use = False  # type: ignore[attr-defined]
            if kept.closed_in_use:  # the workspace let it go meanwhile (idle, ws.close() inside the operation)
                kept.raw.close()
        return
    con = _connect(ws, read_only)
    con.keys_dir = ws.keys_dir
    try:
        _prepare(ws, con, read_only)
        if check_keys and not read_only:  # before anything is read or written: the ledger's own key, or refused
            keyguard.check(ws.keys_dir, con, writable=True)
        yield con
    finally:
        con.close()


def _key_stat(ws: "Workspace") -> tuple | None:
    try:
        st = (ws.keys_dir / keyguard.SECRET_FILE).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
