"""The audit log: append-only, hash-chained, MAC'd per entry and confirmed by signed checkpoints.

Each entry records what was done (action, who, when, case, counts) and never the personal data itself: identifiers
are stored as keyed hashes. Entry n's public SHA-256 covers its own fields and entry n-1's hash, so editing or
deleting any entry breaks every hash after it; a keyed MAC per entry (key derived from the workspace's signing
key) and a signed checkpoint after every append (privacyops.ledger.checkpoints) make a rewritten or extended log
detectable even for someone who can recompute SHA-256. `record(..., con=con)` appends inside the caller's ledger
transaction, so a change and its entry commit together (or neither does).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import AuditChainError, PrivacyOpsError
from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash, keyed_hash_generations, workspace_secret
from .keyring import workspace_key
from .checkpoints import (
    GENESIS,
    HEAD_FILE,
    audit_keys,
    canonical,
    entry_hash,
    entry_mac,
    make_checkpoint,
    read_head,
    write_checkpoint,
    write_head,
)
from .audit_verify import VerifyResult, verify  # noqa: F401 - part of this module's API
from .store import APPEND_LOCK, LedgerConnection, ledger_exists, open_ledger

_canonical = canonical  # the name earlier modules used
CONFIRM = "audit.confirm"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    case_id: str | None
    subject_hash: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


def _legacy_head_mac(secret: bytes, seq: int, h: str) -> str:
    """The MAC of a head written before checkpoints (keyed with keys/workspace.key)."""
    return hmac.new(secret, f"audit-head\x00{seq}\x00{h}".encode(), hashlib.sha256).hexdigest()


def subject_hash(ws: Workspace, identifier: str) -> str:
    """The keyed hash under which a subject identifier appears in the ledger."""
    return keyed_hash(workspace_key(ws), identifier.strip().lower(), "subject")


def subject_hashes(ws: Workspace, identifier: str) -> list[str]:
    """The identifier's keyed hash under every key generation: entries are never re-keyed (the chain covers them),
    so a search of the log by subject looks for each (after `privacyops key rotate`)."""
    return keyed_hash_generations(workspace_key(ws), identifier.strip().lower(), "subject")


def entries_for_subject(ws: Workspace, identifier: str) -> list[AuditEntry]:
    """Entries recorded about a subject (by any key generation), oldest first."""
    wanted = set(subject_hashes(ws, identifier))
    return [e for e in entries(ws) if e.subject_hash in wanted]


def record(ws: Workspace, action: str, details: dict[str, Any] | None = None, *, case_id: str | None = None,
           subject: str | None = None, actor: str | None = None, con: LedgerConnection | None = None) -> AuditEntry:
    """Append one entry. `subject` (an identifier) is stored only as a keyed hash; `details` must hold no
    personal data (counts, dataset names, decisions). With `con` (an open ledger, usually inside the caller's
    transaction) the entry is written in that transaction: the change it records and the entry commit together.
    The head and the signed checkpoint are written once the transaction has committed."""
    details_json = canonical(details or {})
    s_hash = subject_hash(ws, subject) if subject else None
    who = actor or current_actor()
    if con is not None:
        with con.transaction(lock=True):  # joins the caller's transaction when one is open
            return _append(ws, con, action, details_json, case_id, s_hash, who)
    with open_ledger(ws) as own:
        with own.transaction(lock=True):  # appenders take turns: the chain has no forks and no gaps
            return _append(ws, own, action, details_json, case_id, s_hash, who)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def _append(ws: Workspace, con: LedgerConnection, action: str, details_json: str, case_id: str | None,
            s_hash: str | None, who: str) -> AuditEntry:
    if con.kind == "postgres":  # re-entrant: a caller's transaction may hold it already
        con.execute("SELECT pg_advisory_xact_lock(?)", [APPEND_LOCK])
    last = _last(con)
    try:
        _, mac_key, _ = audit_keys(ws)
    except AuditChainError as exc:
        # The change still happens and is still logged (chained), but without MAC or checkpoint: `audit verify`
        # reports these entries until the key is restored. Refusing would stop erasures that are due by law.
        _warn_once(f"warning: audit entries are written without MAC or checkpoint: {exc}")
        return _insert(ws, con, last, action, details_json, case_id, s_hash, who, None)
    # The checkpoint of this connection's previous entry: written by this transaction, or committed and written out
    # by an earlier one on a connection kept open (store.open_ledger with keep_open), which has held the file's
    # lock since, so nobody else can have changed the log. It stands for the head only while the log's last entry
    # is that very entry (same number and hash); otherwise the head is read and the log checked against it.
    pending = getattr(con, "audit_pending", None)
    unmacd: dict[str, list[int]] = {}
    if pending and last and (pending["seq"], pending["hash"]) == (last[0], last[1]):
        head = pending
    else:
        head, unmacd = _checked_head(ws, con, last, mac_key)
    if last and (head is None or last[0] > head["seq"]):  # past the last checkpoint: never accepted silently
        details = {"from": head["seq"] + 1 if head else 1, "to": last[0], **unmacd,
                   "why": "entries written without a checkpoint (a process stopped before writing it, or the "
                          "head was lost); " + ("their links and MACs match" if not unmacd else
                                                "some have no matching MAC (listed): `audit verify` reports them")}
        if unmacd:
            _warn_once(f"warning: audit entries {sorted(sum(unmacd.values(), []))} have no matching MAC "
                       f"(forged, or written without the signing key); run privacyops audit verify")
        _insert(ws, con, last, CONFIRM, canonical(details), None, None, "privacyops", mac_key)
        last = _last(con)
    entry = _insert(ws, con, last, action, details_json, case_id, s_hash, who, mac_key)
    previous = head if head and "signature" in head else None
    cp = make_checkpoint(ws, (previous or {}).get("number", 0) + 1, entry.seq, entry.hash)
    con.audit_pending = cp
    if con.kind == "postgres":
        write_head(ws, con, cp)  # a shared ledger keeps its head inside, in the same transaction
    con.after_commit(lambda: _checkpoint_after_commit(ws, con, cp, previous))
    return entry


def _last(con: LedgerConnection) -> tuple[int, str] | None:
    """(seq, hash) of the log's last entry. PostgreSQL answers the ORDER BY from the primary key's index; DuckDB
    sorts for it, where one aggregate pass costs a third (every lookup appends an entry). A connection that appended
    before looks from its last entry on (the maximum of the entries from there is the log's, when there are any:
    0.3 ms instead of 50 ms at a million entries); else, or when none are left there, over the whole log."""
    if con.kind == "postgres":
        return con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    pending = getattr(con, "audit_pending", None)
    if pending and isinstance(pending.get("seq"), int):
        row = con.execute("SELECT max(seq), arg_max(hash, seq) FROM audit_log WHERE seq >= ?",
                          [pending["seq"]]).fetchone()
        if row and row[0] is not None:
            return row[0], row[1]
    row = con.execute("SELECT max(seq), arg_max(hash, seq) FROM audit_log").fetchone()
    return (row[0], row[1]) if row and row[0] is not None else None


_WARNED: set[str] = set()


def _warn_once(text: str) -> None:
    if text not in _WARNED:
        _WARNED.add(text)
        print(text, file=sys.stderr)


def _insert(ws: Workspace, con: LedgerConnection, last: Any, action: str, details_json: str, case_id: str | None,
            s_hash: str | None, who: str, mac_key: bytes | None) -> AuditEntry:
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = _now()
    h = entry_hash(seq, at, who, action, case_id, s_hash, details_json, prev)
    con.execute("INSERT INTO audit_log (seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, "
                "hash, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, who, action, case_id, s_hash, details_json, prev, h,
                 entry_mac(mac_key, seq, h) if mac_key else None])
    return AuditEntry(seq, at, who, action, case_id, s_hash, json.loads(details_json), prev, h)


def _checkpoint_after_commit(ws: Workspace, con: LedgerConnection, cp: dict[str, Any],
                             previous: dict[str, Any] | None) -> None:
    """After the commit: the head file (embedded ledger, still under its lock), then the sink. A failure leaves
    the entries unconfirmed (the next append's checkpoint covers them): a warning, not an error, since the change
    itself has committed."""
    try:
        if con.kind != "postgres":
            write_head(ws, con, cp)
        write_checkpoint(ws, cp, previous)
    except (PrivacyOpsError, OSError) as exc:
        con.audit_pending = None  # the next append reads the head back and confirms what it lacks
        print(f"warning: the audit checkpoint for entry {cp['seq']} could not be written ({exc}); the entry stays "
              f"unconfirmed until the next command writes one", file=sys.stderr)


def _checked_head(ws: Workspace, con: LedgerConnection, last: Any, mac_key: bytes
                  ) -> tuple[dict[str, Any] | None, dict[str, list[int]]]:
    """The head, after checking that the log still reaches it and that entries past it link up, with the entries
    past it whose MAC is missing or wrong ({"without_mac": [...], "bad_mac": [...]}, recorded by the caller); a log
    from before entry MACs gains them here once its chain and old head check out. AuditChainError when the log was
    cut, rolled back or its chain broken: nothing is appended to a log that is not intact."""
    how = "run `privacyops audit verify` and investigate; nothing is recorded until the log is restored"
    try:
        head = read_head(ws, con)
    except ValueError as exc:
        raise AuditChainError(f"the audit log's head cannot be read ({exc}); {how}") from None
    if head is not None and "signature" not in head:
        head = _upgrade_legacy(ws, con, head, last, mac_key, how)
    if head is None and last is None:
        return None, {}
    if head is not None:
        if last is None or last[0] < head["seq"]:
            raise AuditChainError(f"the audit log ends at entry {last[0] if last else 0} but its head records "
                                  f"entry {head['seq']}: entries were removed; {how}")
        row = con.execute("SELECT hash FROM audit_log WHERE seq = ?", [head["seq"]]).fetchone()
        if not row or row[0] != head["hash"]:
            raise AuditChainError(f"entry {head['seq']} differs from the one the head recorded: the log was "
                                  f"replaced or rolled back; {how}")
    start = head["seq"] if head else 0
    rows = con.execute("SELECT seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, hash, mac "
                       "FROM audit_log WHERE seq >= ? ORDER BY seq", [start]).fetchall()
    prev = rows[0][8] if head else GENESIS
    unmacd: dict[str, list[int]] = {}
    for i, r in enumerate(rows[1:] if head else rows, start=start + 1):
        if r[0] != i or r[7] != prev or entry_hash(*r[:8]) != r[8]:
            raise AuditChainError(f"entry {i} past the last checkpoint does not link up (its number, link or hash "
                                  f"does not match): it was forged or altered; {how}")
        if not r[9]:
            unmacd.setdefault("without_mac", []).append(i)
        elif not hmac.compare_digest(str(r[9]), entry_mac(mac_key, r[0], r[8])):
            unmacd.setdefault("bad_mac", []).append(i)
        prev = r[8]
    return head, unmacd


def _upgrade_legacy(ws: Workspace, con: LedgerConnection, head: dict[str, Any], last: Any, mac_key: bytes,
                    how: str) -> dict[str, Any]:
    """A ledger written before entry MACs: check its chain and its old MAC'd head, then give every entry its MAC.
    Returns the head as checked (no checkpoint yet: the next one is number 1)."""
    secret = workspace_secret(ws.keys_dir)[:32]  # heads before step 9 were MAC'd with the first key generation
    if not hmac.compare_digest(str(head.get("mac", "")), _legacy_head_mac(secret, head["seq"], head["hash"])):
        raise AuditChainError(f"the audit log's head was altered (its MAC does not match); {how}")
    rows = con.execute("SELECT seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, hash "
                       "FROM audit_log ORDER BY seq").fetchall()
    prev = GENESIS
    for i, r in enumerate(rows, start=1):
        if r[0] != i or r[7] != prev or entry_hash(*r[:8]) != r[8]:
            raise AuditChainError(f"the audit log is broken at entry {i} (before upgrading it to MACs); {how}")
        prev = r[8]
    known = {r[0]: r[8] for r in rows}
    if known.get(head["seq"]) != head["hash"]:
        raise AuditChainError(f"the audit log does not reach its recorded head (entry {head['seq']}); {how}")
    for r in rows[:head["seq"]]:
        con.execute("UPDATE audit_log SET mac = ? WHERE seq = ?", [entry_mac(mac_key, r[0], r[8]), r[0]])
    return {"seq": head["seq"], "hash": head["hash"], "number": 0, "legacy": True}


def entries(ws: Workspace, limit: int | None = None, action: str | None = None) -> list[AuditEntry]:
    """Entries, newest last (the last `limit` when given)."""
    if not ledger_exists(ws):
        return []
    sql = "SELECT * FROM audit_log"
    params: list[Any] = []
    if action:
        sql += " WHERE action = ?"
        params.append(action)
    sql += " ORDER BY seq DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    with open_ledger(ws, read_only=ws.datamap.ledger.kind == "duckdb") as con:
        rows = con.execute(sql, params).fetchall()
    return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8]) for r in reversed(rows)]


def as_dict(e: AuditEntry) -> dict[str, Any]:
    return asdict(e)
