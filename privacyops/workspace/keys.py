"""Workspace keys and the primitives built on them (keyed hashes so logs never hold personal data)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ..errors import InputError

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
    try:
        data = f"{purpose}\x00{value}".encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 (a panel or notebook, not the CLI)
        raise InputError("an identifier contains bytes that are not UTF-8; retype it") from None
    return hmac.new(secret, data, hashlib.sha256).hexdigest()


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


# -- signing (erasure certificates) -----------------------------------------------------------------------------
# An Ed25519 key pair in keys/: `signing.key` (PKCS#8 PEM, owner-only) and `signing.pub` (the public key, PEM).
# Certificates carry the raw public key and its id (the first 16 hex digits of its SHA-256), so anyone can check a
# certificate's integrity; comparing the id with a workspace's `signing.pub` shows which workspace signed it.

SIGNING_KEY_FILE = "signing.key"
SIGNING_PUB_FILE = "signing.pub"


def signing_key(keys_dir: Path):
    """The workspace's Ed25519 private key, created on first use (private key 0600, public key beside it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = keys_dir / SIGNING_KEY_FILE
    keys_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = keys_dir / f".{SIGNING_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # as workspace_secret: the first process to link wins, everyone uses its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not an Ed25519 private key ({exc}); restore it from backup") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key; restore it from backup")
    pub = keys_dir / SIGNING_PUB_FILE
    pem_pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    if not pub.exists() or pub.read_bytes() != pem_pub:
        tmp = keys_dir / f".{SIGNING_PUB_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        tmp.write_bytes(pem_pub)
        os.replace(tmp, pub)
    return key


def public_key_raw(key) -> bytes:
    """The 32 raw bytes of an Ed25519 public (or private) key's public half."""
    from cryptography.hazmat.primitives import serialization

    pub = key.public_key() if hasattr(key, "public_key") else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def workspace_public_key_id(keys_dir: Path) -> str | None:
    """The id of the workspace's signing public key (`keys/signing.pub`), None when it has none."""
    from cryptography.hazmat.primitives import serialization

    path = keys_dir / SIGNING_PUB_FILE
    if not path.is_file():
        return None
    try:
        return key_id(public_key_raw(serialization.load_pem_public_key(path.read_bytes())))
    except (ValueError, TypeError):
        return None
