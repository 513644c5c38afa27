"""Keys, entry MACs and signed checkpoints of the audit log.

The public chain (SHA-256 over each entry and the previous hash) lets anyone recompute the log, so it proves
nothing against someone who rewrites the ledger and recomputes it. Two keyed layers close that gap:

- every entry carries an HMAC-SHA256 over its sequence number and hash, keyed with a key derived (HKDF) from the
  workspace's Ed25519 signing key (`keys/signing.key`): an entry appended by anything but privacyops fails it;
- after every append a **checkpoint** {number, seq, hash, entries, at, key_id, signature} is signed with that
  Ed25519 key and written to the sink the map names (`audit: {checkpoints: ...}`): an append-only file held by
  another team, a PostgreSQL table, or one line on stderr for a log collector. Checkpoints are numbered without
  gaps, so a deleted checkpoint is noticed; anyone with the public key can check them.

The ledger's own head (`audit.head` beside an embedded ledger, the `audit_head` row of a shared one) holds the
latest checkpoint; an entry past it was written by a process stopped before its checkpoint (or forged) and is
never extended silently: the next append checks its MAC and records an `audit.confirm` entry naming it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AuditChainError
from ..workspace import Workspace
from ..workspace.keys import SIGNING_PUB_FILE, key_id, public_key_raw, signing_key

GENESIS = "0" * 64
HEAD_FILE = "audit.head"
CHECKPOINT_FIELDS = ("number", "seq", "hash", "entries", "at", "key_id")
SINK_TABLE = "privacyops_audit_checkpoints"
_KEYS: dict[tuple[str, float], tuple[Any, bytes, str]] = {}  # (signing.key path, mtime) -> key, MAC key, id


def canonical(obj: Any) -> str:
    """The one JSON text hashed and signed: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(seq: int, at: str, actor: str, action: str, case_id: str | None, subject_hash: str | None,
               details_json: str, prev_hash: str) -> str:
    """The public SHA-256 of one entry, chained to the previous one (anyone can recompute it)."""
    body = canonical([seq, at, actor, action, case_id, subject_hash, details_json, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def entry_mac(mac_key: bytes, seq: int, h: str) -> str:
    """The keyed MAC of entry `seq` (its hash covers its content and every entry before it)."""
    return hmac.new(mac_key, f"audit-entry\x00{seq}\x00{h}".encode(), hashlib.sha256).hexdigest()


# -- keys ---------------------------------------------------------------------------------------------------------


def audit_keys(ws: Workspace, create: bool = True) -> tuple[Any, bytes, str]:
    """(Ed25519 private key, entry-MAC key, key id), the signing key created on first use (`create`; a verifier
    only reads it, never writes keys). The MAC key is derived from the signing key by HKDF, not from
    keys/workspace.key (which can be rotated)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    path = ws.keys_dir / "signing.key"
    if create and not path.exists() and (ws.keys_dir / SIGNING_PUB_FILE).exists():
        # The workspace had a key (its public half is here): a new one would sign a log nobody can tie to the old
        raise AuditChainError(f"{path} is missing although keys/{SIGNING_PUB_FILE} shows this workspace had one; "
                              f"restore keys/signing.key from your backup")
    try:
        stamp = path.stat().st_mtime if path.exists() else 0.0
        got = _KEYS.get((str(path), stamp))
        if got:
            return got
        if create:
            key = signing_key(ws.keys_dir)
        else:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
    except (ValueError, TypeError, OSError) as exc:
        raise AuditChainError(f"the audit log's signing key cannot be used: {exc}") from None
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"privacyops-audit",
                   info=b"audit entry mac v1").derive(raw)
    got = (key, mac_key, key_id(public_key_raw(key)))
    _KEYS[(str(path), path.stat().st_mtime)] = got
    return got


def mac_key_if_present(ws: Workspace) -> bytes | None:
    """The entry-MAC key when this workspace holds the private signing key (a verifier elsewhere has none)."""
    if not (ws.keys_dir / "signing.key").is_file():
        return None
    return audit_keys(ws, create=False)[1]


def load_public_key(pem: bytes | str | Path | None, ws: Workspace | None = None) -> tuple[Any, str]:
    """An Ed25519 public key (PEM text or a path to it; the workspace's `keys/signing.pub` when None) and its id.
    AuditChainError when it is missing or is not such a key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    where = "the public key given"
    if pem is None:
        if ws is None:
            raise AuditChainError("no public key to check checkpoints with; give one (--public-key FILE.pem)")
        path = ws.keys_dir / SIGNING_PUB_FILE
        where = str(path)
        if not path.is_file():
            raise AuditChainError(f"{path} is missing: checkpoints cannot be checked; give the workspace's public "
                                  f"key (--public-key FILE.pem) or restore keys/ from backup")
        pem = path.read_bytes()
    elif isinstance(pem, Path) or (isinstance(pem, str) and "BEGIN" not in pem):
        where = str(pem)
        try:
            pem = Path(pem).read_bytes()
        except OSError as exc:
            raise AuditChainError(f"cannot read the public key {where}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AuditChainError(f"{where} is not a PEM public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditChainError(f"{where} is not an Ed25519 public key")
    return key, key_id(public_key_raw(key))


def public_pem(ws: Workspace) -> str:
    """The workspace's signing public key, PEM."""
    from cryptography.hazmat.primitives import serialization

    key = audit_keys(ws)[0]
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# -- checkpoints ----------------------------------------------------------------------------------------------------


def make_checkpoint(ws: Workspace, number: int, seq: int, h: str) -> dict[str, Any]:
    """A signed checkpoint: entry `seq` has hash `h` and the log holds `seq` entries."""
    key, _, kid = audit_keys(ws)
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    body = {"number": number, "seq": seq, "hash": h, "entries": seq, "at": at, "key_id": kid}
    sig = key.sign(canonical(body).encode("utf-8"))
    return {**body, "signature": base64.b64encode(sig).decode()}


def check_checkpoint(cp: Any, public_key: Any, kid: str) -> str | None:
    """None when `cp` is a well-formed checkpoint signed by `public_key`, else what is wrong with it."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(cp, dict) or any(k not in cp for k in CHECKPOINT_FIELDS + ("signature",)):
        return "it is not a checkpoint (fields missing)"
    if not all(isinstance(cp[k], int) and not isinstance(cp[k], bool) for k in ("number", "seq", "entries")):
        return "its numbers are not numbers"
    if cp["key_id"] != kid:
        return f"it was signed by another key (key id {str(cp['key_id'])[:16]}, expected {kid})"
    body = {k: cp[k] for k in CHECKPOINT_FIELDS}
    try:
        public_key.verify(base64.b64decode(str(cp["signature"]), validate=True), canonical(body).encode("utf-8"))
    except (InvalidSignature, ValueError):
        return "its signature does not match (altered or forged)"
    return None


@dataclass
class Sink:
    """Where checkpoints go; `where` names it in messages."""

    kind: str
    where: str
    path: Path | None = None
    dsn_env: str | None = None
    dsn_file: str | None = None
    in_workspace: bool = False


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def sink_of(ws: Workspace) -> Sink:
    """The checkpoint sink the map names (default: the file `audit.checkpoints` in the workspace)."""
    cfg = ws.datamap.audit
    if cfg.kind == "file":
        p = Path(cfg.path).expanduser()
        p = p if p.is_absolute() else ws.root / p
        return Sink("file", str(p), p, in_workspace=_inside(p, ws.root))
    if cfg.kind == "postgres":
        return Sink("postgres", f"table {SINK_TABLE} ({cfg.dsn_env or cfg.dsn_file})", None, cfg.dsn_env,
                    cfg.dsn_file)
    return Sink("stdout", "stderr (a log collector)")


def weak_sink_warning(ws: Workspace) -> str | None:
    """A warning when checkpoints stay inside the workspace (someone who can rewrite the ledger can rewrite them)."""
    sink = sink_of(ws)
    if sink.in_workspace:
        return (f"audit checkpoints are kept in {sink.path.name} inside the workspace: whoever can rewrite the "
                f"ledger can rewrite them too; name a file another team holds (audit: {{checkpoints: {{kind: file, "
                f"path: /elsewhere/privacyops.checkpoints}}}}) or a PostgreSQL table (docs/datamap.md)")
    return None


def _pg(sink: Sink, ws: Workspace):
    import psycopg

    from ..errors import LedgerError
    from ..sources import resolve_dsn

    dsn = resolve_dsn(sink.dsn_env, sink.dsn_file, ws.root, "audit checkpoints")
    try:
        con = psycopg.connect(dsn, autocommit=True, connect_timeout=15)
    except psycopg.Error as exc:
        raise LedgerError(f"audit checkpoints: cannot connect to PostgreSQL ({type(exc).__name__}); check "
                          f"{sink.dsn_env or sink.dsn_file} and that the server is up") from None
    con.execute(f'CREATE TABLE IF NOT EXISTS "{SINK_TABLE}" (number BIGINT NOT NULL, seq BIGINT NOT NULL, '
                f'line TEXT NOT NULL, written_at TIMESTAMPTZ NOT NULL DEFAULT now())')
    return con


def write_checkpoint(ws: Workspace, cp: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Append `cp` to the sink; first `previous` (the head before it) when the sink lacks it: a process stopped
    between its head and its sink leaves that checkpoint to the next one."""
    sink = sink_of(ws)
    lines = [cp] if previous is None else [previous, cp]
    if sink.kind == "stdout":
        print("privacyops-audit-checkpoint " + canonical(cp), file=sys.stderr, flush=True)
        return
    if sink.kind == "postgres":
        con = _pg(sink, ws)
        try:
            have = con.execute(f'SELECT max(number) FROM "{SINK_TABLE}"').fetchone()[0] or 0
            for c in lines:
                if c["number"] > have:
                    con.execute(f'INSERT INTO "{SINK_TABLE}" (number, seq, line) VALUES (%s, %s, %s)',
                                [c["number"], c["seq"], canonical(c)])
        finally:
            con.close()
        return
    assert sink.path is not None
    have = _last_number(sink.path)
    text = "".join(canonical(c) + "\n" for c in lines if c["number"] > have)
    if not text:
        return
    sink.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(sink.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        # A sink held elsewhere is synced: after a crash it must still hold the last checkpoint, or a truncated log
        # would match it. One inside the workspace protects nothing the ledger's own (synced) commit does not —
        # whoever can rewrite the ledger can rewrite it (weak_sink_warning) — and a line lost in a crash is written
        # again by the next append (`previous`), as a lost head leads to an audit.confirm entry: no sync (~3 ms).
        if not sink.in_workspace:
            os.fsync(fd)
    finally:
        os.close(fd)


def _last_number(path: Path) -> int:
    """The number of the file's last checkpoint (0 when none or unreadable: the verifier reports the latter)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            tail = fh.read().decode("utf-8", "replace").strip().splitlines()
        return int(json.loads(tail[-1])["number"]) if tail else 0
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return 0


def read_sink(ws: Workspace, against: str | Path | None = None) -> tuple[str, list[tuple[int, Any]] | None]:
    """(where, [(line number, parsed checkpoint or the raw text when unparsable)]), None when the sink cannot be
    read back (stdout). A missing file reads as no checkpoints."""
    if against is None:
        sink = sink_of(ws)
        if sink.kind == "stdout":
            return sink.where, None
        if sink.kind == "postgres":
            con = _pg(sink, ws)
            try:
                rows = con.execute(f'SELECT line FROM "{SINK_TABLE}" ORDER BY number').fetchall()
            finally:
                con.close()
            return sink.where, [(i + 1, _parse(r[0])) for i, r in enumerate(rows)]
        path = sink.path
    else:
        path = Path(against)
    assert path is not None
    if not path.exists():
        return str(path), []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditChainError(f"cannot read the checkpoints in {path}: {exc.strerror}") from None
    text = data.decode("utf-8", "replace")
    return str(path), [(i + 1, _parse(line)) for i, line in enumerate(text.splitlines()) if line.strip()]


def _parse(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return line


# -- the head -------------------------------------------------------------------------------------------------------


def read_head(ws: Workspace, con: Any) -> dict[str, Any] | None:
    """The ledger's head: the latest checkpoint (or, in a ledger from before checkpoints, {seq, hash, mac}).
    None when none is recorded; ValueError when it is unreadable."""
    if ws.datamap.ledger.kind == "postgres":
        try:
            row = con.execute("SELECT seq, hash, mac, checkpoint FROM audit_head WHERE id = 1").fetchone()
        except Exception:  # a ledger from before checkpoints, read-only: no checkpoint column yet
            row = con.execute("SELECT seq, hash, mac, NULL FROM audit_head WHERE id = 1").fetchone()
        if not row:
            return None
        if row[3]:
            got = json.loads(row[3])
            if not isinstance(got, dict):
                raise ValueError("the recorded head is unreadable")
            return got
        return {"seq": int(row[0]), "hash": str(row[1]), "mac": str(row[2])}
    path = ws.root / HEAD_FILE
    if not path.exists():
        return None
    try:
        raw = path.read_bytes()
        if raw[-1:].isspace() and len(raw) != HEAD_PAGE:  # a page cut short (or grown): damaged, whatever it holds
            raise ValueError
        head = json.loads(raw.decode("utf-8"))
        if not isinstance(head, dict) or not isinstance(head.get("seq"), int) or not isinstance(head.get("hash"),
                                                                                                  str):
            raise ValueError
        return head
    except (ValueError, UnicodeDecodeError, OSError):
        raise ValueError(f"{HEAD_FILE} is unreadable") from None


# `audit.head` is one page: the checkpoint's JSON, padded with spaces. While the JSON fits the first sector, the page
# is rewritten in place: a write of one page at offset 0 is never left half done by a stopped process, and a torn
# write (power loss) can only mix whole sectors, of which all but the first are spaces in the old and the new page
# alike. A rename per entry (a new file each time) made the ledger's next commit wait for it: 2-4 ms per lookup on
# a busy disk.
HEAD_PAGE, HEAD_SECTOR = 4096, 512


def write_head(ws: Workspace, con: Any, cp: dict[str, Any]) -> None:
    """Record `cp` as the head: in the same transaction on a shared ledger, in `audit.head` beside an embedded one
    (rewritten in place, else replaced atomically: see HEAD_PAGE), while its file lock is still held."""
    if ws.datamap.ledger.kind == "postgres":
        con.execute("INSERT INTO audit_head (id, seq, hash, mac, checkpoint) VALUES (1, ?, ?, ?, ?) ON CONFLICT "
                    "(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, "
                    "checkpoint = excluded.checkpoint", [cp["seq"], cp["hash"], cp["signature"], canonical(cp)])
        return
    path = ws.root / HEAD_FILE
    data = canonical(cp).encode("utf-8")
    page = data.ljust(HEAD_PAGE) if len(data) <= HEAD_PAGE else data
    if len(data) <= HEAD_SECTOR:
        try:
            fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            fd = -1  # none yet (or not a file): replaced below
        if fd >= 0:
            try:
                if os.fstat(fd).st_size == HEAD_PAGE and os.pwrite(fd, page, 0) == HEAD_PAGE:
                    return
            finally:
                os.close(fd)
    tmp = path.with_name(f".{HEAD_FILE}.{os.getpid()}.tmp")
    tmp.write_bytes(page)
    tmp.replace(path)
