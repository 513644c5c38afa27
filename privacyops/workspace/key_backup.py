"""Key backups: every file in keys/ sealed under a passphrase (scrypt, then AES-256-GCM), one file to keep offline.

Layout: one JSON header line (format, version, scrypt parameters, salt, nonce, the workspace key's fingerprint —
public, so a restore can name it before decrypting), then the ciphertext of a JSON object {file name: base64
bytes}. The header is the AEAD's associated data: changing either part is detected; a wrong passphrase and a
damaged backup fail the same authentication.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

from ..errors import WorkspaceKeyError
from .keys import SECRET_FILE, fingerprint, key_problem

FORMAT = "privacyops-key-backup"
VERSION = 1
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1  # ~32 MiB and a fraction of a second per try
MIN_PASSPHRASE = 8


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def key_files(keys_dir: Path) -> dict[str, bytes]:
    """Every file of the keys folder (not the temporary ones a write leaves for an instant)."""
    if not keys_dir.is_dir():
        raise WorkspaceKeyError(f"{keys_dir} does not exist: there are no keys to back up")
    files = {p.name: p.read_bytes() for p in sorted(keys_dir.iterdir())
             if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".next")}
    if not files:
        raise WorkspaceKeyError(f"{keys_dir} holds no key files: there is nothing to back up")
    return files


def seal(files: dict[str, bytes], passphrase: str) -> bytes:
    """A backup of `files` under `passphrase` (see the module's docstring for the layout)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(passphrase) < MIN_PASSPHRASE:
        raise WorkspaceKeyError(f"the passphrase is too short: use at least {MIN_PASSPHRASE} characters")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    key = files.get(SECRET_FILE)
    header = json.dumps({"format": FORMAT, "version": VERSION, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R,
                         "p": SCRYPT_P, "salt": base64.b64encode(salt).decode(),
                         "nonce": base64.b64encode(nonce).decode(),
                         "workspace_key": fingerprint(key) if key and not key_problem(key) else None},
                        sort_keys=True).encode() + b"\n"
    body = json.dumps({n: base64.b64encode(d).decode() for n, d in files.items()}, sort_keys=True).encode()
    return header + AESGCM(_derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(nonce, body, header)


def write_backup(keys_dir: Path, out: Path, passphrase: str) -> list[str]:
    """Write a backup of keys/ to `out` (owner-only; an existing file is never overwritten). Returns the names."""
    files = key_files(keys_dir)
    data = seal(files, passphrase)
    if not out.parent.is_dir():
        raise WorkspaceKeyError(f"{out.parent} does not exist: create the folder for the backup first")
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise WorkspaceKeyError(f"{out} already exists: a backup never overwrites a file; choose another name") \
            from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return sorted(files)


def header_of(data: bytes) -> dict:
    """The backup's public header (WorkspaceKeyError when the bytes are not a privacyops key backup)."""
    line, _, _ = data.partition(b"\n")
    try:
        head = json.loads(line)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get("format") != FORMAT or head.get("version") != VERSION:
        raise WorkspaceKeyError("this file is not a privacyops key backup (made by `privacyops key backup`)")
    return head


def open_backup(path: Path, passphrase: str) -> dict[str, bytes]:
    """The files in a backup: WorkspaceKeyError when the passphrase is wrong or the backup damaged."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WorkspaceKeyError(f"cannot read the backup {path} ({exc.strerror or exc})") from None
    head = header_of(data)
    header, _, sealed = data.partition(b"\n")
    try:
        key = _derive(passphrase, base64.b64decode(head["salt"]), int(head["n"]), int(head["r"]), int(head["p"]))
        body = AESGCM(key).decrypt(base64.b64decode(head["nonce"]), sealed, header + b"\n")
    except (InvalidTag, KeyError, ValueError, TypeError):
        raise WorkspaceKeyError(f"cannot open the backup {path}: wrong passphrase, or the file was damaged; "
                                f"nothing was changed") from None
    files = {str(n): base64.b64decode(d) for n, d in json.loads(body).items()}
    if any("/" in n or "\\" in n or n.startswith(".") for n in files):
        raise WorkspaceKeyError(f"the backup {path} names a file outside keys/: refused")
    return files


__all__ = ["write_backup", "open_backup", "header_of", "key_files", "seal", "MIN_PASSPHRASE"]
