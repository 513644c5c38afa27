"""An auditor's copy of part of the audit log: entries, the checkpoints that confirm them, the public key.

`export_bundle` writes entries FROM..TO (extended to the next checkpoint, so the last one is confirmed) with the
signed checkpoints over them and the workspace's Ed25519 public key. `verify_bundle` checks such a file offline:
every entry's hash and link, every checkpoint's signature, and that each checkpoint confirms the entry at its
number. Entry MACs are not in the bundle: they need the private key; the checkpoints stand in for them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import AuditChainError
from ..workspace import Workspace
from .audit_verify import UNCONFIRMED_WHY, VerifyResult
from .checkpoints import audit_keys, check_checkpoint, entry_hash, load_public_key, public_pem, read_head, read_sink
from .store import ledger_exists, open_ledger

FORMAT = "privacyops-audit-export 1"
HOW_TO_VERIFY = (
    "Run `privacyops audit verify-export THIS_FILE --public-key KEY.pem` with the public key you received from the "
    "controller by another channel (the key in this file proves nothing by itself: compare its key_id). It checks "
    "that every entry's SHA-256 matches its content and links to the one before it (SHA-256 over the canonical "
    "JSON [seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash]), that every checkpoint is "
    "signed with the Ed25519 key (signature over the canonical JSON of number, seq, hash, entries, at, key_id) and "
    "that each checkpoint's hash is the hash of the entry at its seq. Identifiers appear only as keyed hashes.")


def export_bundle(ws: Workspace, start: int, end: int) -> dict[str, Any]:
    """Entries start..end (extended to the next checkpoint), their checkpoints and the public key, as a dict."""
    if start < 1 or end < start:
        raise AuditChainError(f"--from {start} --to {end}: give 1 <= FROM <= TO")
    if not ledger_exists(ws):
        raise AuditChainError("this workspace has no audit log yet")
    where, lines = read_sink(ws)
    cps = [cp for _, cp in (lines or []) if isinstance(cp, dict) and isinstance(cp.get("seq"), int)]
    with open_ledger(ws, read_only=ws.datamap.ledger.kind == "duckdb") as con:
        try:
            head = read_head(ws, con)
        except ValueError:
            head = None
        if head and "signature" in head:
            cps.append(head)
        after = sorted(cp["seq"] for cp in cps if cp["seq"] >= end)
        if not after:
            raise AuditChainError(f"no checkpoint confirms entry {end} yet ({where}); run any command, then export")
        last = after[0]
        rows = con.execute("SELECT seq, recorded_at, actor, action, case_id, subject_hash, details, prev_hash, hash "
                           "FROM audit_log WHERE seq BETWEEN ? AND ? ORDER BY seq", [start, last]).fetchall()
    keys = ("seq", "recorded_at", "actor", "action", "case_id", "subject_hash", "details", "prev_hash", "hash")
    unique = {cp["number"]: cp for cp in cps if start <= cp["seq"] <= last}
    _, _, kid = audit_keys(ws)
    return {"format": FORMAT, "from": start, "to": last, "requested_to": end,
            "entries": [dict(zip(keys, r)) for r in rows],
            "checkpoints": [unique[k] for k in sorted(unique)], "public_key": public_pem(ws), "key_id": kid,
            "how_to_verify": HOW_TO_VERIFY}


def write_bundle(ws: Workspace, start: int, end: int, out: Path) -> dict[str, Any]:
    bundle = export_bundle(ws, start, end)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bundle, indent=1, ensure_ascii=False, default=str))
    return bundle


def verify_bundle(path: str | Path, public_key: str | Path | None = None) -> VerifyResult:
    """Check an exported bundle offline, with its own public key or (better) one given. Never raises on content."""
    try:
        bundle = json.loads(Path(path).read_bytes().decode("utf-8"))
    except OSError as exc:
        raise AuditChainError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        return VerifyResult(False, 0, None, f"{path} is not an audit export (not JSON)")
    try:
        return _verify_bundle(bundle, public_key)
    except AuditChainError as exc:
        return VerifyResult(False, 0, None, str(exc))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return VerifyResult(False, 0, None, f"{path} is not a well-formed audit export ({type(exc).__name__})")


def _verify_bundle(bundle: Any, public_key: str | Path | None) -> VerifyResult:
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        return VerifyResult(False, 0, None, f"not an audit export (format is not '{FORMAT}')")
    pub, kid = load_public_key(public_key if public_key is not None else str(bundle["public_key"]))
    notes = [f"checked with the key {kid}" + ("" if public_key is not None else
                                               " carried in the file: compare it with the controller's key")]
    entries = bundle["entries"]
    n = len(entries)
    if not entries:
        return VerifyResult(False, 0, None, "the export holds no entries")
    prev, expected = entries[0]["prev_hash"], int(bundle["from"])
    hashes: dict[int, str] = {}
    for e in entries:
        if e["seq"] != expected:
            return VerifyResult(False, n, expected, f"entry {expected} is missing (next is {e['seq']})")
        if e["prev_hash"] != prev:
            return VerifyResult(False, n, e["seq"], "its link to the previous entry does not match")
        if entry_hash(e["seq"], e["recorded_at"], e["actor"], e["action"], e["case_id"], e["subject_hash"],
                      e["details"], e["prev_hash"]) != e["hash"]:
            return VerifyResult(False, n, e["seq"], "its content does not match its hash (edited)")
        hashes[e["seq"]] = e["hash"]
        prev, expected = e["hash"], expected + 1
    upto = 0
    for cp in bundle["checkpoints"]:
        problem = check_checkpoint(cp, pub, kid)
        if problem:
            return VerifyResult(False, n, None, f"checkpoint {cp.get('number') if isinstance(cp, dict) else '?'}: "
                                                f"{problem}")
        if cp["seq"] in hashes:
            if hashes[cp["seq"]] != cp["hash"]:
                return VerifyResult(False, n, cp["seq"], f"it differs from the entry checkpoint {cp['number']} "
                                                         f"confirmed (replaced or rewritten)")
            upto = max(upto, cp["seq"])
    last = entries[-1]["seq"]
    if upto < last:
        first = max(upto + 1, int(bundle["from"]))
        return VerifyResult(False, n, first, f"entries {first}..{last} {UNCONFIRMED_WHY}",
                            len(bundle["checkpoints"]), (first, last), tuple(notes))
    return VerifyResult(True, n, checkpoints=len(bundle["checkpoints"]), notes=tuple(notes))
