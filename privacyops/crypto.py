"""Workspace keys and the primitives built on them (keyed hashes so logs never hold personal data)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = "workspace.key"
_SECRETS: dict[Path, bytes] = {}  # read once per process


def workspace_secret(keys_dir: Path) -> bytes:
    """The workspace's 32-byte secret, created on first use with owner-only permissions."""
    path = keys_dir / SECRET_FILE
    cached = _SECRETS.get(path)
    if cached and path.exists():
        return cached
    keys_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Write a complete key under a unique name, then link it into place: link() fails if another process
        # got there first, and then everyone uses that one key (never two keys, never half a key).
        tmp = keys_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not a privacyops key (expected 32 bytes); restore it from backup")
    _SECRETS[path] = key
    return key


def keyed_hash(secret: bytes, value: str, purpose: str = "identifier") -> str:
    """HMAC-SHA256 of a value, domain-separated by purpose: lets the ledger match values without holding them."""
    return hmac.new(secret, f"{purpose}\x00{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()
