"""The ledger remembers which key it was made with: the workspace key's fingerprint (and, once an erasure
certificate was signed, the signing key's id) sit in its `meta` table, and every writable opening checks the key on
disk against them before anything is read or written. A missing, damaged or foreign key is refused with both
fingerprints named, never replaced by a new one: the ledger's keyed hashes (holds, suppression, consent, cases)
would silently match nobody. Only a brand-new ledger records the key it is first opened with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import WorkspaceKeyError
from ..workspace.keys import (
    NEXT_FILE,
    RESTORE_HINT,
    SECRET_FILE,
    create_key,
    fingerprint,
    generations,
    key_problem,
    read_key,
)

META_FP = "workspace_key_fp"
META_GENERATIONS = "workspace_key_generations"
META_SIGNING = "signing_key_id"
# Tables whose rows exist only because a key was used: a ledger holding any of them but no fingerprint (made by
# an earlier privacyops) must not be given a new key either.
_KEYED = ("SELECT 1 FROM audit_log LIMIT 1", "SELECT 1 FROM suppression LIMIT 1",
          "SELECT 1 FROM legal_hold_keys LIMIT 1", "SELECT 1 FROM consent_records LIMIT 1",
          "SELECT 1 FROM cases WHERE subject_hash IS NOT NULL LIMIT 1")


def recorded(con: Any) -> dict[str, str]:
    """The key facts the ledger recorded ({} for a ledger that recorded none)."""
    rows = con.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?)",
                       [META_FP, META_GENERATIONS, META_SIGNING]).fetchall()
    return {str(k): str(v) for k, v in rows}


def set_meta(con: Any, key: str, value: str) -> None:
    con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])


def missing_message(what: str, fp: str) -> str:
    return (f"keys/{what} is missing, but this workspace's ledger was made with key {fp}: restore it with "
            f"{RESTORE_HINT}; nothing was changed (a new key would match none of the ledger's records)")


def _finish_rotation(keys_dir: Path, want: str) -> bytes | None:
    """A rotation that re-keyed the ledger but stopped before its new key took the old one's place: finish it."""
    nxt = keys_dir / NEXT_FILE
    try:
        data = nxt.read_bytes()
    except OSError:
        return None
    if key_problem(data) or fingerprint(data) != want:
        return None
    try:
        os.replace(nxt, keys_dir / SECRET_FILE)
    except FileNotFoundError:  # the rotating process promoted it itself
        pass
    return read_key(keys_dir)


def check(keys_dir: Path, con: Any, writable: bool) -> bytes | None:
    """The workspace key, checked against the ledger's record (WorkspaceKeyError when it does not match).

    A ledger with no record yet gets one on a writable opening: the key on disk, or a new key when there is none
    and the ledger holds nothing keyed. Returns None only for a read-only opening of a ledger with no record and
    no key (nothing keyed can be in it)."""
    facts = recorded(con)
    want = facts.get(META_FP)
    try:
        key = read_key(keys_dir)
    except WorkspaceKeyError as exc:
        if want and (done := _finish_rotation(keys_dir, want)):
            return done
        raise WorkspaceKeyError(str(exc).replace(": restore it", f", but this workspace's ledger was made with key "
                                                                   f"{want}: restore it", 1) if want else str(exc))
    if want is None:
        if not writable:
            return key
        with con.transaction(lock=True):  # first writers of a shared ledger take turns: one key is recorded
            want = recorded(con).get(META_FP)
            if want is None:
                key = read_key(keys_dir)
                if key is None:
                    if any(con.execute(sql).fetchone() for sql in _KEYED):
                        raise WorkspaceKeyError(f"keys/{SECRET_FILE} is missing, but this workspace's ledger already "
                                                f"holds keyed records: restore it with {RESTORE_HINT}; nothing was "
                                                f"changed")
                    key = create_key(keys_dir)
                con.execute("INSERT INTO meta VALUES (?, ?)", [META_FP, fingerprint(key)])
                con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT DO NOTHING",
                            [META_GENERATIONS, str(len(generations(key)))])
                want = fingerprint(key)
        if key is None:  # another process made the key and recorded it meanwhile
            key = read_key(keys_dir)
    if key is None:
        if done := _finish_rotation(keys_dir, want):
            return done
        raise WorkspaceKeyError(missing_message(SECRET_FILE, want))
    have = fingerprint(key)
    if have != want:
        if done := _finish_rotation(keys_dir, want):
            return done
        raise WorkspaceKeyError(f"keys/{SECRET_FILE} (key {have}) is not the key this workspace's ledger was made "
                                f"with (key {want}): it belongs to another workspace or an earlier generation; "
                                f"restore this workspace's key with {RESTORE_HINT}; nothing was changed")
    return key


__all__ = ["check", "recorded", "set_meta", "missing_message", "META_FP", "META_GENERATIONS", "META_SIGNING"]
