"""The audit log: append-only, hash-chained, verifiable by anyone with the ledger.

Each entry records what was done (action, who, when, case, counts) and never the personal data itself: identifiers
are stored as keyed hashes. Entry n's hash covers its own fields and entry n-1's hash, so editing or deleting any
entry breaks every hash after it. A head file (`audit.head`, MAC'd with the workspace key) records the last entry,
so cutting entries off the end is detected too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash, keyed_hash_generations
from .keyring import workspace_key
from .store import ledger_exists, open_ledger

GENESIS = "0" * 64
HEAD_FILE = "audit.head"


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


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_broken: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, hash chain verified"
        return f"audit log BROKEN at entry {self.first_broken}: {self.reason}"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(seq: int, at: str, actor: str, action: str, case_id: str | None, subject_hash: str | None,
               details_json: str, prev_hash: str) -> str:
    body = _canonical([seq, at, actor, action, case_id, subject_hash, details_json, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _head_mac(secret: bytes, seq: int, h: str) -> str:
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
           subject: str | None = None, actor: str | None = None) -> AuditEntry:
    """Append one entry. `subject` (an identifier) is stored only as a keyed hash; `details` must hold no
    personal data (counts, dataset names, decisions)."""
    details_json = _canonical(details or {})
    secret = workspace_key(ws)  # checked (and cached) before the ledger is held: the entry and its head need it
    s_hash = subject_hash(ws, subject) if subject else None
    who = actor or current_actor()
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    with open_ledger(ws) as con:
        with con.transaction(lock=True):  # appenders take turns: the chain has no forks and no gaps
            entry = _append(ws, con, secret, at, who, action, case_id, s_hash, details_json)
        if ws.datamap.ledger.kind != "postgres":  # still holding the ledger file: heads follow the entries' order
            _write_head_file(ws, entry.seq, entry.hash, secret)
    return entry


def _append(ws: Workspace, con: Any, secret: bytes, at: str, who: str, action: str, case_id: str | None,
            s_hash: str | None, details_json: str) -> AuditEntry:
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    h = entry_hash(seq, at, who, action, case_id, s_hash, details_json, prev)
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, who, action, case_id, s_hash, details_json, prev, h])
    if ws.datamap.ledger.kind == "postgres":  # a shared ledger keeps its head inside, in the same transaction
        con.execute("INSERT INTO audit_head VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                    "seq = excluded.seq, hash = excluded.hash, mac = excluded.mac", [seq, h, _head_mac(secret, seq, h)])
    return AuditEntry(seq, at, who, action, case_id, s_hash, json.loads(details_json), prev, h)


def record_in(ws: Workspace, con: Any, secret: bytes, action: str, details: dict[str, Any]) -> AuditEntry:
    """Append an entry inside the caller's locked ledger transaction, MAC'd with `secret` (key rotation: the
    change and its record commit together). The caller writes the head file afterwards (`write_head`)."""
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    return _append(ws, con, secret, at, current_actor(), action, None, None, _canonical(details))


def write_head(ws: Workspace, entry: AuditEntry, secret: bytes) -> None:
    """The head file of an embedded ledger after `record_in` (a shared ledger keeps its head inside)."""
    if ws.datamap.ledger.kind != "postgres":
        _write_head_file(ws, entry.seq, entry.hash, secret)


def _write_head_file(ws: Workspace, seq: int, h: str, secret: bytes) -> None:
    path = ws.root / HEAD_FILE
    tmp = path.with_name(f".{HEAD_FILE}.{os.getpid()}.tmp")
    mac = _head_mac(secret, seq, h)
    tmp.write_text(json.dumps({"seq": seq, "hash": h, "mac": mac}))
    tmp.replace(path)


def _read_head(ws: Workspace, con: Any) -> tuple[int, str, str] | None:
    """The recorded head (seq, hash, mac), None when none is recorded; ValueError when unreadable."""
    if ws.datamap.ledger.kind == "postgres":
        row = con.execute("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetchone()
        return (int(row[0]), str(row[1]), str(row[2])) if row else None
    path = ws.root / HEAD_FILE
    if not path.exists():
        return None
    try:
        head = json.loads(path.read_text())
        return int(head["seq"]), str(head["hash"]), str(head["mac"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{HEAD_FILE} is unreadable") from None


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


def verify(ws: Workspace) -> VerifyResult:
    """Recompute the chain; name the first entry whose content or link does not match."""
    head_name = "the recorded head" if ws.datamap.ledger.kind == "postgres" else HEAD_FILE
    if not ledger_exists(ws):
        if (ws.root / HEAD_FILE).exists():
            return VerifyResult(False, 0, 1, f"the ledger is gone but {HEAD_FILE} records entries: the log was deleted")
        return VerifyResult(True, 0, reason="no ledger yet")
    with open_ledger(ws, read_only=ws.datamap.ledger.kind == "duckdb") as con:
        rows = con.execute("SELECT seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, hash "
                           "FROM audit_log ORDER BY seq").fetchall()
        try:
            head = _read_head(ws, con)
        except ValueError as exc:
            return VerifyResult(False, len(rows), None, str(exc))
    prev, expected_seq = GENESIS, 1
    for seq, at, actor, action, case_id, s_hash, details, prev_hash, h in rows:
        if seq != expected_seq:
            return VerifyResult(False, len(rows), expected_seq, f"entry {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return VerifyResult(False, len(rows), seq, "its link to the previous entry does not match")
        if entry_hash(seq, at, actor, action, case_id, s_hash, details, prev_hash) != h:
            return VerifyResult(False, len(rows), seq, "its content does not match its hash (edited)")
        prev, expected_seq = h, seq + 1
    if rows and head is None:
        return VerifyResult(False, len(rows), None, f"{head_name} is missing: entries may have been cut off the end "
                                                    f"(restore it from backup)")
    if head is not None:
        head_seq, head_hash, mac = head
        if not hmac.compare_digest(mac, _head_mac(workspace_key(ws), head_seq, head_hash)):
            return VerifyResult(False, len(rows), head_seq, f"{head_name} was altered (its MAC does not match)")
        last_seq = rows[-1][0] if rows else 0
        if last_seq < head_seq:
            return VerifyResult(False, len(rows), last_seq + 1,
                                f"entries {last_seq + 1}..{head_seq} were removed from the end of the log")
        known = {r[0]: r[8] for r in rows}
        if known.get(head_seq) != head_hash:
            return VerifyResult(False, len(rows), head_seq, "it differs from the recorded head of the log")
    return VerifyResult(True, len(rows))


def as_dict(e: AuditEntry) -> dict[str, Any]:
    return asdict(e)
