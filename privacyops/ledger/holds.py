"""Legal holds: records that must not be erased while litigation, an investigation or an audit needs them.

A hold covers a **subject** (matched by keyed hashes of the person's identifiers; the ledger never holds the
identifier itself) or a whole **dataset**. It carries its reason, its owner (who answers for it), since when it
applies and when it is to be reviewed. An erasure plan marks every record a hold covers as blocked, naming the hold;
a scheduled erasure that comes due while a hold applies stays blocked until the hold is released.

A subject hold must protect a person who exists, under every identifier they are found by: the identifier is looked
up first (`erasure.holds_resolve.place_hold`, which `privacyops hold add` calls — the lookup is a later layer than
the ledger) and `add_hold` gets the person's identifier forms (`forms`: their `DATASET:KEY` reference and every
identifier of theirs). Without `forms` the identifier itself is stored, as given: only an e-mail, a phone number
or an id matches a plan that way, so a name or a `DATASET:KEY` reference (whose key must be read from the store,
`crm.customers:0711` being the row keyed 711) is refused there.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import PrivacyOpsError
from ..sources import digits_of
from ..values import iso_date
from ..workspace import Workspace, current_actor
from ..workspace.keys import keyed_hash
from . import people
from . import audit
from .keyring import workspace_key
from .store import ledger_exists, open_ledger

HOLD_PURPOSE = "hold"
SUBJECT, DATASET = "subject", "dataset"
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REF_RE = re.compile(r"^[^:\s]+:[^:\s]+$")


class HoldError(PrivacyOpsError):
    exit_code = 2


@dataclass(frozen=True)
class Hold:
    hold_id: str
    scope: str  # subject | dataset
    dataset: str | None
    reason: str
    owner: str
    since: dt.date
    review_on: dt.date | None
    created_by: str
    created_at: dt.datetime
    released_at: dt.datetime | None = None
    released_by: str | None = None
    release_note: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def applies_on(self, day: dt.date) -> bool:
        """Whether the hold blocks erasure: while it is active. (`since` records when it began; a hold placed today
        also blocks an erasure planned "as of" an earlier day.)"""
        return self.active

    def describe(self) -> str:
        what = f"dataset {self.dataset}" if self.scope == DATASET else "this subject"
        return f"legal hold {self.hold_id} on {what}: {self.reason} (owner {self.owner}, since {self.since})"

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda v: v.isoformat() if v else None)
        return {"hold_id": self.hold_id, "scope": self.scope, "dataset": self.dataset, "reason": self.reason,
                "owner": self.owner, "since": iso(self.since), "review_on": iso(self.review_on),
                "created_by": self.created_by, "created_at": iso(self.created_at), "active": self.active,
                "released_at": iso(self.released_at), "released_by": self.released_by,
                "release_note": self.release_note}


_COLS = ("hold_id, scope, dataset, reason, hold_owner, since, review_on, created_by, created_at, released_at, "
         "released_by, release_note")


def identifier_forms(value: str, phone_digits: int = 8) -> set[str]:
    """The normalised forms an identifier can match under: `ref:DATASET:KEY`, `email:...`, `phone:<last digits>`,
    `id:...`. Holds store keyed hashes of these; a plan computes the same for the subject's identifiers."""
    text = str(value).strip()
    forms: set[str] = set()
    if not text:
        return forms
    if _EMAIL_RE.match(text):
        forms.add("email:" + text.lower())
    elif _REF_RE.match(text) and not text.replace(":", "").isdigit():
        forms.add("ref:" + text)
    digits = digits_of(text)
    if len(digits) >= 7 and re.fullmatch(r"\+?[\d\s().\-/]+", text):
        forms.add("phone:" + digits[-phone_digits:])
    forms.add("id:" + text)
    return forms


def key_hashes(ws: Workspace, forms: Iterable[str]) -> set[str]:
    secret = workspace_key(ws)
    return {keyed_hash(secret, f, HOLD_PURPOSE) for f in forms}


def _date(value: dt.date | str | None, what: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return iso_date(value)  # strict: YYYY-MM-DD in ASCII digits, a plausible year
    except ValueError as exc:
        raise HoldError(f"{what} '{value}' is not a date written YYYY-MM-DD ({exc})") from None


def _check_unresolved(ws: Workspace, subject: str) -> None:
    """Refuse a subject identifier that, stored as given, would match no plan: a name (plans match e-mails,
    phones, ids and references, never names) or a `DATASET:KEY` reference (its key as the store keeps it is only
    known after reading the row). Both are fine once looked up (`forms`)."""
    text = subject.strip()
    fix = ("place the hold with `privacyops hold add --subject ...` (or privacyops.erasure.holds_resolve.place_hold), "
           "which looks the person up and stores all their identifiers")
    name, sep, _ = text.rpartition(":")
    if sep and name in ws.datamap.datasets:
        raise HoldError(f"hold subject {text!r} is a DATASET:KEY reference, and its key must be read from "
                        f"{name} first: {fix}")
    forms = identifier_forms(text, ws.datamap.settings.phone_match_digits)
    if any(c.isspace() for c in text) and all(f.startswith("id:") for f in forms):
        raise HoldError(f"hold subject {text!r} looks like a name, which matches no plan (several people can "
                        f"share one): {fix}")


def add_hold(ws: Workspace, *, reason: str, owner: str, subject: str | None = None, dataset: str | None = None,
             forms: Iterable[str] | None = None, since: dt.date | str | None = None,
             review_on: dt.date | str | None = None, case_id: str | None = None) -> Hold:
    """Place a hold on a subject or on a dataset.

    A subject hold stores the keyed hashes of `forms` (the looked-up person's identifier forms, see
    `identifier_forms`; `subject` is then their reference, recorded in the audit log as a keyed hash) or, without
    `forms`, of the `subject` identifier itself (an e-mail, phone number or id; see `_check_unresolved`)."""
    if forms is not None and not subject:
        raise HoldError("identifier forms were given without the subject they belong to: pass subject= too")
    if bool(subject) == bool(dataset):
        raise HoldError("a hold covers either a subject (--subject IDENTIFIER or DATASET:KEY) or a dataset "
                        "(--dataset NAME), exactly one")
    if not reason or not reason.strip():
        raise HoldError("a hold needs its reason (e.g. 'litigation 2026-C-114', 'tax audit 2026')")
    if not owner or not owner.strip():
        raise HoldError("a hold needs an owner: the person or team who answers for it and releases it")
    if dataset and dataset not in ws.datamap.datasets:
        raise HoldError(f"unknown dataset '{dataset}'; datasets: {', '.join(ws.datamap.datasets)}")
    since_d = _date(since, "since") or dt.date.today()
    review_d = _date(review_on, "review date")
    if review_d and review_d < since_d:
        raise HoldError(f"the review date {review_d} is before the hold starts ({since_d})")
    hold_id = "HOLD-" + uuid.uuid4().hex[:8].upper()
    acting = people.acting_person(ws, *people.ROLES, action="place a legal hold")  # any registered role
    actor = current_actor()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    hashes: set[str] = set()
    if subject and forms is not None:
        hashes = key_hashes(ws, {f for f in forms if f})
        if not hashes:
            raise HoldError(f"the subject {subject!r} has no identifier to match plans by: a subject hold needs at "
                            f"least one (their DATASET:KEY, an e-mail, a phone number or an id)")
    elif subject:
        _check_unresolved(ws, subject)
        hashes = key_hashes(ws, identifier_forms(subject, ws.datamap.settings.phone_match_digits))
    with open_ledger(ws) as con:
        with con.transaction(lock=True):
            con.execute(f"INSERT INTO legal_holds ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                        [hold_id, SUBJECT if subject else DATASET, dataset, reason.strip(), owner.strip(), since_d,
                         review_d, actor, now])
            for h in sorted(hashes):
                con.execute("INSERT INTO legal_hold_keys VALUES (?, ?)", [hold_id, h])
            audit.record(ws, "hold.add", {"hold_id": hold_id, "scope": SUBJECT if subject else DATASET,
                                          "dataset": dataset, "since": since_d.isoformat(),
                                          "review_on": review_d.isoformat() if review_d else None,
                                          "keys": len(hashes), "looked_up": forms is not None,
                                          **people.audit_signature(people.sign_as(
                                              acting, actor, "hold.add", hold_id=hold_id,
                                              scope=SUBJECT if subject else DATASET, dataset=dataset), mark=False)},
                         case_id=case_id, subject=subject, con=con)
    return get_hold(ws, hold_id)


def get_hold(ws: Workspace, hold_id: str) -> Hold:
    if not ledger_exists(ws):
        raise HoldError(f"unknown hold '{hold_id}'")
    with open_ledger(ws) as con:
        row = con.execute(f"SELECT {_COLS} FROM legal_holds WHERE hold_id = ?", [hold_id]).fetchone()
    if not row:
        raise HoldError(f"unknown hold '{hold_id}'; see `privacyops hold list`")
    return Hold(*row)


def release_hold(ws: Workspace, hold_id: str, note: str | None = None) -> Hold:
    hold = get_hold(ws, hold_id)
    # Releasing lets erasure reach what the hold kept: an approver's (or admin's) decision, signed.
    acting = people.acting_person(ws, people.APPROVER, people.ADMIN, action=f"release hold {hold_id}")
    if not hold.active:
        raise HoldError(f"hold {hold_id} was already released on {hold.released_at:%Y-%m-%d} by {hold.released_by}")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with open_ledger(ws) as con, con.transaction(lock=True):  # the change and its audit entry commit together
        con.execute("UPDATE legal_holds SET released_at = ?, released_by = ?, release_note = ? WHERE hold_id = ?",
                    [now, current_actor(), note, hold_id])
        audit.record(ws, "hold.release", {"hold_id": hold_id, "scope": hold.scope, "dataset": hold.dataset,
                                          **people.audit_signature(people.sign_as(
                                              acting, current_actor(), "hold.release", hold_id=hold_id),
                                              mark=False)},
                     con=con)
    return get_hold(ws, hold_id)


def list_holds(ws: Workspace, active_only: bool = True) -> list[Hold]:
    if not ledger_exists(ws):
        return []
    sql = f"SELECT {_COLS} FROM legal_holds"
    if active_only:
        sql += " WHERE released_at IS NULL"
    with open_ledger(ws) as con:
        return [Hold(*r) for r in con.execute(sql + " ORDER BY since, hold_id").fetchall()]


def active_holds(ws: Workspace) -> list[tuple[Hold, set[str]]]:
    """Every active hold with the key hashes it matches (one ledger read; match many subjects against it)."""
    if not ledger_exists(ws):
        return []
    with open_ledger(ws) as con:
        rows = con.execute(f"SELECT {_COLS} FROM legal_holds WHERE released_at IS NULL ORDER BY since, "
                           f"hold_id").fetchall()
        keys = con.execute("SELECT k.hold_id, k.key_hash FROM legal_hold_keys k JOIN legal_holds h ON "
                           "h.hold_id = k.hold_id WHERE h.released_at IS NULL").fetchall()
    by_hold: dict[str, set[str]] = {}
    for hid, h in keys:
        by_hold.setdefault(hid, set()).add(h)
    return [(Hold(*r), by_hold.get(r[0], set())) for r in rows]


def match(active: list[tuple[Hold, set[str]]], hashes: Iterable[str], datasets: Iterable[str],
          on: dt.date | None = None) -> tuple[list[Hold], dict[str, Hold]]:
    """Of `active` (see active_holds), those that apply: (holds on the subject, {dataset: hold on the dataset})."""
    on = on or dt.date.today()
    hashes, wanted = set(hashes), set(datasets)
    on_subject = [h for h, keys in active if h.scope == SUBJECT and h.applies_on(on) and keys & hashes]
    on_dataset: dict[str, Hold] = {}
    for h, _ in active:
        if h.scope == DATASET and h.applies_on(on) and h.dataset in wanted and h.dataset not in on_dataset:
            on_dataset[h.dataset] = h
    return on_subject, on_dataset


def matching_holds(ws: Workspace, hashes: Iterable[str], datasets: Iterable[str],
                   on: dt.date | None = None) -> tuple[list[Hold], dict[str, Hold]]:
    """Active holds that apply: (holds on the subject, {dataset: hold on the dataset})."""
    return match(active_holds(ws), hashes, datasets, on)


__all__ = ["Hold", "HoldError", "add_hold", "release_hold", "list_holds", "get_hold", "matching_holds", "active_holds",
           "identifier_forms", "key_hashes", "SUBJECT", "DATASET"]
