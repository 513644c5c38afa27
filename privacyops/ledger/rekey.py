"""Key rotation and restore, against the ledger the keys belong to.

Rotation adds a generation to the workspace key (keys/workspace.key holds them all, oldest first) and carries every
keyed hash stored in the ledger to it in ONE ledger transaction: h_new = HMAC(k_new, h_stored), which is what
`keys.keyed_hash` computes for the value under the longer key, so suppression checks, holds, consent records and
case searches keep matching, and a copy of an earlier key matches none of the hashes stored now. The audit log is
never rewritten (its hash chain covers the hashes); searching it by subject looks for every generation's hash.
Erasure pseudonyms already written into the sources stay as they are (they are made under the first generation:
docs/keys.md says why).

Order (crash-safe): the new key is written beside the old one (`workspace.key.next`), the ledger is re-keyed and
records the new fingerprint in one transaction, then the new key takes the old one's place; a rotation stopped in
between is finished by the next command (keyguard), and one stopped before the commit changed nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from ..errors import WorkspaceKeyError
from ..workspace import Workspace
from ..workspace.sealing import reseal_ledger
from ..workspace.keys import (
    KEY_BYTES,
    NEXT_FILE,
    SECRET_FILE,
    SIGNING_KEY_FILE,
    SIGNING_PUB_FILE,
    fingerprint,
    generations,
    key_problem,
    read_key,
    rekey_hash,
    write_key_file,
)
from . import audit, keyguard
from .keyring import forget_checked, signing_id_of, workspace_key
from .store import ledger_exists, open_ledger

# Every keyed hash the ledger stores outside the audit log: (table, hash column, key columns). Columns of a primary
# key are re-keyed by deleting and inserting the rows (not every store updates a key column in place).
KEYED_COLUMNS = (
    ("suppression", "email_hash", ("email_hash",)),
    ("legal_hold_keys", "key_hash", ("hold_id", "key_hash")),
    ("consent_records", "subject_hash", ("record_id",)),
    ("cases", "subject_hash", ("case_id",)),
    ("erasure_plans", "subject_hash", ("plan_id",)),
)
# Plans that may still write to the ledger: their bodies hold hashes (suppression entries to add, holds to match)
# made under the key they were planned with, and a plan's body is fixed by its approval.
OPEN_PLANS = ("planned", "approved", "executing", "failed")


@dataclass
class Rotation:
    old: str
    new: str
    generations: int
    rekeyed: dict[str, int] = field(default_factory=dict)
    resealed: int | None = None  # ledger values sealed under the key (None: no sealing in this version)

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "generations": self.generations, "rekeyed": self.rekeyed,
                "resealed": self.resealed}


def _rekey_table(con: Any, table: str, column: str, keys: tuple[str, ...], gen: bytes) -> int:
    cur = con.execute(f'SELECT * FROM "{table}" WHERE "{column}" IS NOT NULL')
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    at = names.index(column)
    if column in keys:
        cols = ", ".join(f'"{n}"' for n in names)
        marks = ", ".join("?" for _ in names)
        con.execute(f'DELETE FROM "{table}" WHERE "{column}" IS NOT NULL')
        for r in rows:
            con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})',
                        [rekey_hash(gen, v) if i == at else v for i, v in enumerate(r)])
        return len(rows)
    where = " AND ".join(f'"{k}" = ?' for k in keys)
    for r in rows:
        con.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE {where}',
                    [rekey_hash(gen, r[at]), *(r[names.index(k)] for k in keys)])
    return len(rows)


def _reseal(con: Any, old: bytes, new: bytes) -> int:
    """Ledger values sealed under the workspace key (plan bodies, schedule and restriction row keys) are re-sealed
    under the new key inside the rotation's transaction: a value that does not open rolls the rotation back."""
    return reseal_ledger(con, old, new)


def _pending_rectifications(con: Any) -> int:
    """Rectifications submitted under four-eyes and not decided yet (their request is sealed under the key)."""
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                         ["rectification_pending"]).fetchone()[0]
    if not exists:
        return 0
    return int(con.execute("SELECT count(*) FROM rectification_pending WHERE status = ?", ["pending"]).fetchone()[0])


def rotate(ws: Workspace) -> Rotation:
    """Add a key generation and re-key every stored keyed hash in one ledger transaction (audited, fingerprints
    only). Refused while an erasure plan is open (its approved body holds hashes of the current key)."""
    old = workspace_key(ws)  # checked: a rotation never starts from a lost, damaged or foreign key
    gen = secrets.token_bytes(KEY_BYTES)
    new = old + gen
    result = Rotation(fingerprint(old), fingerprint(new), len(generations(new)))
    nxt = ws.keys_dir / NEXT_FILE
    write_key_file(nxt, new)
    committed = False
    try:
        with open_ledger(ws) as con:
            with con.transaction(lock=True):
                if keyguard.recorded(con).get(keyguard.META_FP) != result.old:
                    raise WorkspaceKeyError("another process rotated the key meanwhile: run `privacyops key show`")
                busy = [r[0] for r in con.execute(
                    f"SELECT plan_id FROM erasure_plans WHERE status IN ({', '.join('?' for _ in OPEN_PLANS)}) "
                    f"ORDER BY plan_id", list(OPEN_PLANS)).fetchall()]
                if busy:
                    raise WorkspaceKeyError(f"{len(busy)} erasure plan(s) are still open ({', '.join(busy[:5])}"
                                            f"{' …' if len(busy) > 5 else ''}): execute or cancel them (`privacyops "
                                            f"erase cancel PLAN`), then rotate; nothing was changed")
                if _pending_rectifications(con):
                    raise WorkspaceKeyError("rectifications are awaiting approval (sealed under the current key): "
                                            "approve or reject them first, then rotate; nothing was changed")
                for table, column, keys in KEYED_COLUMNS:
                    result.rekeyed[table] = _rekey_table(con, table, column, keys, gen)
                result.resealed = _reseal(con, old, new)
                keyguard.set_meta(con, keyguard.META_FP, result.new)
                keyguard.set_meta(con, keyguard.META_GENERATIONS, str(result.generations))
                audit.record(ws, "key.rotate", result.to_dict(), con=con)  # commits with the re-keying
            committed = True
            _promote(ws, result.new)
    finally:
        if not committed:
            nxt.unlink(missing_ok=True)
        forget_checked()
    return result


def _promote(ws: Workspace, want: str) -> None:
    """The rotated key takes the old one's place (unless another command already finished the rotation)."""
    import os

    try:
        os.replace(ws.keys_dir / NEXT_FILE, ws.keys_dir / SECRET_FILE)
    except FileNotFoundError:
        key = read_key(ws.keys_dir)
        if key is None or fingerprint(key) != want:
            raise WorkspaceKeyError(f"the rotated key is gone: keys/{SECRET_FILE} should be key {want}") from None


@dataclass(frozen=True)
class Restored:
    files: list[str]
    workspace_key: str | None
    signing_key: str | None


def restore(ws: Workspace, files: dict[str, bytes]) -> Restored:
    """Put a backup's keys back (owner-only), refusing keys the ledger was not made with (either fingerprint)."""
    key = files.get(SECRET_FILE)
    if key is None or key_problem(key):
        raise WorkspaceKeyError(f"the backup holds no usable keys/{SECRET_FILE}: nothing was restored")
    fp = fingerprint(key)
    for name, data in files.items():  # what the ledger's connection needs (keys/ledger.dsn), when it is lost too
        if name not in (SECRET_FILE, SIGNING_KEY_FILE, SIGNING_PUB_FILE) and not (ws.keys_dir / name).exists():
            write_key_file(ws.keys_dir / name, data)
    facts: dict[str, str] = {}
    if ledger_exists(ws):
        with open_ledger(ws, check_keys=False) as con:
            facts = keyguard.recorded(con)
    want = facts.get(keyguard.META_FP)
    if want and fp != want:
        raise WorkspaceKeyError(f"the backup's key {fp} is not the key this workspace's ledger was made with ({want}): "
                                f"it is another workspace's, or from before a rotation; nothing was restored")
    on_disk = None
    try:
        on_disk = read_key(ws.keys_dir)
    except WorkspaceKeyError:
        pass  # damaged: the restore replaces it
    if not want and on_disk is not None and on_disk != key:
        raise WorkspaceKeyError(f"keys/{SECRET_FILE} exists and is another key ({fingerprint(on_disk)}) that the "
                                f"ledger does not name: move it aside first; nothing was restored")
    sid = signing_id_of(files[SIGNING_KEY_FILE]) if SIGNING_KEY_FILE in files else None
    want_sid = facts.get(keyguard.META_SIGNING)
    if want_sid and sid != want_sid:
        raise WorkspaceKeyError(f"the backup's signing key {sid or '(none)'} is not the one this workspace signed with "
                                f"({want_sid}); nothing was restored")
    for name, data in sorted(files.items()):
        write_key_file(ws.keys_dir / name, data)
    forget_checked()
    if ledger_exists(ws):
        audit.record(ws, "key.restore", {"workspace_key": fp, "signing_key": sid, "files": sorted(files)})
    return Restored(sorted(files), fp, sid)


__all__ = ["rotate", "restore", "Rotation", "Restored", "KEYED_COLUMNS", "OPEN_PLANS"]
