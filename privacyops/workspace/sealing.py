"""Sealing: what privacyops itself keeps about people, encrypted at rest with the workspace key.

A sealed value is one line of ASCII text (it fits any VARCHAR column, on DuckDB and PostgreSQL alike):

    po-sealed:v1:<purpose>:<key fingerprint>:<base64url(nonce ‖ AES-256-GCM ciphertext ‖ tag)>

* The key is derived with HKDF-SHA256 from the workspace secret (`keys/workspace.key`), one key per purpose (the
  HKDF `info` names it): a value sealed for one purpose never opens as another, and the keys used for sealing are
  never the ones used for keyed hashes.
* The header (version, purpose, fingerprint) is the GCM associated data: changing any of it, or one byte of the
  ciphertext, makes opening fail with a `SealingError` that says so — never garbage.
* The fingerprint (16 hex digits of an HMAC of a fixed label under the secret) names the key without revealing
  it: a value sealed under another workspace's key (or before a key rotation) is told apart from a damaged one.

`open_text` reads both forms — a sealed value, or a clear one an earlier privacyops wrote — so old ledgers still
load; new writes are sealed. `reseal_ledger` re-encrypts every sealed value of a ledger under a new secret (key
rotation); `reseal_file` does the same for a sealed file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import zlib
from pathlib import Path
from typing import Any

from ..errors import SealingError

PREFIX = "po-sealed"
VERSION = "v1"  # AES-256-GCM, random nonce: equal contents give different tokens
DETERMINISTIC = "d1"  # AES-SIV (RFC 5297), no nonce: equal contents give equal tokens, so SQL can match them
_KEYS: dict[tuple[bytes, str, str], bytes] = {}
_CIPHERS: dict[tuple[bytes, str, str], Any] = {}
_FPS: dict[bytes, str] = {}
NONCE_BYTES = 12
_SALT = b"privacyops-seal-v1"
_PURPOSE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# The audit log is never resealed: its hash chain covers every byte of an entry (and it holds no personal data).
NEVER_RESEALED = frozenset({"audit_log", "audit_head"})
_TEXT_TYPES = ("varchar", "text", "character varying", "string")

# Purposes of the values privacyops seals (one derived key each).
PLAN_BODY = "erasure-plan-body"
ROW_KEY = "row-key"  # the schedule's and the restriction register's row keys (deterministic: matched in SQL)


def key_fingerprint(secret: bytes) -> str:
    """16 hex digits naming the secret (an HMAC of a fixed label: it reveals nothing about the secret)."""
    secret = bytes(secret)
    fp = _FPS.get(secret)
    if fp is None:
        fp = _FPS[secret] = hmac.new(secret, b"privacyops/seal/fingerprint", hashlib.sha256).hexdigest()[:16]
    return fp


def _cipher(secret: bytes, purpose: str, version: str) -> Any:
    """The AEAD object for one key, made once per process (schedules seal and open thousands of row keys)."""
    cache = (bytes(secret), purpose, version)
    got = _CIPHERS.get(cache)
    if got is None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV

        key = derive_key(secret, purpose, version)
        got = _CIPHERS[cache] = AESSIV(key) if version == DETERMINISTIC else AESGCM(key)
    return got


def _check_purpose(purpose: str) -> None:
    if not _PURPOSE.match(purpose or ""):
        raise ValueError(f"sealing purpose {purpose!r}: lower-case letters, digits, '.', '_' or '-', at most 64")


def derive_key(secret: bytes, purpose: str, version: str = VERSION) -> bytes:
    """The AES key for one purpose: HKDF-SHA256 from the workspace secret, `info` = version and purpose (256 bits
    for AES-GCM; 512 for AES-SIV, which splits it in two)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    _check_purpose(purpose)
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < 16:
        raise ValueError("the workspace secret must be at least 16 bytes")
    cache = (bytes(secret), purpose, version)
    if cache not in _KEYS:  # due runs seal thousands of row keys: derive each key once per process
        _KEYS[cache] = HKDF(algorithm=hashes.SHA256(), length=64 if version == DETERMINISTIC else 32, salt=_SALT,
                            info=f"privacyops/seal/{version}/{purpose}".encode("ascii")).derive(bytes(secret))
    return _KEYS[cache]


def _header(purpose: str, fingerprint: str, version: str = VERSION) -> str:
    return f"{PREFIX}:{version}:{purpose}:{fingerprint}"


def is_sealed(value: Any) -> bool:
    """Whether a stored value is a sealed token (anything else is clear text from an earlier privacyops)."""
    return isinstance(value, str) and value.startswith(PREFIX + ":")


def seal(secret: bytes, purpose: str, data: bytes | str) -> str:
    """Encrypt `data` (bytes, or text as UTF-8) for `purpose` under the workspace secret: a token (ASCII text)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    header = _header(purpose, key_fingerprint(secret))
    nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: far below GCM's 2^32-messages-per-key bound here
    ct = _cipher(secret, purpose, VERSION).encrypt(nonce, raw, header.encode("ascii"))
    return f"{header}:{base64.urlsafe_b64encode(nonce + ct).decode('ascii').rstrip('=')}"


def seal_deterministic(secret: bytes, purpose: str, text: str) -> str:
    """Seal text so that equal texts give equal tokens (AES-SIV, RFC 5297): for values the ledger must match in SQL
    (`=`, `IN`, unique keys) without holding them. Reveals only which stored values are equal."""
    header = _header(purpose, key_fingerprint(secret), DETERMINISTIC)
    ct = _cipher(secret, purpose, DETERMINISTIC).encrypt(text.encode("utf-8"), [header.encode("ascii")])
    return f"{header}:{base64.urlsafe_b64encode(ct).decode('ascii').rstrip('=')}"


def parse(token: str) -> tuple[str, str, str, bytes]:
    """(version, purpose, fingerprint, nonce ‖ ciphertext) of a token; `SealingError` when it is not one."""
    parts = token.split(":") if isinstance(token, str) else []
    if len(parts) != 5 or parts[0] != PREFIX:
        raise SealingError("not a sealed privacyops value (expected po-sealed:VERSION:PURPOSE:KEY:DATA); the "
                           "stored value is damaged")
    _, version, purpose, fp, data = parts
    try:
        blob = base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_", validate=True)
    except (ValueError, TypeError):
        raise SealingError(f"sealed {purpose} value: its data is not base64 — the stored value is damaged") from None
    return version, purpose, fp, blob


def unseal(secret: bytes, purpose: str, token: str) -> bytes:
    """Decrypt a token sealed for `purpose`. Raises `SealingError` saying which: another version, another purpose,
    another key (by fingerprint), or altered/damaged content."""
    from cryptography.exceptions import InvalidTag

    version, got_purpose, fp, blob = parse(token)
    if version not in (VERSION, DETERMINISTIC):
        raise SealingError(f"sealed value of format {version!r}: this privacyops reads {VERSION} and "
                           f"{DETERMINISTIC}; upgrade privacyops")
    if got_purpose != purpose:
        raise SealingError(f"sealed value is a {got_purpose!r}, not a {purpose!r}: it was copied from elsewhere "
                           f"in the ledger")
    mine = key_fingerprint(secret)
    if fp != mine:
        raise SealingError(f"sealed {purpose} value was sealed with workspace key {fp}, but this workspace's key is "
                           f"{mine}: restore the keys/workspace.key it was made with (or, after a key rotation "
                           f"that was interrupted, run the rotation again with the old key)")
    if len(blob) < (16 if version == DETERMINISTIC else NONCE_BYTES + 16):
        raise SealingError(f"sealed {purpose} value is truncated: the stored value is damaged")
    aad = _header(purpose, fp, version).encode("ascii")
    try:
        if version == DETERMINISTIC:
            return _cipher(secret, purpose, version).decrypt(blob, [aad])
        return _cipher(secret, purpose, version).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag:
        raise SealingError(f"sealed {purpose} value (key {fp}) does not authenticate: it was altered or damaged "
                           f"after it was written") from None


def seal_text(secret: bytes, purpose: str, text: str) -> str:
    return seal(secret, purpose, text.encode("utf-8"))


def open_text(secret: bytes, purpose: str, value: str) -> str:
    """A stored text value in clear: unsealed when sealed, as it is when an earlier privacyops stored it clear;
    unpacked when it was packed (`pack`)."""
    if not is_sealed(value):
        return unpack(value)
    return unpack(unseal(secret, purpose, value).decode("utf-8"))


PACKED = "po-packed:zlib:"  # the start of a packed text (no JSON text, no sealed value starts so)
PACK_OVER = 1 << 20  # characters: smaller texts are stored as they are


def pack(text: str) -> str:
    """A long text (over PACK_OVER characters) compressed, as ASCII text (zlib, base64): a batch plan's body is
    20 MB of JSON repeating itself, a tenth of it packed — sealed, stored and read back in a tenth of the time.
    `open_text` unpacks it; shorter texts are returned as they are."""
    if len(text) <= PACK_OVER:
        return text
    return PACKED + base64.b64encode(zlib.compress(text.encode("utf-8"), 1)).decode("ascii")


def unpack(text: str) -> str:
    """The text `pack` packed (any other text as it is)."""
    if not text.startswith(PACKED):
        return text
    try:
        return zlib.decompress(base64.b64decode(text[len(PACKED):], validate=True)).decode("utf-8")
    except (ValueError, zlib.error) as exc:  # binascii.Error is a ValueError
        raise SealingError(f"a packed value is damaged ({exc}): it was altered or cut short") from None


def reseal(token: str, old_secret: bytes, new_secret: bytes) -> str:
    """The same content sealed (same purpose) under `new_secret`. A token already under the new key is returned
    as it is (an interrupted rotation can run again)."""
    version, purpose, fp, _ = parse(token)
    if fp == key_fingerprint(new_secret):
        return token
    clear = unseal(old_secret, purpose, token)
    if version == DETERMINISTIC:  # stays deterministic: equal values stay equal under the new key
        return seal_deterministic(new_secret, purpose, clear.decode("utf-8"))
    return seal(new_secret, purpose, clear)


def _text_columns(con: Any) -> list[tuple[str, str]]:
    rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position").fetchall()
    return [(t, c) for t, c, ty in rows if t not in NEVER_RESEALED and str(ty).lower().startswith(_TEXT_TYPES)]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reseal_ledger(con: Any, old_secret: bytes, new_secret: bytes) -> int:
    """Re-encrypt every sealed value of an open ledger (`LedgerConnection`) under `new_secret`; returns how many
    stored values changed. Every text column of every ledger table is searched (names come from the ledger's own
    catalogue), so values sealed by any part of privacyops are covered. Run it inside the caller's transaction:
    any value that does not open under `old_secret` raises `SealingError` and the caller rolls back. Values
    already under the new key are left alone, so a rotation can be run again."""
    changed = 0
    for table, column in _text_columns(con):
        col, tab = _q(column), _q(table)
        found = con.execute(f"SELECT {col}, count(*) FROM {tab} WHERE {col} LIKE ? GROUP BY {col}",
                            [PREFIX + ":%"]).fetchall()
        pairs = []
        for old, n in found:
            try:
                new = reseal(old, old_secret, new_secret)
            except SealingError as exc:
                raise SealingError(f"ledger {table}.{column}: {exc}") from None
            if new != old:
                pairs.append((old, new))
                changed += int(n)
        _replace(con, tab, col, pairs)
    return changed


def _replace(con: Any, tab: str, col: str, pairs: list[tuple[str, str]]) -> None:
    """Replace each old token by its new one, set-based: a token names its rows (a random nonce makes it unique;
    a deterministic one stands for one value), so no table key is needed."""
    if not pairs:
        return
    con.execute("CREATE TEMPORARY TABLE IF NOT EXISTS po_reseal (old_token VARCHAR, new_token VARCHAR)")
    con.execute("DELETE FROM po_reseal")
    for i in range(0, len(pairs), 500):
        part = pairs[i:i + 500]
        con.execute("INSERT INTO po_reseal VALUES " + ", ".join(["(?, ?)"] * len(part)), [v for p in part for v in p])
    con.execute(f"UPDATE {tab} SET {col} = po_reseal.new_token FROM po_reseal WHERE {tab}.{col} = po_reseal.old_token")
    con.execute("DELETE FROM po_reseal")


def seal_file(path: Path, secret: bytes, purpose: str, data: bytes) -> None:
    """Write `data` sealed to `path` (whole file replaced atomically, owner-only permissions)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(seal(secret, purpose, data) + "\n")
    os.replace(tmp, path)


def unseal_file(path: Path, secret: bytes, purpose: str) -> bytes:
    """The clear content of a file written by `seal_file`."""
    try:
        token = Path(path).read_text(encoding="ascii").strip()
    except (UnicodeDecodeError, ValueError):
        raise SealingError(f"{path} is not a sealed privacyops file") from None
    try:
        return unseal(secret, purpose, token)
    except SealingError as exc:
        raise SealingError(f"{path}: {exc}") from None


def reseal_file(path: Path, old_secret: bytes, new_secret: bytes) -> bool:
    """Re-encrypt a sealed file under `new_secret`; True when it changed (False: already under the new key)."""
    token = Path(path).read_text(encoding="ascii").strip()
    try:
        new = reseal(token, old_secret, new_secret)
    except SealingError as exc:
        raise SealingError(f"{path}: {exc}") from None
    if new == token:
        return False
    tmp = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new + "\n")
    os.replace(tmp, path)
    return True


__all__ = [
    "DETERMINISTIC",
    "PLAN_BODY",
    "ROW_KEY",
    "SealingError",
    "derive_key",
    "is_sealed",
    "key_fingerprint",
    "open_text",
    "pack",
    "parse",
    "reseal",
    "reseal_file",
    "reseal_ledger",
    "seal",
    "seal_deterministic",
    "seal_file",
    "seal_text",
    "unpack",
    "unseal",
    "unseal_file",
]
