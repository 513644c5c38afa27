"""The checked workspace key: what every command that hashes or MACs with the key uses (never the file directly).

`workspace_key(ws)` returns the key only once it is known to be the one the ledger was made with (see keyguard);
a brand-new workspace, with no ledger yet, gets its key here. The signing key (erasure certificates) is held to the
id the ledger recorded when it first signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import WorkspaceKeyError
from ..workspace import Workspace
from ..workspace.keys import (
    SECRET_FILE,
    SIGNING_KEY_FILE,
    create_key,
    fingerprint,
    generations,
    key_id,
    public_key_raw,
    read_key,
)
from . import keyguard
from .store import ledger_exists, open_ledger

# Checked keys of this process, by workspace and the key file's identity (a restored or rotated file is a new
# identity and is checked again); every writable ledger opening checks on its own anyway.
_CHECKED: dict[tuple[str, tuple[int, int, int]], bytes] = {}


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def workspace_key(ws: Workspace) -> bytes:
    """The workspace key, checked against the ledger (WorkspaceKeyError when missing, damaged or foreign)."""
    path = ws.keys_dir / SECRET_FILE
    sig = _stat(path)
    if sig is not None and (hit := _CHECKED.get((str(ws.root), sig))) is not None:
        return hit
    if ledger_exists(ws):
        # writable, as every command that needs the key is about to write (DuckDB will not open a file read-only
        # in a process that has it open for writing): the opening checks the key, or records a brand-new one
        with open_ledger(ws, check_keys=False) as con:
            key = keyguard.check(ws.keys_dir, con, writable=True)
    else:
        key = read_key(ws.keys_dir)
    if key is None:  # no ledger, or one that recorded nothing keyed: a brand-new workspace
        key = create_key(ws.keys_dir)
    sig = _stat(path)
    if sig is not None:
        _CHECKED[(str(ws.root), sig)] = key
    return key


def forget_checked() -> None:
    """Drop this process's checked keys (after a rotation or a restore)."""
    _CHECKED.clear()


def signing_id_of(pem: bytes) -> str | None:
    """The id of a PEM private signing key's public half (None when the bytes are not a key)."""
    from cryptography.hazmat.primitives import serialization

    try:
        return key_id(public_key_raw(serialization.load_pem_private_key(pem, password=None)))
    except (ValueError, TypeError):
        return None


def _on_disk_signing_id(ws: Workspace) -> str | None:
    """The id of keys/signing.key's public half; None when there is no signing key; WorkspaceKeyError when the file
    is not a key."""
    path = ws.keys_dir / SIGNING_KEY_FILE
    if not path.exists():
        return None
    try:
        got = signing_id_of(path.read_bytes())
    except OSError:
        got = None
    if got is None:
        raise WorkspaceKeyError(f"keys/{SIGNING_KEY_FILE} is damaged (not a readable private key): restore it with "
                                f"`privacyops key restore BACKUP`; nothing was changed")
    return got


def check_signing(ws: Workspace) -> None:
    """Refuse a signing key other than the one the ledger recorded (missing, damaged, another workspace's)."""
    if not ledger_exists(ws):
        return
    with open_ledger(ws, check_keys=False) as con:
        want = keyguard.recorded(con).get(keyguard.META_SIGNING)
    if want is None:
        return
    have = _on_disk_signing_id(ws)
    if have is None:
        raise WorkspaceKeyError(keyguard.missing_message(SIGNING_KEY_FILE, want).replace("made with key",
                                                                                         "signed with key"))
    if have != want:
        raise WorkspaceKeyError(f"keys/{SIGNING_KEY_FILE} (key {have}) is not the key this workspace signed its "
                                f"certificates with (key {want}): restore this workspace's key with "
                                f"`privacyops key restore BACKUP`; nothing was changed")


def record_signing(ws: Workspace, kid: str) -> None:
    """Record the signing key's id once (the first certificate signed): later signatures must use the same key."""
    with open_ledger(ws) as con:
        if con.execute("SELECT value FROM meta WHERE key = ?", [keyguard.META_SIGNING]).fetchone() is None:
            # Insert-only (never overwrite): the roles `privacyops person grants` sets up may add a meta row only.
            con.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT DO NOTHING", [keyguard.META_SIGNING, kid])


@dataclass(frozen=True)
class KeyStatus:
    """What `privacyops key show` prints: fingerprints and generations, never a secret."""

    on_disk: str | None  # fingerprint of keys/workspace.key, None when missing
    problem: str | None  # why the file is not a usable key
    generations: int
    recorded: str | None  # fingerprint the ledger recorded
    recorded_generations: int | None
    signing_on_disk: str | None
    signing_recorded: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.on_disk is not None and self.recorded in (None, self.on_disk) and \
            self.signing_recorded in (None, self.signing_on_disk)


def key_status(ws: Workspace) -> KeyStatus:
    """The keys on disk and what the ledger recorded (reads only; works with a missing or damaged key)."""
    problem, fp, gens = None, None, 0
    try:
        key = read_key(ws.keys_dir)
        if key is not None:
            fp, gens = fingerprint(key), len(generations(key))
    except WorkspaceKeyError as exc:
        problem = str(exc)
    facts: dict[str, str] = {}
    if ledger_exists(ws):
        with open_ledger(ws, check_keys=False) as con:
            facts = keyguard.recorded(con)
    try:
        signing = _on_disk_signing_id(ws)
    except WorkspaceKeyError:
        signing = "damaged"
    rec_gens = facts.get(keyguard.META_GENERATIONS)
    return KeyStatus(fp, problem, gens, facts.get(keyguard.META_FP), int(rec_gens) if rec_gens else None, signing,
                     facts.get(keyguard.META_SIGNING))


__all__ = ["workspace_key", "forget_checked", "signing_id_of", "check_signing", "record_signing", "key_status",
           "KeyStatus"]
