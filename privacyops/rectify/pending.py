"""Rectification under four-eyes (`settings.four_eyes_rectify: true` in the data map): a planned correction is
not written at once but submitted as a pending change; another person opens it, sees current -> proposed as the
data is now, and approves it (which applies it) or rejects it.

Pending changes live in the ledger (`rectification_pending`), so a second analyst in their own JupyterLab, or the
preparer after a reload, finds them. The ledger holds no personal data in clear: the request (who, which fields,
the new values) is encrypted with a key derived from the workspace secret (AES-GCM, bound to the pending id), and
the plan as the preparer saw it only as a keyed digest. Approval plans again from the request and refuses when the
digest differs (the data changed since: submit again), so the approver approves exactly what the preparer saw.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..ledger import audit, ledger_exists, open_ledger
from ..values import json_safe
from ..workspace import Workspace, current_actor
from ..ledger.keyring import workspace_key
from ..workspace.keys import keyed_hash
from .apply import apply_rectification
from .model import RectificationError, RectificationPlan, RectificationResult
from .plan import plan_rectification

PENDING, APPLIED, REJECTED, FAILED = "pending", "applied", "rejected", "failed"

_TABLE = """CREATE TABLE IF NOT EXISTS rectification_pending (
    pending_id VARCHAR PRIMARY KEY,
    case_id VARCHAR NOT NULL,
    subject_ref_hash VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    changes INTEGER NOT NULL,
    rows_changed INTEGER NOT NULL,
    datasets VARCHAR NOT NULL,
    digest VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    map_fingerprint VARCHAR NOT NULL,
    prepared_by VARCHAR NOT NULL,
    prepared_at TIMESTAMP NOT NULL,
    decided_by VARCHAR,
    decided_at TIMESTAMP,
    note VARCHAR)"""
_COLS = ("pending_id, case_id, status, changes, rows_changed, datasets, prepared_by, prepared_at, decided_by, "
         "decided_at, note")


@dataclass(frozen=True)
class PendingRectification:
    """A submitted rectification as the ledger holds it (no values: counts and the datasets it changes)."""

    pending_id: str
    case_id: str
    status: str  # pending | applied | rejected | failed
    changes: int
    rows: int
    datasets: tuple[str, ...]
    prepared_by: str
    prepared_at: dt.datetime
    decided_by: str | None = None  # who approved (applied) or rejected it
    decided_at: dt.datetime | None = None
    note: str | None = None  # why it was rejected, or what failed


@dataclass(frozen=True)
class RectifyInbox:
    """What `actor` has to act on: pending changes prepared by someone else, and their own (newest first)."""

    actor: str
    awaiting_approval: list[PendingRectification] = field(default_factory=list)
    mine: list[PendingRectification] = field(default_factory=list)


def four_eyes_rectify(ws: Workspace) -> bool:
    """Whether the map asks for a second person's approval before a rectification is written."""
    return bool(getattr(ws.datamap.settings, "four_eyes_rectify", False))


@contextmanager
def _ledger(ws: Workspace) -> Iterator[Any]:
    with open_ledger(ws) as con:
        con.execute(_TABLE)  # (kept here, with the feature: created on first use)
        yield con


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _key(ws: Workspace) -> bytes:
    return hmac.new(workspace_key(ws), b"rectification-pending\x00", hashlib.sha256).digest()


def _seal(ws: Workspace, pending_id: str, payload: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    sealed = AESGCM(_key(ws)).encrypt(nonce, json.dumps(payload).encode("utf-8"), pending_id.encode("utf-8"))
    return base64.b64encode(nonce + sealed).decode("ascii")


def _open_sealed(ws: Workspace, pending_id: str, text: str) -> dict[str, Any]:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(text)
    try:
        plain = AESGCM(_key(ws)).decrypt(raw[:12], raw[12:], pending_id.encode("utf-8"))
    except InvalidTag:
        raise RectificationError(f"pending rectification {pending_id} cannot be read with this workspace's key "
                                 f"(altered, or the key was replaced); reject it and plan again") from None
    return json.loads(plain)


def _digest(ws: Workspace, plan: RectificationPlan) -> str:
    """A keyed digest of what the plan changes (place, current, proposed): compares plans, holds no values."""
    items = sorted(json.dumps([c.place, json_safe(c.current), json_safe(c.proposed)], default=str)
                   for c in plan.changes)
    return keyed_hash(workspace_key(ws), "\n".join(items), "rectify-pending")


def _item(row: tuple) -> PendingRectification:
    (pid, case_id, status, changes, rows, datasets, prepared_by, prepared_at, decided_by, decided_at, note) = row
    return PendingRectification(pid, case_id, status, changes, rows, tuple(json.loads(datasets)), prepared_by,
                                prepared_at, decided_by, decided_at, note)


def submit_rectification(ws: Workspace, plan: RectificationPlan) -> PendingRectification:
    """Store `plan` as a pending change for another person to approve (nothing is written to the sources)."""
    if not plan.changes:
        raise RectificationError("the plan changes nothing")
    if plan.applied:
        raise RectificationError("this plan was already applied; plan again for further changes")
    pid = "RCP-" + uuid.uuid4().hex[:10].upper()
    request = {"query": plan.query, "pick": plan.subject_ref,
               "changes": {k: json_safe(v) for k, v in plan.requested.items()}, "propagate": plan.propagate}
    actor, now = current_actor(), _now()
    with _ledger(ws) as con:
        con.execute("INSERT INTO rectification_pending (pending_id, case_id, subject_ref_hash, status, changes, "
                    "rows_changed, datasets, digest, request, map_fingerprint, prepared_by, prepared_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [pid, plan.case_id, audit.subject_hash(ws, plan.subject_ref), PENDING, len(plan.changes),
                     plan.rows(), json.dumps(plan.datasets), _digest(ws, plan), _seal(ws, pid, request),
                     plan.map_fingerprint, actor, now])
    audit.record(ws, "rectify.submit", {"pending_id": pid, "datasets": plan.counts(), "rows": plan.rows()},
                 case_id=plan.case_id)
    return load_pending(ws, pid)


def load_pending(ws: Workspace, pending_id: str) -> PendingRectification:
    """A pending (or decided) rectification as the ledger holds it."""
    row = None
    if ledger_exists(ws):
        with _ledger(ws) as con:
            row = con.execute(f"SELECT {_COLS} FROM rectification_pending WHERE pending_id = ?",
                              [pending_id]).fetchone()
    if not row:
        raise RectificationError(f"unknown pending rectification '{pending_id}'")
    return _item(row)


def pending_plan(ws: Workspace, pending_id: str) -> tuple[PendingRectification, RectificationPlan]:
    """The pending change and its plan made again now from the request (current -> proposed as the data is now);
    refused when it no longer matches what the preparer saw."""
    item = load_pending(ws, pending_id)
    with _ledger(ws) as con:
        digest, sealed, fingerprint = con.execute(
            "SELECT digest, request, map_fingerprint FROM rectification_pending WHERE pending_id = ?",
            [pending_id]).fetchone()
    if fingerprint != ws.datamap.fingerprint:
        raise RectificationError(f"the data map changed since {pending_id} was submitted; reject it and plan again")
    req = _open_sealed(ws, pending_id, sealed)
    plan = plan_rectification(ws, item.case_id, req.get("query") or None, pick=req.get("pick"),
                              changes=req["changes"], propagate=bool(req.get("propagate", True)))
    if item.status == PENDING and _digest(ws, plan) != digest:
        raise RectificationError(f"the data changed since {pending_id} was submitted (the plan is no longer what "
                                 f"its preparer saw); reject it and plan again")
    return item, plan


def allowed_to_decide(ws: Workspace, item: PendingRectification, actor: str | None = None) -> str | None:
    """None when `actor` may approve `item` now; else why not, in plain words."""
    actor = actor or current_actor()
    if item.status != PENDING:
        return f"this change is {item.status}; only a pending change is approved"
    if actor == item.prepared_by:
        return "you prepared this change; another person approves it (the approver must differ from the preparer)"
    return None


def approve_rectification(ws: Workspace, pending_id: str) -> RectificationResult:
    """Approve a pending change as the current actor (never its preparer) and apply it: planned again from the
    request, refused if it differs from what was submitted, written and verified like any rectification."""
    why = allowed_to_decide(ws, load_pending(ws, pending_id))
    if why:
        raise RectificationError(f"{pending_id}: {why}")
    item, plan = pending_plan(ws, pending_id)
    actor = current_actor()
    plan.approval = {"pending_id": pending_id, "prepared_by": item.prepared_by, "approved_by": actor}
    try:
        result = apply_rectification(ws, plan)
    except RectificationError as exc:
        if plan.applied:  # partly written: the pending change is used up (the error says what was changed)
            _decide(ws, pending_id, FAILED, actor, str(exc)[:500])
        raise
    _decide(ws, pending_id, APPLIED, actor, None)
    return result


def reject_rectification(ws: Workspace, pending_id: str, reason: str) -> PendingRectification:
    """Reject (or, for its preparer, withdraw) a pending change, with a reason (audited); nothing is written."""
    item = load_pending(ws, pending_id)
    reason = (reason or "").strip()
    if not reason:
        raise RectificationError(f"say why {pending_id} is rejected")
    if item.status != PENDING:
        raise RectificationError(f"{pending_id} is {item.status}; only a pending change is rejected")
    _decide(ws, pending_id, REJECTED, current_actor(), reason)
    audit.record(ws, "rectify.reject", {"pending_id": pending_id}, case_id=item.case_id)
    return load_pending(ws, pending_id)


def _decide(ws: Workspace, pending_id: str, status: str, actor: str, note: str | None) -> None:
    with _ledger(ws) as con:
        con.execute("UPDATE rectification_pending SET status = ?, decided_by = ?, decided_at = ?, note = ? "
                    "WHERE pending_id = ? AND status = ?", [status, actor, _now(), note, pending_id, PENDING])


def rectification_inbox(ws: Workspace, actor: str | None = None, *, mine_limit: int = 20) -> RectifyInbox:
    """Pending changes awaiting `actor`'s approval (prepared by someone else), and the newest changes `actor`
    submitted, any status; read from the ledger now."""
    actor = actor or current_actor()
    if not ledger_exists(ws):
        return RectifyInbox(actor)
    with _ledger(ws) as con:
        waiting = con.execute(f"SELECT {_COLS} FROM rectification_pending WHERE status = ? AND prepared_by <> ? "
                              f"ORDER BY prepared_at DESC, pending_id", [PENDING, actor]).fetchall()
        mine = con.execute(f"SELECT {_COLS} FROM rectification_pending WHERE prepared_by = ? "
                           f"ORDER BY prepared_at DESC, pending_id LIMIT ?", [actor, int(mine_limit)]).fetchall()
    return RectifyInbox(actor, [_item(r) for r in waiting], [_item(r) for r in mine])


__all__ = ["APPLIED", "FAILED", "PENDING", "REJECTED", "PendingRectification", "RectifyInbox",
           "allowed_to_decide", "approve_rectification", "four_eyes_rectify", "load_pending", "pending_plan",
           "rectification_inbox", "reject_rectification", "submit_rectification"]
