"""The consent ledger: consent given and withdrawn, recorded by privacyops (ISO/IEC TS 27560-style records).

`record_consent(ws, subject, purpose, method=..., notice=...)` and `withdraw_consent(ws, subject, purpose)` write
one record each into the ops ledger (`consent_records`): a record id, the subject as a keyed hash (never the
identifier), the purpose, the action (granted / withdrawn), when it happened, how (the method: web form, e-mail
link, a support request...), the version of the notice the person saw, who recorded it and the case.

A withdrawal takes effect at once. For a direct-marketing purpose (legal basis consent, or a purpose the map flags
`direct_marketing: true`) the person's e-mail addresses go on the suppression list (`privacyops.suppression`,
keyed hashes) in the same step, so no campaign tool asking "may we mail this address?" gets a yes; the withdrawal
is audited.

The subject is found with the same lookup as everywhere (any identifier, or `DATASET:KEY`) and is recorded under
the keyed hash of the person's reference (`ref:crm.customers:1`), the form the consent report computes for the
subject values of the organisation's own consent events (`consent:` in the data map), so both combine. A person the
map does not know but who has an e-mail address (a withdrawal by e-mail from a stranger) is recorded under that
address's hash.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import PrivacyOpsError
from ..ledger import audit, get_case, ledger_exists, open_ledger, suppression
from ..ledger.keyring import workspace_key
from ..lookup import AMBIGUOUS, FOUND, SubjectRecords, lookup
from ..map import EMAIL, DataMap
from ..workspace import Workspace, current_actor
from ..workspace.keys import generations, keyed_hash, rekey_hash

GRANTED, WITHDRAWN = "granted", "withdrawn"
ACTIONS = (GRANTED, WITHDRAWN)
HASH_PURPOSE = "consent"  # the keyed-hash domain of consent subjects
DEFAULT_METHOD = "privacy_team"  # a withdrawal the privacy team records (a request by e-mail, phone, letter)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REF_RE = re.compile(r"^([^:\s]+):(\S+)$")


class ConsentError(PrivacyOpsError):
    exit_code = 2


@dataclass(frozen=True)
class ConsentRecord:
    """One consent event recorded by privacyops."""

    record_id: str
    subject_hash: str
    purpose: str
    action: str
    occurred_at: dt.datetime
    method: str | None
    notice_version: str | None
    recorded_by: str
    recorded_at: dt.datetime
    case_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "subject_hash": self.subject_hash, "purpose": self.purpose,
                "action": self.action, "occurred_at": self.occurred_at.isoformat(), "method": self.method,
                "notice_version": self.notice_version, "recorded_by": self.recorded_by,
                "recorded_at": self.recorded_at.isoformat(), "case_id": self.case_id}


@dataclass(frozen=True)
class ConsentResult:
    """What `record_consent` / `withdraw_consent` did (the label is for the screen only; nothing stores it)."""

    record: ConsentRecord
    subject_label: str
    subject_ref: str | None
    direct_marketing: bool = False
    suppressed_new: int = 0  # e-mail addresses put on the suppression list now
    suppressed_already: int = 0  # ... that were on it before

    def line(self) -> str:
        r = self.record
        verb = "Consent withdrawn" if r.action == WITHDRAWN else "Consent recorded"
        text = (f"{verb}: {self.subject_label} · purpose {r.purpose} · {r.occurred_at:%Y-%m-%d %H:%M} UTC · "
                f"method {r.method or '-'}" + (f" · notice {r.notice_version}" if r.notice_version else "") +
                f" · record {r.record_id}")
        if r.action == WITHDRAWN and self.direct_marketing:
            total = self.suppressed_new + self.suppressed_already
            text += (f"; in effect now: {total} e-mail address(es) on the suppression list"
                     f" ({self.suppressed_new} added)" if total else
                     "; no e-mail address known to put on the suppression list")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"record": self.record.to_dict(), "subject_ref": self.subject_ref,
                "direct_marketing": self.direct_marketing, "suppressed_new": self.suppressed_new,
                "suppressed_already": self.suppressed_already, "message": self.line()}


# ---------------------------------------------------------------------------------------------------------------
# Purposes and subjects.


def is_direct_marketing(dm: DataMap, purpose: str) -> bool:
    """Direct marketing for the suppression list: a purpose resting on consent, or one the map flags as direct
    marketing (an objection to it must also stop it, Art. 21(3))."""
    p = dm.purposes.get(purpose)
    return p is not None and (p.legal_basis == "consent" or p.direct_marketing)


def consent_purposes(dm: DataMap) -> list[str]:
    """The purposes a consent can be given or withdrawn for (legal basis consent, or direct marketing)."""
    return [name for name in dm.purposes if is_direct_marketing(dm, name)]


def _check_purpose(dm: DataMap, purpose: str) -> None:
    import difflib

    if purpose not in dm.purposes:
        close = difflib.get_close_matches(purpose, list(dm.purposes), n=1)
        raise ConsentError(f"unknown purpose '{purpose}'" + (f" (did you mean '{close[0]}'?)" if close else "") +
                           f"; consent purposes in the map: {', '.join(consent_purposes(dm)) or 'none'}")
    if purpose not in consent_purposes(dm):
        basis = dm.purposes[purpose].legal_basis
        raise ConsentError(f"purpose '{purpose}' rests on {basis}, not on consent: there is no consent to record or "
                           f"withdraw (an objection to it is a case: privacyops case open --type objection); consent "
                           f"purposes: {', '.join(consent_purposes(dm)) or 'none'}")


def consent_root(dm: DataMap) -> str | None:
    """The person dataset whose key the consent events' subject column holds (`crm.customers` when the column
    references `crm.customers.customer_id`), or None when the map does not say."""
    if dm.consent is None or dm.consent.events.dataset not in dm.datasets:
        return None
    ev = dm.consent.events
    ds = dm.datasets[ev.dataset]
    for r in ds.owner_references:
        target = dm.datasets.get(r.to_dataset)
        if r.column == ev.subject and target is not None and target.primary_key == (r.to_column,):
            return target.name
    if ds.subject and ds.primary_key == (ev.subject,):
        return ds.name
    return None


def subject_key_for_value(dm: DataMap, value: Any) -> str:
    """The key a subject value of the consent events (or of the processing) is hashed under."""
    root = consent_root(dm)
    if root is not None:
        return f"ref:{root}:{value}"
    ev = dm.consent.events if dm.consent else None
    return f"value:{ev.dataset if ev else '?'}.{ev.subject if ev else '?'}:{value}"


def subject_hash(ws: Workspace, key: str) -> str:
    return keyed_hash(workspace_key(ws), key, HASH_PURPOSE)


def hashes_of_values(ws: Workspace, values: Iterable[Any]) -> dict[str, Any]:
    """{keyed hash: value} for subject values of the consent events / processing (to match privacyops' records)."""
    import hashlib
    import hmac

    gens = generations(workspace_key(ws))
    prefix = f"{HASH_PURPOSE}\x00{subject_key_for_value(ws.datamap, '')}".encode("utf-8")
    # keyed_hash(secret, key, purpose) with the common prefix hashed once: this runs over every subject of a report
    start = hmac.new(gens[0], prefix, hashlib.sha256)
    out = {}
    for v in values:
        h = start.copy()
        h.update(str(v).encode("utf-8"))
        digest = h.hexdigest()
        for k in gens[1:]:  # later generations of a rotated key (keys.keyed_hash)
            digest = rekey_hash(k, digest)
        out[digest] = v
    return out


@dataclass(frozen=True)
class _Subject:
    key: str
    label: str
    ref: str | None
    emails: tuple[str, ...]
    audit_subject: str


def _emails_of(ws: Workspace, records: SubjectRecords) -> set[str]:
    out: set[str] = set()
    for name, recs in records.records.items():
        ds = ws.datamap.datasets[name]
        for col in ds.identity_columns(EMAIL):
            for row in recs.rows:
                v = row.get(col)
                if v and _EMAIL_RE.match(str(v).strip()):
                    out.add(str(v).strip().lower())
    return out


def resolve_subject(ws: Workspace, subject: str | None, pick: str | None = None,
                    case_id: str | None = None) -> _Subject:
    """Find the person (a lookup, not audited on its own: the consent action's entry covers it)."""

    text = (subject or "").strip()
    m = _REF_RE.match(text)
    if pick is None and m and m.group(1) in ws.datamap.datasets:
        text, pick = "", text  # DATASET:KEY names the person directly
    if not text and not pick:
        raise ConsentError("say whose consent it is: an e-mail, phone number, customer id, or DATASET:KEY")
    records = lookup(ws, text or None, pick=pick, case_id=case_id, mentions=False, audit_log=False)
    if records.status == AMBIGUOUS:
        raise ConsentError(f"{len(records.candidates)} people match {records.query!r}; say which one (--pick REF, or "
                           f"type the REF): " + ", ".join(f"{c.ref} ({c.label})" for c in records.candidates[:10]))
    email = text.lower() if _EMAIL_RE.match(text) else None
    if records.status == FOUND and records.subject is not None:
        ref = records.subject.ref
        return _Subject(f"ref:{ref}", records.subject.label, ref, tuple(sorted(_emails_of(ws, records))), ref)
    if email:  # known only by e-mail (a prospect on a list), or not at all: the address is the subject
        emails = _emails_of(ws, records) if records.status == FOUND else set()
        return _Subject(f"email:{email}", email, None, tuple(sorted(emails | {email})), email)
    raise ConsentError(f"no person found for {records.query!r}; consent is recorded for a person the data map knows "
                       f"(any identifier, or DATASET:KEY) or for an e-mail address")


# ---------------------------------------------------------------------------------------------------------------
# Recording.

_COLS = ("record_id, subject_hash, purpose, action, occurred_at, method, notice_version, recorded_by, recorded_at, "
         "case_id")


def _when(value: dt.datetime | dt.date | str | None) -> dt.datetime:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    if value is None:
        return now
    if isinstance(value, dt.datetime):
        at = value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    elif isinstance(value, dt.date):
        at = dt.datetime.combine(value, dt.time())
    else:
        try:
            at = _when(dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
        except (ValueError, OverflowError):  # OverflowError: '0001-01-01T00:00+05:00' has no UTC time
            raise ConsentError(f"'{value}' is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if at > now + dt.timedelta(minutes=5):
        raise ConsentError(f"{at:%Y-%m-%d %H:%M} is in the future: record consent when it happens")
    return at


def _record(ws: Workspace, who: _Subject, purpose: str, action: str, method: str | None, notice: str | None,
            at: dt.datetime, case_id: str | None, con: Any) -> ConsentRecord:
    rec = ConsentRecord(record_id="CNS-" + uuid.uuid4().hex[:12].upper(), subject_hash=subject_hash(ws, who.key),
                        purpose=purpose, action=action, occurred_at=at, method=method, notice_version=notice,
                        recorded_by=current_actor(), recorded_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                        case_id=case_id)
    con.execute(f"INSERT INTO consent_records ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [rec.record_id, rec.subject_hash, rec.purpose, rec.action, rec.occurred_at, rec.method,
                 rec.notice_version, rec.recorded_by, rec.recorded_at, rec.case_id])
    return rec


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def record_consent(ws: Workspace, subject: str | None, purpose: str, *, method: str, notice: str,
                   at: dt.datetime | dt.date | str | None = None, case_id: str | None = None,
                   pick: str | None = None) -> ConsentResult:
    """Record that the subject gave consent for `purpose`: how (`method`) and under which notice version — the
    proof of consent Art. 7(1) asks for, so both are required."""
    dm = ws.datamap
    _check_purpose(dm, purpose)
    method, notice = _text(method), _text(notice)
    if not method or not notice:
        raise ConsentError("a consent needs its proof: how it was given (--method, e.g. web_form) and the version of "
                           "the notice the person saw (--notice, e.g. v3.1)")
    when = _when(at)
    if case_id:

        get_case(ws, case_id)
    who = resolve_subject(ws, subject, pick, case_id)
    with open_ledger(ws) as con, con.transaction(lock=True):  # the record and its audit entry commit together
        rec = _record(ws, who, purpose, GRANTED, method, notice, when, case_id, con)
        audit.record(ws, "consent.record", {"record_id": rec.record_id, "purpose": purpose, "method": method,
                                            "notice_version": notice}, case_id=case_id, subject=who.audit_subject,
                     con=con)
    return ConsentResult(rec, who.label, who.ref, is_direct_marketing(dm, purpose))


def withdraw_consent(ws: Workspace, subject: str | None, purpose: str, *, method: str | None = None,
                     at: dt.datetime | dt.date | str | None = None, case_id: str | None = None,
                     pick: str | None = None) -> ConsentResult:
    """Record a withdrawal; it takes effect at once: for a direct-marketing purpose the person's e-mail addresses go
    on the suppression list in the same step. Audited."""
    dm = ws.datamap
    _check_purpose(dm, purpose)
    when = _when(at)
    if case_id:

        get_case(ws, case_id)
    who = resolve_subject(ws, subject, pick, case_id)
    method = _text(method) or DEFAULT_METHOD
    marketing = is_direct_marketing(dm, purpose)
    with open_ledger(ws) as con, con.transaction(lock=True):  # record, suppression and audit entry: together
        rec = _record(ws, who, purpose, WITHDRAWN, method, None, when, case_id, con)
        new = already = 0
        if marketing and who.emails:
            got = suppression.suppress_many(ws, who.emails, "withdrawal", case_id, con=con)
            new = sum(1 for _, was_new in got if was_new)
            already = len(got) - new
        audit.record(ws, "consent.withdraw", {"record_id": rec.record_id, "purpose": purpose, "method": method,
                                              "direct_marketing": marketing, "suppressed_new": new,
                                              "suppressed_already": already}, case_id=case_id,
                     subject=who.audit_subject, con=con)
    return ConsentResult(rec, who.label, who.ref, marketing, new, already)


def list_records(ws: Workspace, purpose: str | None = None, until: dt.datetime | None = None) -> list[ConsentRecord]:
    """privacyops' consent records, oldest first (`until`: those that happened up to then)."""
    if not ledger_exists(ws):
        return []
    sql, params = f"SELECT {_COLS} FROM consent_records WHERE 1 = 1", []
    if purpose:
        sql += " AND purpose = ?"
        params.append(purpose)
    if until is not None:
        sql += " AND occurred_at <= ?"
        params.append(until)
    with open_ledger(ws) as con:
        return [ConsentRecord(*r) for r in con.execute(sql + " ORDER BY occurred_at, record_id", params).fetchall()]


__all__ = ["ConsentRecord", "ConsentResult", "ConsentError", "record_consent", "withdraw_consent", "list_records",
           "consent_purposes", "is_direct_marketing", "consent_root", "subject_hash", "hashes_of_values",
           "subject_key_for_value", "resolve_subject", "GRANTED", "WITHDRAWN"]
