"""Verifying the audit log: chain, entry MACs, signed checkpoints, the head; never a traceback.

Whatever is found in the ledger, the head or the checkpoints (random bytes, a truncated file, garbage lines, a
missing key) ends in a VerifyResult that says what is wrong and where, or in a typed error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AuditChainError, LedgerError, PrivacyOpsError
from ..workspace import Workspace
from ..workspace.keys import workspace_secret
from .checkpoints import (
    GENESIS,
    HEAD_FILE,
    canonical,
    check_checkpoint,
    entry_hash,
    entry_mac,
    load_public_key,
    mac_key_if_present,
    read_head,
    read_sink,
    weak_sink_warning,
)
from .store import ledger_exists, open_ledger

INTACT, UNCONFIRMED, BROKEN = "intact", "unconfirmed", "broken"
UNCONFIRMED_WHY = ("are not confirmed by any checkpoint: forged, or written by a process killed before its "
                   "checkpoint; run any command to confirm, or investigate")


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found. `ok` only when intact; `unconfirmed` = (first, last) entries no checkpoint covers."""

    ok: bool
    entries: int
    first_broken: int | None = None
    reason: str = ""
    checkpoints: int = 0
    unconfirmed: tuple[int, int] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        return INTACT if self.ok else UNCONFIRMED if self.unconfirmed else BROKEN

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, {self.checkpoints} checkpoints"
        if self.unconfirmed:
            return f"audit log NOT CONFIRMED after entry {self.unconfirmed[0] - 1}: {self.reason}"
        at = f" at entry {self.first_broken}" if self.first_broken is not None else ""
        return f"audit log BROKEN{at}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "entries": self.entries, "checkpoints": self.checkpoints,
                "first_broken": self.first_broken, "reason": self.reason,
                "unconfirmed": list(self.unconfirmed) if self.unconfirmed else None, "notes": list(self.notes)}


_COLS = "seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, hash"


def _read_ledger(ws: Workspace) -> tuple[list[tuple], Any]:
    """(rows with their MAC last, the head or the ValueError reading it raised)."""
    rows: list[tuple] = []
    head: Any = None
    if not ledger_exists(ws):
        try:
            return [], read_head(ws, None)
        except ValueError as exc:
            return [], exc
    with open_ledger(ws, read_only=ws.datamap.ledger.kind == "duckdb") as con:
        if con.kind == "duckdb" and not con.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                                    "table_name = 'audit_log'").fetchone()[0]:
            con.execute("SELECT 1")  # a ledger file made by a process stopped before creating its tables
            try:
                return [], read_head(ws, con)
            except ValueError as exc:
                return [], exc
        try:
            rows = con.execute(f"SELECT {_COLS}, mac FROM audit_log ORDER BY seq").fetchall()
        except Exception:  # a ledger from before entry MACs, opened read-only (not migrated)
            rows = [r + (None,) for r in con.execute(f"SELECT {_COLS} FROM audit_log ORDER BY seq").fetchall()]
        try:
            head = read_head(ws, con)
        except ValueError as exc:
            head = exc
    return rows, head


def verify(ws: Workspace, against: str | Path | None = None, public_key: str | Path | bytes | None = None
           ) -> VerifyResult:
    """Check the chain, every entry's MAC (when this workspace holds the signing key), every checkpoint's signature
    and that the log still holds what each checkpoint confirmed (`against`: a checkpoint file kept elsewhere;
    default: the sink the map names, plus the ledger's head). Entries after the last checkpoint are reported."""
    try:
        return _verify(ws, against, public_key)
    except AuditChainError as exc:
        return VerifyResult(False, 0, None, str(exc))
    except LedgerError as exc:
        return VerifyResult(False, 0, None, f"the ledger cannot be read ({exc}): it was damaged or replaced, or "
                                            f"cannot be reached; restore it from backup")
    except Exception as exc:  # the ledger is whatever bytes are on disk: an unreadable one is a finding, not a crash
        msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return VerifyResult(False, 0, None, f"the ledger cannot be read ({type(exc).__name__}{': ' + msg if msg else ''})"
                                            f": it was damaged or replaced; restore it from backup")


def _verify(ws: Workspace, against: str | Path | None, public_key: Any) -> VerifyResult:
    head_name = "the recorded head" if ws.datamap.ledger.kind == "postgres" else HEAD_FILE
    rows, head = _read_ledger(ws)
    n = len(rows)
    if isinstance(head, ValueError):
        return VerifyResult(False, n, None, f"{head_name} is unreadable: it was damaged or replaced")
    notes: list[str] = []
    if against is None and (w := weak_sink_warning(ws)):
        notes.append(w)
    if rows and all(r[9] is None for r in rows) and (head is None or "signature" not in head):
        return _verify_legacy(ws, rows, head, head_name, notes)
    try:
        mac_key = mac_key_if_present(ws)
    except AuditChainError as exc:
        mac_key = None
        notes.append(f"entry MACs not checked: {exc}")
    if mac_key is None and not any("MACs not checked" in x for x in notes):
        notes.append("entry MACs not checked (no private signing key here): checkpoints alone confirm the log")
    bad = _check_chain(rows, mac_key) or _confirmed_without_mac(rows)
    if bad:
        return VerifyResult(False, n, bad[0], bad[1], notes=tuple(notes))
    where, lines = read_sink(ws, against)
    if not rows and not lines and head is None:
        return VerifyResult(True, 0, notes=tuple(notes))
    try:
        pub, kid = load_public_key(public_key, ws)
    except AuditChainError as exc:
        return VerifyResult(False, n, None, str(exc), notes=tuple(notes))
    cps: dict[int, dict[str, Any]] = {}
    for line_no, cp in lines or []:
        problem = check_checkpoint(cp, pub, kid) if isinstance(cp, dict) else "it is not JSON"
        if problem:
            seq = cp.get("seq") if isinstance(cp, dict) and isinstance(cp.get("seq"), int) else None
            return VerifyResult(False, n, seq, f"checkpoint on line {line_no} of {where}: {problem}",
                                notes=tuple(notes))
        if cp["number"] in cps and canonical(cps[cp["number"]]) != canonical(cp):
            return VerifyResult(False, n, cp["seq"], f"{where} holds two different checkpoints numbered "
                                                     f"{cp['number']}", notes=tuple(notes))
        cps[cp["number"]] = cp
    for number in range(1, max(cps, default=0) + 1):
        if number not in cps:
            return VerifyResult(False, n, None, f"checkpoint {number} is missing from {where} (a line was deleted)",
                                notes=tuple(notes))
    confirmed = [cp for cp in cps.values()]
    if head is not None:
        problem = check_checkpoint(head, pub, kid) if "signature" in head else \
            "it is not a signed checkpoint (written before checkpoints, or forged)"
        if problem:
            return VerifyResult(False, n, None, f"{head_name}: {problem}", notes=tuple(notes))
        if cps and head["number"] < max(cps):
            return VerifyResult(False, n, head["seq"], f"{head_name} is checkpoint {head['number']}, older than "
                                                       f"checkpoint {max(cps)} in {where}: it was rolled back",
                                notes=tuple(notes))
        if against is None or lines is None:
            confirmed.append(head)
    elif rows and cps:
        return VerifyResult(False, n, None, f"{head_name} is missing (deleted) while {where} holds checkpoints",
                            notes=tuple(notes))
    if lines is None:
        notes.append(f"checkpoints go to {where} and cannot be read back here: give the collected ones with "
                     f"--against FILE")
    for cp in sorted(confirmed, key=lambda c: c["seq"]):
        bad = _against_checkpoint(rows, cp)
        if bad:
            return VerifyResult(False, n, bad[0], bad[1], notes=tuple(notes))
    upto = max((cp["seq"] for cp in confirmed), default=0)
    if n > upto:
        return VerifyResult(False, n, upto + 1, f"entries {upto + 1}..{n} {UNCONFIRMED_WHY}", len(cps),
                            (upto + 1, n), tuple(notes))
    return VerifyResult(True, n, checkpoints=len(cps) or len(confirmed), notes=tuple(notes))


def _check_chain(rows: list[tuple], mac_key: bytes | None) -> tuple[int, str] | None:
    """(entry, reason) of the first entry whose number, link, content or MAC does not match."""
    prev, expected = GENESIS, 1
    for r in rows:
        seq, prev_hash, h, mac = r[0], r[7], r[8], r[9]
        if seq != expected:
            return expected, f"entry {expected} is missing (next is {seq})"
        if prev_hash != prev:
            return seq, "its link to the previous entry does not match"
        if entry_hash(*r[:8]) != h:
            return seq, "its content does not match its hash (edited)"
        if mac_key is not None and not mac:
            return seq, ("it has no MAC: forged, or written while keys/signing.key was missing or damaged "
                         "(restore the key; the entry stays reported)")
        if mac_key is not None and not hmac.compare_digest(str(mac), entry_mac(mac_key, seq, str(h))):
            return seq, ("its MAC does not match: it was not written by privacyops (forged or recomputed, or the "
                         "ledger of another workspace)")
        prev, expected = h, seq + 1
    return None


def _confirmed_without_mac(rows: list[tuple]) -> tuple[int, str] | None:
    """Entries a later append found past the head without a matching MAC (its `audit.confirm` entry lists them):
    a checkpoint covers them now, so a verifier without the key learns of them here."""
    for r in rows:
        if r[3] != "audit.confirm":
            continue
        try:
            d = json.loads(r[6])
        except ValueError:
            continue
        listed = sorted((d.get("without_mac") or []) + (d.get("bad_mac") or [])) if isinstance(d, dict) else []
        if listed:
            return listed[0], (f"entries {listed} were found without a matching MAC (entry {r[0]} records it): "
                               f"forged, or written while keys/signing.key was missing")
    return None


def _against_checkpoint(rows: list[tuple], cp: dict[str, Any]) -> tuple[int, str] | None:
    n, seq = len(rows), cp["seq"]
    if cp["entries"] != seq or seq < 1:
        return seq, f"checkpoint {cp['number']} is inconsistent (entries {cp['entries']}, seq {seq})"
    if n < seq:
        return n + 1, (f"the log holds {n} entries but checkpoint {cp['number']} confirmed {seq}: entries "
                       f"{n + 1}..{seq} were removed from the end (truncated or deleted)")
    if rows[seq - 1][8] != cp["hash"]:
        return seq, (f"it differs from the entry checkpoint {cp['number']} confirmed: the log was rolled back, "
                     f"replaced or rewritten")
    return None


def _verify_legacy(ws: Workspace, rows: list[tuple], head: dict[str, Any] | None, head_name: str,
                   notes: list[str]) -> VerifyResult:
    """A ledger from before entry MACs and checkpoints: its chain and its head MAC'd with keys/workspace.key."""
    n = len(rows)
    bad = _check_chain(rows, None)
    if bad:
        return VerifyResult(False, n, bad[0], bad[1])
    if head is None:
        return VerifyResult(False, n, None, f"{head_name} is missing: entries may have been cut off the end "
                                            f"(restore it from backup)")
    try:
        secret = workspace_secret(ws.keys_dir)[:32]  # a head before step 9: MAC'd with the first key generation
    except (ValueError, PrivacyOpsError) as exc:
        return VerifyResult(False, n, None, str(exc))
    seq, h = head.get("seq"), head.get("hash")
    mac = hmac.new(secret, f"audit-head\x00{seq}\x00{h}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(str(head.get("mac", "")), mac):
        return VerifyResult(False, n, seq, f"{head_name} was altered (its MAC does not match)")
    if not isinstance(seq, int) or seq < 1:
        return VerifyResult(False, n, None, f"{head_name} is unreadable")
    if rows[-1][0] < seq:
        return VerifyResult(False, n, rows[-1][0] + 1, f"entries {rows[-1][0] + 1}..{seq} were removed from the end "
                                                       f"of the log")
    if rows[seq - 1][8] != h:
        return VerifyResult(False, n, seq, "it differs from the recorded head of the log")
    notes.append("written before entry MACs and signed checkpoints: the next command adds them")
    if n > seq:
        return VerifyResult(False, n, seq + 1, f"entries {seq + 1}..{n} {UNCONFIRMED_WHY}", 0, (seq + 1, n),
                            tuple(notes))
    return VerifyResult(True, n, notes=tuple(notes))
