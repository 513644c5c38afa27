"""A person's own Ed25519 key pair: who acts, proven by a signature rather than by a name anyone can type.

`privacyops person init --name NAME` writes the key file OUTSIDE any workspace (default `$PRIVACYOPS_PERSON_KEY`,
else `~/.config/privacyops/person.key`), owner-only (0600), never overwritten. The file is JSON:

    {"type": "privacyops.person-key", "name": "...", "private_key": "<base64 raw 32 bytes>",
     "public_key": "ed25519:<base64 raw 32 bytes>"}

Its public half (`ed25519:<base64>`, and its key id: the first 16 hex digits of its SHA-256) goes to an admin, who
registers it in the ledger (`privacyops.ledger.people`). Which name a key acts under comes from that registry, not
from the file: once the registry has confirmed a key in this process (`remember_proven`), `current_actor()` returns
the registered name. This module is pure cryptography and files; the registry lives in the ledger layer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IdentityError

KEY_ENV = "PRIVACYOPS_PERSON_KEY"
KEY_TYPE = "privacyops.person-key"
PREFIX = "ed25519:"
_PROVEN: dict[str, str] = {}  # key id -> registered name, confirmed by the registry in this process
_LOADED: dict[tuple[str, float], PersonKey] = {}  # (path, mtime) -> key: current_actor() reads it often


def default_key_path() -> Path:
    """`$PRIVACYOPS_PERSON_KEY`, else `~/.config/privacyops/person.key`."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".config" / "privacyops" / "person.key"


def key_id_of(public_raw: bytes) -> str:
    """The key id: the first 16 hex digits of the public key's SHA-256 (as the workspace signing key's)."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def public_line(public_raw: bytes) -> str:
    """The public key as one line to hand to an admin: `ed25519:<base64>`."""
    return PREFIX + base64.b64encode(public_raw).decode("ascii")


def parse_public_key(line: str) -> bytes:
    """The raw 32 bytes of an `ed25519:<base64>` line (refused with what is expected)."""
    text = (line or "").strip()
    if not text.startswith(PREFIX):
        raise IdentityError(f"'{text[:40]}' is not a person's public key: expected ed25519:<base64>, as "
                            f"`privacyops person init` prints it")
    try:
        raw = base64.b64decode(text[len(PREFIX):], validate=True)
    except ValueError:
        raise IdentityError("the public key is not valid base64 (expected ed25519:<base64>)") from None
    if len(raw) != 32:
        raise IdentityError(f"the public key has {len(raw)} bytes; an Ed25519 public key has 32")
    return raw


def canonical(payload: dict[str, Any]) -> bytes:
    """What is signed: the payload as JSON, keys sorted, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify(public_raw: bytes, payload: dict[str, Any], signature_b64: str) -> bool:
    """Whether `signature_b64` is the Ed25519 signature of `payload` by the key `public_raw`."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(base64.b64decode(signature_b64, validate=True),
                                                             canonical(payload))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


@dataclass(frozen=True)
class PersonKey:
    """A person's private key (loaded from their key file) and the name they gave it."""

    name: str
    path: Path
    private: Any  # Ed25519PrivateKey
    public_raw: bytes

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_raw)

    @property
    def public_key(self) -> str:
        return public_line(self.public_raw)

    def sign(self, payload: dict[str, Any]) -> str:
        """The base64 Ed25519 signature of the payload's canonical JSON."""
        return base64.b64encode(self.private.sign(canonical(payload))).decode("ascii")


def _inside_workspace(path: Path) -> Path | None:
    """The workspace folder (one holding privacyops.yaml) that `path` would be inside, if any."""
    for folder in path.resolve().parents:
        if (folder / "privacyops.yaml").is_file():
            return folder
    return None


def init_person_key(name: str, out: str | Path | None = None) -> PersonKey:
    """Create a person's key pair at `out` (default: `default_key_path()`), owner-only; refuses to overwrite an
    existing file and to write inside a workspace folder (a person's key must not travel with the workspace)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    name = (name or "").strip()
    if not name:
        raise IdentityError("give the person's name: privacyops person init --name NAME")
    path = Path(out).expanduser() if out else default_key_path()
    if path.exists():
        raise IdentityError(f"{path} already exists; a person key is never overwritten (choose another path with "
                            f"--out, or remove the old key on purpose)")
    ws = _inside_workspace(path)
    if ws is not None:
        raise IdentityError(f"{path} is inside the workspace {ws}: a person's key is kept outside every workspace "
                            f"(default ~/.config/privacyops/person.key, or --out PATH)")
    key = Ed25519PrivateKey.generate()
    raw_priv = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw_pub = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    doc = {"type": KEY_TYPE, "name": name, "private_key": base64.b64encode(raw_priv).decode("ascii"),
           "public_key": public_line(raw_pub)}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # O_EXCL: never overwrite, even in a race
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(doc, indent=2) + "\n")
    os.chmod(path, 0o600)  # whatever the umask
    return PersonKey(name, path, key, raw_pub)


def load_person_key(path: str | Path | None = None, *, required: bool = True) -> PersonKey | None:
    """The key at `path` (default `default_key_path()`). Missing: None, or (required) an error saying how to make
    one. A key readable by others than its owner is refused (like ssh): anyone who can read it can act as you."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = Path(path).expanduser() if path else default_key_path()
    try:
        st = p.stat()
    except FileNotFoundError:
        if not required:
            return None
        raise IdentityError(f"no person key at {p}: people are registered in this workspace, so every acting "
                            f"command is signed with your own key — create one with `privacyops person init --name "
                            f"NAME` (or set {KEY_ENV} to your key file) and have an admin register its public key "
                            f"(privacyops person register)") from None
    cached = _LOADED.get((str(p), st.st_mtime))
    if cached is not None:
        return cached
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise IdentityError(f"{p} can be read by others than you (mode {stat.S_IMODE(st.st_mode):o}); a person "
                            f"key must be owner-only: chmod 600 {p}")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
        if doc.get("type") != KEY_TYPE:
            raise ValueError("type")
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(doc["private_key"], validate=True))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise IdentityError(f"{p} is not a privacyops person key (damaged or another file); make a new one with "
                            f"privacyops person init and have it registered") from None
    except OSError as exc:
        raise IdentityError(f"cannot read the person key {p}: {exc.strerror or exc}") from None
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    loaded = PersonKey(str(doc.get("name") or ""), p, key, key.public_key().public_bytes(Encoding.Raw,
                                                                                          PublicFormat.Raw))
    _LOADED[(str(p), st.st_mtime)] = loaded
    return loaded


def remember_proven(key_id: str, name: str) -> None:
    """The registry confirmed this key as this person (in this process): `current_actor()` names them."""
    _PROVEN[key_id] = name


def forget_proven(key_id: str | None = None) -> None:
    """Forget a confirmation (revoked, or refused), or all of them."""
    if key_id is None:
        _PROVEN.clear()
    else:
        _PROVEN.pop(key_id, None)


def proven_name() -> str | None:
    """The registered name of the person whose key file is in place, when the registry confirmed it in this
    process; None otherwise (never raises: `current_actor()` falls back to the unproven name)."""
    if not _PROVEN:
        return None
    try:
        key = load_person_key(required=False)
    except (IdentityError, OSError):
        return None
    return _PROVEN.get(key.key_id) if key is not None else None


__all__ = ["KEY_ENV", "PersonKey", "canonical", "default_key_path", "forget_proven", "init_person_key",
           "key_id_of", "load_person_key", "parse_public_key", "proven_name", "public_line", "remember_proven",
           "verify"]
