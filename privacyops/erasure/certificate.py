"""Erasure certificates: what an erasure did and what remains until when, signed with the workspace's Ed25519 key.

A certificate is a JSON file in `<workspace>/certificates/<plan id>.json`:

    {"certificate": {...the content...},
     "signature": {"algorithm": "Ed25519", "key_id": "...", "public_key": "<base64>", "value": "<base64>"}}

The signature covers the canonical JSON of `certificate` (keys sorted, no spaces, UTF-8). The public key travels
inside, so anyone can check that the content was not changed since signing (`verify_certificate`,
`privacyops certificate verify FILE`); that it was this workspace that signed is shown by the key id matching the
workspace's `keys/signing.pub`. Content: the case, the plan (id, hash, who prepared and approved it), the map's
fingerprint, counts per dataset and action, what remains (per dataset, rule and date: counts, never data), what
was not erased and why, the verification result and the per-source commits, and who prepared, approved and
executed it: `identity` and `signatures` (each person's name, key id, public key and Ed25519 signature over the plan
id and hash; erasure_signing), checked offline by `verify_certificate` too. No personal data: the subject appears
as a keyed hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PrivacyOpsError
from ..ledger.keyring import check_signing, record_signing, workspace_key
from ..values import json_safe
from ..workspace import Workspace
from ..workspace.keys import (
    SIGNING_KEY_FILE,
    SIGNING_PUB_FILE,
    key_id,
    public_key_raw,
    signing_key,
    workspace_public_key_id,
)
from .plan import BLOCKED, RETAIN
from .result import ErasureResult
from .signing import certificate_block, check_certificate_signers
from .verify import not_compared

CERT_TYPE = "privacyops.erasure-certificate"
CERT_VERSION = 1
FOLDER = "certificates"


class CertificateError(PrivacyOpsError):
    exit_code = 2


def check_signing_key(ws: Workspace) -> None:
    """Refuse before an erasure changes anything when its certificate could not be signed at the end: the signing
    key damaged, or missing although this workspace has signed before (a new key would sign certificates nobody can
    tie to the earlier ones). A workspace that never signed gets its key here, before the erasure, not after."""
    workspace_key(ws)  # the erasure's ledger entries are keyed: a lost or foreign workspace key stops it here
    path = ws.keys_dir / SIGNING_KEY_FILE
    restore = (f"restore keys/{SIGNING_KEY_FILE} from your backup (its public half is keys/{SIGNING_PUB_FILE}), then "
               f"run the command again; nothing was changed")
    if not path.exists():
        certs = ws.root / FOLDER
        # signed certificates decide (keys/signing.pub alone is no proof: the audit log signs with the key too and
        # reports its replacement itself)
        if certs.is_dir() and any(certs.glob("*.json")):
            raise CertificateError(f"cannot sign the erasure certificate: {path} is missing, but this workspace has "
                                   f"signed certificates before — {restore} (to start a new key on purpose, move "
                                   f"keys/{SIGNING_PUB_FILE} aside first)")
    check_signing(ws)  # once the ledger recorded the signing key's id, only that key signs (never a new one)
    try:
        signing_key(ws.keys_dir)
    except ValueError:
        raise CertificateError(f"cannot sign the erasure certificate: {path} is not a readable Ed25519 private key "
                               f"(damaged or replaced) — {restore}") from None
    except OSError as exc:
        raise CertificateError(f"cannot sign the erasure certificate: {path} cannot be read or created "
                               f"({exc.strerror or exc}) — check the keys folder's permissions; nothing was "
                               f"changed") from None


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build(ws: Workspace, result: ErasureResult) -> dict[str, Any]:
    """The certificate's content for an executed plan."""
    plan = result.plan
    remaining: dict[tuple, int] = {}
    for pr in plan.rows:
        if pr.action in (RETAIN, BLOCKED) or (pr.action == "mask"):
            k = (pr.dataset, pr.action, pr.until.isoformat() if pr.until else None, pr.rule, pr.ground,
                 pr.due_on.isoformat() if pr.due_on else None, pr.basis or pr.reason if pr.action != "mask" else
                 "masked; the row stays")
            remaining[k] = remaining.get(k, 0) + 1
    dm = ws.datamap
    return json_safe({
        "type": CERT_TYPE, "version": CERT_VERSION,
        "organisation": dm.organisation.name,
        "issued_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "case_id": plan.case_id,
        "plan": {"plan_id": plan.plan_id, "kind": plan.kind, "plan_hash": plan.plan_hash, "as_of": plan.as_of,
                 "prepared_by": plan.prepared_by, "approved_by": plan.approved_by,
                 "approved_at": plan.approved_at, "approval_note": plan.approval_note,
                 "executed_by": plan.executed_by, "executed_at": plan.executed_at, "origin": plan.origin or None},
        "map_fingerprint": plan.map_fingerprint,
        "subjects": [{"ref_hash": s.get("ref_hash")} for s in plan.subjects],
        "summary": {"totals": plan.totals(), "datasets": plan.counts()},
        "remaining": [{"dataset": d, "action": a, "records": n, "until": u, "rule": r, "ground": g,
                       "erasure_due": due, "basis": b} for (d, a, u, r, g, due, b), n in sorted(
                           remaining.items(), key=lambda kv: tuple(str(x) for x in kv[0]))],
        "not_erased": plan.not_erased_counts(),
        "not_compared": _not_compared(ws, result),
        "skipped_subjects": len(plan.skipped),
        "suppression": {"kept": len(plan.suppression.get("keep", [])), "added": result.suppression_added,
                        "reason": plan.suppression.get("reason")},
        "sources": [s.to_dict() for s in result.sources],
        "verification": result.verification.to_dict(),
        "status": plan.status,
        **certificate_block(plan),  # who prepared, approved, executed: signatures with the signers' public keys
    })


def _not_compared(ws: Workspace, result: ErasureResult) -> dict[str, str]:
    """Per dataset of the rows that stay, the columns verification left out because the store writes them itself
    (the map's `maintained`, generated columns): the certificate says what it does not vouch for."""
    out = {}
    names = sorted({pr.dataset for pr in result.plan.rows if pr.stays})
    with ws.session():
        for name in names:
            ds = ws.datamap.datasets.get(name)
            cols = not_compared(ws.connector(ds.source), ds) if ds is not None else []
            if cols:
                out[name] = f"columns the store maintains, not compared: {', '.join(cols)}"
    return out


def sign(ws: Workspace, content: dict[str, Any]) -> dict[str, Any]:
    key = signing_key(ws.keys_dir)
    raw = public_key_raw(key)
    return {"certificate": content,
            "signature": {"algorithm": "Ed25519", "key_id": key_id(raw),
                          "public_key": base64.b64encode(raw).decode("ascii"),
                          "value": base64.b64encode(key.sign(canonical(content))).decode("ascii")}}


def issue(ws: Workspace, result: ErasureResult) -> tuple[Path, str]:
    """Build, sign and write the certificate; returns (path, SHA-256 of the file)."""
    doc = sign(ws, build(ws, result))
    record_signing(ws, doc["signature"]["key_id"])  # the first certificate fixes the workspace's signing key
    folder = ws.root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.plan.plan_id}.json"
    data = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path, hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CertificateCheck:
    ok: bool
    reason: str
    key_id: str | None = None
    workspace_key: bool | None = None  # the signing key is the given workspace's (None: no workspace given)
    plan_id: str | None = None
    case_id: str | None = None
    signers: str | None = None  # "approved by X (key ..), prepared by Y (key ..) (different people: yes)"

    def __str__(self) -> str:
        if not self.ok:
            return f"certificate INVALID: {self.reason}"
        who = ("signed by this workspace's key" if self.workspace_key else
               "signed by a key that is NOT this workspace's" if self.workspace_key is False else
               f"signed by key {self.key_id}")
        return f"certificate valid: plan {self.plan_id}, case {self.case_id}; {who}; {self.signers}"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "key_id": self.key_id, "workspace_key": self.workspace_key,
                "plan_id": self.plan_id, "case_id": self.case_id, "signers": self.signers}


def verify_certificate(source: str | Path | dict[str, Any], ws: Workspace | None = None) -> CertificateCheck:
    """Check a certificate's signature (and, given a workspace, that its key signed it). Never raises for a bad
    certificate: the result says what is wrong."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if isinstance(source, dict):
        doc = source
    else:
        path = Path(source)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CertificateError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError:
            return CertificateCheck(False, "not JSON: the file is damaged or not a certificate")
    if not isinstance(doc, dict) or not isinstance(doc.get("certificate"), dict) or \
            not isinstance(doc.get("signature"), dict):
        return CertificateCheck(False, "not a privacyops certificate (certificate and signature expected)")
    content, sig = doc["certificate"], doc["signature"]
    if content.get("type") != CERT_TYPE:
        return CertificateCheck(False, f"not a privacyops erasure certificate (type {content.get('type')!r})")
    if sig.get("algorithm") != "Ed25519":
        return CertificateCheck(False, f"unsupported signature algorithm {sig.get('algorithm')!r}")
    try:
        raw = base64.b64decode(sig["public_key"], validate=True)
        value = base64.b64decode(sig["value"], validate=True)
        pub = Ed25519PublicKey.from_public_bytes(raw)
    except (KeyError, ValueError, TypeError):
        return CertificateCheck(False, "the signature block is damaged (public key or value unreadable)")
    kid = key_id(raw)
    people_problems, signers = check_certificate_signers(content)  # first: they say which part was changed
    if people_problems:
        return CertificateCheck(False, "; ".join(people_problems), kid, signers=signers)
    if sig.get("key_id") != kid:
        return CertificateCheck(False, "the key id does not belong to the embedded public key", kid)
    try:
        pub.verify(value, canonical(content))
    except InvalidSignature:
        return CertificateCheck(False, "the signature does not match the content: the certificate was changed "
                                       "after it was signed", kid)
    plan = content.get("plan") or {}
    mine = None
    if ws is not None:
        ws_kid = workspace_public_key_id(ws.keys_dir)
        mine = ws_kid == kid if ws_kid else False
    return CertificateCheck(True, "signature valid", kid, mine, plan.get("plan_id"), content.get("case_id"), signers)


__all__ = ["CertificateCheck", "CertificateError", "check_signing_key", "verify_certificate", "build", "sign", "issue"]
