"""The suppression list: people who withdrew consent or objected to direct marketing (Art. 21(2)-(3)) must never
be mailed again — also after their data is erased, and also when their address comes back through a partner's
list. The list keeps only a keyed hash of the e-mail address (HMAC-SHA256 under the workspace key, purpose
"suppress"), never the address: enough to answer "may we mail this address?", useless for anything else.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import PrivacyOpsError
from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash
from . import audit
from .keyring import workspace_key
from .store import ledger_exists, open_ledger

SUPPRESS_PURPOSE = "suppress"
REASONS = ("withdrawal", "objection")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SuppressionError(PrivacyOpsError):
    exit_code = 2


@dataclass(frozen=True)
class Suppression:
    email_hash: str
    reason: str
    added_at: dt.datetime
    added_by: str
    case_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"email_hash": self.email_hash, "reason": self.reason, "added_at": self.added_at.isoformat(),
                "added_by": self.added_by, "case_id": self.case_id}


def normalise(email: str) -> str:
    text = str(email or "").strip().lower()
    if not _EMAIL_RE.match(text):
        raise SuppressionError(f"'{email}' is not an e-mail address")
    return text


def email_hash(ws: Workspace, email: str) -> str:
    return keyed_hash(workspace_key(ws), normalise(email), SUPPRESS_PURPOSE)


def _get(con, h: str) -> Suppression | None:
    row = con.execute("SELECT email_hash, reason, added_at, added_by, case_id FROM suppression WHERE email_hash = ?",
                      [h]).fetchone()
    return Suppression(*row) if row else None


def suppress(ws: Workspace, email: str, reason: str, case_id: str | None = None, *,
             audit_log: bool = True) -> tuple[Suppression, bool]:
    """Add an address (idempotent). Returns (entry, whether it was new)."""
    if reason not in REASONS:
        raise SuppressionError(f"reason '{reason}' is not allowed; use one of: {', '.join(REASONS)}")
    with open_ledger(ws) as con, con.transaction(lock=True):  # the addition and its audit entry commit together
        entry, new = suppress_many(ws, [email], reason, case_id, con=con)[0]
        if audit_log:
            audit.record(ws, "suppress.add", {"reason": reason, "new": new, "email_hash": entry.email_hash[:16]},
                         case_id=case_id, con=con)
    return entry, new


def suppress_many(ws: Workspace, emails: Iterable[str], reason: str, case_id: str | None = None, *,
                  con: Any = None) -> list[tuple[Suppression, bool]]:
    """Add several addresses in one ledger transaction (no audit entry: the caller records one, in the same
    transaction when it passes its open ledger `con`)."""
    if con is None:
        with open_ledger(ws) as own:
            return suppress_many(ws, emails, reason, case_id, con=own)
    hashes = list(dict.fromkeys(email_hash(ws, e) for e in emails))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    out = []
    with con.transaction(lock=True):
        for h in hashes:
            existing = _get(con, h)
            if existing:
                out.append((existing, False))
                continue
            con.execute("INSERT INTO suppression VALUES (?, ?, ?, ?, ?)", [h, reason, now, current_actor(),
                                                                        case_id])
            out.append((_get(con, h), True))
    return out


def check(ws: Workspace, email: str) -> Suppression | None:
    """The entry for an address, or None: None means it is not suppressed (consent rules still apply)."""
    normalise(email)  # a bad address is refused even in a workspace with no ledger yet
    if not ledger_exists(ws):
        return None  # nothing is suppressed yet: no key is needed (nor made) to say so
    h = email_hash(ws, email)
    with open_ledger(ws) as con:
        return _get(con, h)


def suppressed_hashes(ws: Workspace, emails: Iterable[str]) -> dict[str, Suppression]:
    """{e-mail: entry} for those of `emails` on the list."""
    if not ledger_exists(ws):
        return {}
    by_hash = {}
    for e in emails:
        try:
            by_hash[email_hash(ws, e)] = e
        except SuppressionError:
            continue
    out = {}
    with open_ledger(ws) as con:
        for h, e in by_hash.items():
            got = _get(con, h)
            if got:
                out[e] = got
    return out


__all__ = ["Suppression", "SuppressionError", "suppress", "suppress_many", "check", "email_hash",
           "suppressed_hashes", "REASONS"]
