"""Workspace keys and the primitives built on them (keyed hashes so logs never hold personal data)."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from ..errors import InputError, WorkspaceKeyError

SECRET_FILE = "workspace.key"
NEXT_FILE = "workspace.key.next"  # a rotation's new key, promoted once the ledger is re-keyed
KEY_BYTES = 32  # one generation; the file holds every generation, oldest first
RESTORE_HINT = "`privacyops key restore BACKUP`"


def fingerprint(secret: bytes) -> str:
    """A public name for a key (all its generations): 16 hex digits of a domain-separated SHA-256."""
    return hashlib.sha256(b"privacyops-workspace-key\x00" + secret).hexdigest()[:16]


def generations(secret: bytes) -> list[bytes]:
    """The key's generations, oldest first (32 bytes each)."""
    return [secret[i:i + KEY_BYTES] for i in range(0, len(secret), KEY_BYTES)]


def key_problem(data: bytes) -> str | None:
    """Why these bytes are not a workspace key (None when they are one)."""
    if not data:
        return "empty"
    # Random bytes are practically never all printable: a text file (a hex dump, a note) put in the key's place.
    if all(32 <= b < 127 or b in (9, 10, 13) for b in data):
        return "text, not a key (garbage or a copy in the wrong format)"
    if len(data) % KEY_BYTES:
        return f"truncated or damaged ({len(data)} bytes; a key is a multiple of {KEY_BYTES})"
    return None


def read_key(keys_dir: Path) -> bytes | None:
    """The key file's bytes, None when there is none; WorkspaceKeyError when it is not a key. Never creates."""
    path = keys_dir / SECRET_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WorkspaceKeyError(f"keys/{SECRET_FILE} cannot be read ({exc.strerror or exc}): check the keys "
                                f"folder's permissions; nothing was changed") from None
    problem = key_problem(data)
    if problem:
        raise WorkspaceKeyError(f"keys/{SECRET_FILE} is {problem}: restore it with {RESTORE_HINT}; "
                                f"nothing was changed")
    return data


def create_key(keys_dir: Path) -> bytes:
    """Make the key of a brand-new workspace (owner-only); when another process made one first, use that one."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / SECRET_FILE
    # Write a complete key under a unique name, then link it into place: link() fails if another process
    # got there first, and then everyone uses that one key (never two keys, never half a key).
    tmp = keys_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    _write_private(tmp, secrets.token_bytes(KEY_BYTES))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    key = read_key(keys_dir)
    assert key is not None
    return key


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_key_file(path: Path, data: bytes) -> None:
    """Replace a file in keys/ atomically with owner-only permissions (rotation, restore)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    _write_private(tmp, data)
    os.replace(tmp, path)


def workspace_secret(keys_dir: Path) -> bytes:
    """The workspace key as it is on disk, never created here (WorkspaceKeyError when missing or damaged).

    Commands use `privacyops.ledger.keyring.workspace_key(ws)`, which also checks the key against the fingerprint
    the ledger recorded and makes the key of a brand-new workspace."""
    key = read_key(keys_dir)
    if key is None:
        raise WorkspaceKeyError(f"keys/{SECRET_FILE} is missing: restore it with {RESTORE_HINT}; nothing was changed")
    return key


def keyed_hash(secret: bytes, value: str, purpose: str = "identifier") -> str:
    """HMAC-SHA256 of a value, domain-separated by purpose: lets the ledger match values without holding them.

    Under a key of several generations (after `privacyops key rotate`) the hash is chained: h1 = HMAC(k1,
    purpose\0value), hg = HMAC(kg, h(g-1)); so a rotation re-keys stored hashes without knowing the values, and a
    copy of an old generation cannot match the hashes stored now."""
    return keyed_hash_generations(secret, value, purpose)[-1]


def keyed_hash_generations(secret: bytes, value: str, purpose: str = "identifier") -> list[str]:
    """The value's keyed hash under each generation, oldest first (to search immutable records, the audit log)."""
    gens = generations(secret)
    try:
        data = f"{purpose}\x00{value}".encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8 (a panel or notebook, not the CLI)
        raise InputError("an identifier contains bytes that are not UTF-8; retype it") from None
    out = [hmac.new(gens[0], data, hashlib.sha256).hexdigest()]
    for k in gens[1:]:
        out.append(rekey_hash(k, out[-1]))
    return out


def rekey_hash(generation_key: bytes, stored: str) -> str:
    """A stored hash carried to the next generation (what `key rotate` does to every keyed hash in the ledger)."""
    return hmac.new(generation_key, stored.encode("ascii"), hashlib.sha256).hexdigest()


def forward_forms(secret: bytes, hashes: "set[str] | list[str] | tuple[str, ...]") -> set[str]:
    """Hashes recorded under any earlier generation (erasure plans keep theirs), carried to the current one:
    each hash as it is and as if it were of generation 1, 2, ... (a wrong guess matches nothing)."""
    gens = generations(secret)
    out = set(hashes)
    for h in hashes:
        for start in range(1, len(gens)):
            cur = h
            for k in gens[start:]:
                cur = rekey_hash(k, cur)
            out.add(cur)
    return out


def pseudonym_secret(secret: bytes) -> bytes:
    """The key erasure pseudonyms are made with: the first generation, stable across rotations (docs/keys.md)."""
    return secret[:KEY_BYTES]


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
