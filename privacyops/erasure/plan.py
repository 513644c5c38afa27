"""Erasure plans (Art. 17): the plan model, its storage in the ledger and its approval.

An `ErasurePlan` lists every record of a subject (or of many, in a batch; or the records whose retention has
ended, in a due plan) with one decided action — delete, mask, retain (restricted until a date), blocked (legal
hold, or retention not yet started) — and its reason, plus what is not erased and why (shared with another person,
reference data, other people's records mentioning the subject). How the actions are decided: `erasure_decide`.

The plan records a fingerprint (SHA-256) of every planned row's content, so execution can refuse a plan the data
has moved away from, and a hash of the whole plan, which the approval and the certificate bind to. Plans live in
the ledger (`erasure_plans`); nothing changes until a second person approves (`approve_plan`, four-eyes:
`settings.four_eyes`, roles: `roles.preparers` / `roles.approvers` in the map). Rows appear only by dataset and
key; identifiers only as keyed hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from ..errors import IdentityError, PrivacyOpsError
from ..ledger import audit, ledger_exists, open_ledger
from ..ledger.people import APPROVER, NOT_PROVEN, PREPARER, acting_person, audit_signature, sign_as
from ..ledger.schedule import key_json
from ..ledger.store import holding_ledger
from ..map import DataMap
from ..values import format_key, json_safe
from .canonical import _canonical_large, fingerprint, key_text, no_collection, once, plan_hashed, row_key
from ..ledger.keyring import workspace_key
from ..workspace import Workspace, current_actor, sealing
from .order import dataset_order, source_order

DELETE, MASK, RETAIN, BLOCKED = "delete", "mask", "retain", "blocked"
ACTIONS = (DELETE, MASK, RETAIN, BLOCKED)
_STRENGTH = {DELETE: 0, MASK: 1, RETAIN: 2, BLOCKED: 3}
REQUEST, DUE, BATCH, RETENTION = "request", "due", "batch", "retention"
# The life of a plan: planned -> approved -> executing -> done | unverified. Executing may end `failed` (the store
# refused a change: retry after fixing it) or stay `executing` (killed: running it again resumes); `refused` means
# stale (plan again); `cancelled` is a stop by hand (anything not yet executed); `preview` a plan as of a later day
# than today, which can only be looked at.
PLANNED, APPROVED, EXECUTING, DONE, UNVERIFIED, REFUSED = ("planned", "approved", "executing", "done",
                                                           "unverified", "refused")
FAILED, CANCELLED, PREVIEW = "failed", "cancelled", "preview"
STATUSES = (PLANNED, APPROVED, EXECUTING, DONE, UNVERIFIED, REFUSED, FAILED, CANCELLED, PREVIEW)
SHARED_NOTE = "not erased: held under an identifier shared with another person — review"
CONTEXT_NOTE = "not erased: reference data shared with other people"
CO_OWNED_NOTE = "not erased: this record is also another person's own (e.g. a shared address) — review"
MENTION_NOTE = "not erased: another person's record mentioning the subject — review"
# Basis kinds (the start of a schedule entry's basis text): why a row is kept and what to re-check when due.
B_RETENTION, B_WITH, B_REFERENCED, B_HOLD, B_ANCHOR = "retention", "kept with", "referenced", "hold", "anchor"


class ErasureError(PrivacyOpsError):
    """An erasure cannot be planned, approved or executed as asked (nothing changed unless the message says so)."""

    exit_code = 2


class StalePlanError(ErasureError):
    """The data changed since planning: the plan is refused; plan again."""


class ExecutionFailed(ErasureError):
    """The store refused part of an execution: the plan is `failed`; the message says what to fix, then
    `retry_plan` (or `cancel_plan`)."""

    exit_code = 3


def today() -> dt.date:
    """The day it is, for erasure: the default `as_of`, and the day no plan that changes data may run ahead of.
    The one clock of this package (a test that needs another day replaces this function)."""
    return dt.date.today()


def preview_message(plan_id: str, as_of: dt.date) -> str:
    """Why a plan as of a later day than today is only a preview."""
    return (f"plan {plan_id} previews {as_of} (today is {today()}): plans for a future date can be looked at, never "
            f"approved or executed; plan again as of today")


def refuse_future(as_of: dt.date, what: str) -> None:
    """Erasures that run without a second approval (due erasures, retention sweeps) never run ahead of the
    calendar: a later day would erase records whose time has not come."""
    if as_of > today():
        raise ErasureError(f"{what} as of {as_of}: that is later than today ({today()}); erasures that run without a "
                           f"second approval never run ahead of the calendar — run it as of today or an earlier day "
                           f"(to look ahead: privacyops erase schedule lists what comes due when, and privacyops erase "
                           f"retention --as-of DATE without --execute is a dry run)")


# ---------------------------------------------------------------------------------------------------------------
# The plan model.


@dataclass
class PlannedRow:
    """One record and what erasure does to it."""

    dataset: str
    source: str
    key: tuple
    action: str
    reason: str
    basis: str = ""  # for kept rows: "<kind>: ..." (see B_*), the text of the restriction register and schedule
    rule: str | None = None
    ground: str | None = None
    until: dt.date | None = None  # kept through this day
    due_on: dt.date | None = None  # erasure due (until + 1 day); None: to be looked at on every due run
    masks: dict[str, dict[str, Any]] = field(default_factory=dict)  # column -> {value, strategy, reason, note}
    kept: list[str] = field(default_factory=list)
    restricted: bool = False
    scheduled: bool = False
    hold_id: str | None = None
    fingerprint: str = ""  # the row's content at planning
    kept_fingerprint: str = ""  # the content of the columns that stay unchanged
    subject: str | None = None  # the subject ref this row belongs to (batch plans hold several)
    notes: list[str] = field(default_factory=list)
    # Rows with named parties: the subject's party, whether they own the row (else they appear in it: only their
    # fields change), and the other parties' columns (never read into the plan, compared or changed).
    party: str | None = None
    owner: bool = True
    withheld: list[str] = field(default_factory=list)

    @once
    def rid(self) -> tuple[str, str]:
        # computed once per row (settling and ordering ask for it often: a JSON text per call at 70k rows is
        # seconds); a row's dataset and key never change once planned
        return self.dataset, key_text(tuple(self.key))

    @property
    def ref(self) -> str:
        return f"{self.dataset}:{format_key(self.key)}"

    @property
    def stays(self) -> bool:
        return self.action != DELETE

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data. Of its values only `masks` may hold a dict whose keys are not text (a mask's
        value); `canonical.plan_hashed` relies on it."""
        key = list(self.key)
        if not all(type(v) is int or type(v) is str for v in key):
            key = json_safe(key)
        return {"dataset": self.dataset, "source": self.source, "key": key,
                "action": self.action, "reason": self.reason, "basis": self.basis, "rule": self.rule,
                "ground": self.ground, "until": self.until.isoformat() if self.until else None,
                "due_on": self.due_on.isoformat() if self.due_on else None, "masks": self.masks,
                "kept": self.kept, "restricted": self.restricted, "scheduled": self.scheduled,
                "hold_id": self.hold_id, "fingerprint": self.fingerprint, "kept_fingerprint": self.kept_fingerprint,
                "subject": self.subject, "notes": self.notes,
                **({"party": self.party, "owner": self.owner, "withheld": self.withheld} if self.party else {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PlannedRow":
        day = (lambda v: dt.date.fromisoformat(v) if v else None)
        return cls(dataset=d["dataset"], source=d["source"], key=tuple(d["key"]), action=d["action"],
                   reason=d["reason"], basis=d.get("basis", ""), rule=d.get("rule"), ground=d.get("ground"),
                   until=day(d.get("until")), due_on=day(d.get("due_on")), masks=d.get("masks") or {},
                   kept=d.get("kept") or [], restricted=d.get("restricted", False),
                   scheduled=d.get("scheduled", False), hold_id=d.get("hold_id"),
                   fingerprint=d.get("fingerprint", ""), kept_fingerprint=d.get("kept_fingerprint", ""),
                   subject=d.get("subject"), notes=d.get("notes") or [], party=d.get("party"),
                   owner=d.get("owner", True), withheld=d.get("withheld") or [])


@dataclass
class NotErased:
    """A row the plan does not touch, listed for review."""

    dataset: str
    key: tuple
    why: str
    subject: str | None = None
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "key": json_safe(list(self.key)), "why": self.why,
                "subject": self.subject, "field": self.field}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "NotErased":
        return cls(d["dataset"], tuple(d["key"]), d["why"], d.get("subject"), d.get("field"))


@dataclass
class ErasurePlan:
    """What an erasure will do, row by row, with counts per dataset and action (plain data; `to_frame()` for
    display, `to_dict()` for JSON). Identifiers appear only as keyed hashes; rows only by key."""

    plan_id: str
    kind: str  # request | due | batch | retention
    case_id: str | None
    as_of: dt.date
    map_fingerprint: str
    rows: list[PlannedRow]
    subjects: list[dict[str, Any]] = field(default_factory=list)  # {ref, ref_hash, hold_hashes, email_hashes}
    not_erased: list[NotErased] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # batch: lines that found no single person
    suppression: dict[str, Any] = field(default_factory=dict)  # {reason, add: [hash], keep: [hash]}
    origin: dict[str, Any] = field(default_factory=dict)  # due plans: the plan(s) that decided and approved
    notes: list[str] = field(default_factory=list)
    status: str = PLANNED
    prepared_by: str = ""
    prepared_at: dt.datetime | None = None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    approval_note: str | None = None
    executed_by: str | None = None
    executed_at: dt.datetime | None = None
    certificate: str | None = None
    plan_hash: str = ""
    failure: str | None = None  # a failed plan: what went wrong and what to do (from the audit log; not hashed)
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)  # prepared/approved/executed: erasure_signing

    # -- views ------------------------------------------------------------------------------------------------
    preview = property(lambda self: _is_preview(self), doc="As of a later day than today: looked at, never run.")
    def counts(self) -> dict[str, dict[str, int]]:
        """{dataset: {action: rows}}."""
        out: dict[str, dict[str, int]] = {}
        for r in self.rows:
            d = out.setdefault(r.dataset, {})
            d[r.action] = d.get(r.action, 0) + 1
        return out

    def totals(self) -> dict[str, int]:
        out = {a: 0 for a in ACTIONS}
        for r in self.rows:
            out[r.action] += 1
        return out

    def keys(self, dataset: str, action: str | None = None) -> list[tuple]:
        return [r.key for r in self.rows if r.dataset == dataset and (action is None or r.action == action)]

    def row(self, dataset: str, key: Iterable[Any]) -> PlannedRow | None:
        rid = (dataset, key_json(key))
        return next((r for r in self.rows if r.rid == rid), None)

    @property
    def sources(self) -> list[str]:
        return sorted({r.source for r in self.rows})

    @property
    def retained(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.action in (RETAIN, BLOCKED)]

    def not_erased_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for n in self.not_erased:
            d = out.setdefault(n.why, {})
            d[n.dataset] = d.get(n.dataset, 0) + 1
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per dataset and action: how many records, until when, why, which fields are masked."""
        groups: dict[tuple[str, str], list[PlannedRow]] = {}
        for r in self.rows:
            groups.setdefault((r.dataset, r.action), []).append(r)
        out = []
        for (name, action), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], _STRENGTH[kv[0][1]])):
            untils = sorted({r.until for r in rows if r.until})
            masked = sorted({f"{c}:{m['strategy']}" for r in rows for c, m in r.masks.items()})
            reasons = list(dict.fromkeys(_short_reason(r) for r in rows))
            out.append({"dataset": name, "action": action, "records": len(rows), "source": rows[0].source,
                        "until": (untils[0].isoformat() if len(untils) == 1 else
                                  f"{untils[0]} … {untils[-1]}" if untils else ""),
                        "masked fields": ", ".join(masked), "why": "; ".join(reasons[:3]) +
                        (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else "")})
        return pd.DataFrame(out, columns=["dataset", "action", "records", "source", "until", "masked fields",
                                          "why"])

    def rows_frame(self) -> pd.DataFrame:
        """One row per record."""
        return pd.DataFrame([{"dataset": r.dataset, "key": format_key(r.key), "action": r.action,
                              "until": r.until, "due": r.due_on, "masked": ", ".join(
                                  f"{c}:{m['strategy']}" for c, m in r.masks.items()),
                              "restricted": r.restricted, "reason": r.reason} for r in self.rows],
                            columns=["dataset", "key", "action", "until", "due", "masked", "restricted", "reason"])

    def not_erased_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"dataset": n.dataset, "key": format_key(n.key), "why": n.why,
                              "field": n.field or ""} for n in self.not_erased],
                            columns=["dataset", "key", "why", "field"])

    def body(self) -> dict[str, Any]:
        """The decided content (what approval and the certificate bind to): no status, no approval."""
        return {"plan_id": self.plan_id, "kind": self.kind, "case_id": self.case_id,
                "as_of": self.as_of.isoformat(), "map_fingerprint": self.map_fingerprint,
                "rows": [r.to_dict() for r in self.rows], "subjects": self.subjects,
                "not_erased": [n.to_dict() for n in self.not_erased], "skipped": self.skipped,
                "suppression": self.suppression, "origin": self.origin, "notes": self.notes}

    def compute_hash(self) -> str:
        self._canonical_body = plan_hashed(self.body())  # save_plan stores this very text (built once)
        return self._canonical_body[0]

    def summary(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "kind": self.kind, "case_id": self.case_id, "status": self.status,
                "as_of": self.as_of.isoformat(), "subjects": len(self.subjects), "totals": self.totals(),
                "datasets": self.counts(), "not_erased": self.not_erased_counts(), "skipped": len(self.skipped),
                "plan_hash": self.plan_hash, "map_fingerprint": self.map_fingerprint, **_status_note(self)}

    def to_dict(self) -> dict[str, Any]:
        iso = (lambda v: v.isoformat() if v else None)
        return {**self.body(), "status": self.status, "summary": self.summary(), "plan_hash": self.plan_hash,
                "prepared_by": self.prepared_by, "prepared_at": iso(self.prepared_at),
                "approved_by": self.approved_by, "approved_at": iso(self.approved_at),
                "approval_note": self.approval_note, "executed_by": self.executed_by,
                "executed_at": iso(self.executed_at), "certificate": self.certificate, "signatures": self.signatures}

    def render(self) -> str:
        """The plan as text (CLI)."""
        lines = _headline(self)
        if self.subjects:
            lines.append("Subject(s): " + ", ".join(s.get("ref") or "(no person row)" for s in self.subjects[:5])
                         + (f" and {len(self.subjects) - 5} more" if len(self.subjects) > 5 else ""))
        t = self.totals()
        lines.append(f"{len(self.rows)} record(s): {t[DELETE]} delete, {t[MASK]} mask, {t[RETAIN]} retain "
                     f"(restricted), {t[BLOCKED]} blocked")
        with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 90):
            if self.rows:
                lines += ["", self.to_frame().to_string(index=False)]
        for why, per in self.not_erased_counts().items():
            lines.append(f"{why}: " + ", ".join(f"{d} ({n})" for d, n in per.items()))
        if self.suppression.get("add") or self.suppression.get("keep"):
            lines.append(f"Suppression list: {len(self.suppression.get('keep', []))} entry(ies) kept, "
                         f"{len(self.suppression.get('add', []))} to add ({self.suppression.get('reason') or '-'})")
        for s in self.skipped:
            lines.append(f"skipped line {s.get('line')}: {s.get('why')}")
        for n in self.notes:
            lines.append(f"note: {n}")
        if self.approved_by:
            lines.append(f"Approved by {self.approved_by}" + (f" ({self.approval_note})" if self.approval_note
                                                               else ""))
        lines.append(f"plan hash {self.plan_hash[:16]}…  map {self.map_fingerprint[:16]}…")
        return "\n".join(lines)


def _is_preview(plan: ErasurePlan) -> bool:
    """A plan as of a later day than today: it can be looked at, never approved or executed."""
    return plan.status == PREVIEW or (plan.status in (PLANNED, APPROVED) and plan.as_of > today())


def _status_note(plan: ErasurePlan) -> dict[str, Any]:
    """What a summary says about a preview or a failure."""
    return {"preview": plan.preview, **({"note": preview_message(plan.plan_id, plan.as_of)} if plan.preview else {}),
            **({"failure": plan.failure} if plan.failure else {})}


def _headline(plan: ErasurePlan) -> list[str]:
    """The first lines of a rendered plan: what it is, and loudly whether it is only a preview or has failed."""
    lines = [f"Erasure plan {plan.plan_id} ({plan.kind}) — case {plan.case_id or '-'}, as of {plan.as_of}, "
             f"status {plan.status}"]
    if plan.preview:
        lines.insert(0, f"PREVIEW ONLY — {preview_message(plan.plan_id, plan.as_of)}.")
    if plan.status == FAILED:
        lines.append(f"FAILED {plan.failure}" if plan.failure else
                     f"FAILED (privacyops audit log --action erasure.failed says why). After fixing: privacyops erase "
                     f"retry {plan.plan_id}; or privacyops erase cancel {plan.plan_id} --reason R")
    return lines


def _short_reason(r: PlannedRow) -> str:
    if r.action == RETAIN and r.rule:
        return f"{r.rule}: {r.ground}"
    return r.reason.split(" (")[0] if len(r.reason) > 90 else r.reason


# ---------------------------------------------------------------------------------------------------------------
# Orders, ids, dates.


def _new_plan_id(kind: str) -> str:
    return {"request": "ERP", "due": "ERD", "batch": "ERB", "retention": "ERR"}[kind] + "-" + uuid.uuid4().hex[:10].upper()


def _ordered(dm: DataMap, rows: list[PlannedRow]) -> list[PlannedRow]:
    pos = {n: i for i, n in enumerate(reversed(dataset_order(dm)))}  # parents first: reads like the lookup
    return sorted(rows, key=lambda r: (pos.get(r.dataset, 0), r.dataset, r.rid[1]))


def _as_date(value: dt.date | str | None) -> dt.date:
    if value is None:
        return today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ErasureError(f"'{value}' is not a date written YYYY-MM-DD") from None


def _audit_summary(plan: ErasurePlan) -> dict[str, Any]:
    return {"plan_id": plan.plan_id, "kind": plan.kind, "as_of": plan.as_of.isoformat(),
            "totals": plan.totals(), "datasets": plan.counts(), "not_erased": plan.not_erased_counts(),
            "subjects": len(plan.subjects), "skipped": len(plan.skipped), "plan_hash": plan.plan_hash[:16],
            "map_fingerprint": plan.map_fingerprint[:16]}


# ---------------------------------------------------------------------------------------------------------------
# The ledger: storing, loading, approving.

_SCOLS = "prepared_sig, approved_sig, executed_sig"  # JSON signatures (a later migration: not in _PCOLS)
_PCOLS = ("plan_id, kind, case_id, subject_hash, status, as_of, plan_hash, map_fingerprint, prepared_by, prepared_at, "
          "approved_by, approved_at, approval_note, executed_by, executed_at, certificate, body")


def save_plan(ws: Workspace, plan: ErasurePlan, audit_details: dict[str, Any] | None = None,
              subject: str | None = None) -> None:
    """Store a new plan, with its `erasure.plan` audit entry (`audit_details`) in the same transaction. A plan as
    of a later day than today is stored as a `preview`: it can be looked at (what will happen to these records on
    that day), never approved or executed."""
    if plan.as_of > today() and plan.status in (PLANNED, APPROVED):
        plan.status = PREVIEW
    first = plan.subjects[0].get("ref_hash") if len(plan.subjects) == 1 else None
    made = getattr(plan, "_canonical_body", None)  # the text its hash was computed over, when it is this hash's
    text = made[1] if made and made[0] == plan.plan_hash else _canonical_large(plan.body())
    body = sealing.seal_text(workspace_key(ws), sealing.PLAN_BODY, sealing.pack(text))  # key checked first
    with open_ledger(ws) as con, con.transaction(lock=True):
        if audit_details is not None:
            audit.record(ws, "erasure.plan", audit_details, case_id=plan.case_id, subject=subject, con=con)
        con.execute(f"INSERT INTO erasure_plans ({_PCOLS}, {_SCOLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    f"?, ?, ?, ?, ?, ?, ?)",
                    [plan.plan_id, plan.kind, plan.case_id, first, plan.status, plan.as_of, plan.plan_hash,
                     plan.map_fingerprint, plan.prepared_by, plan.prepared_at, plan.approved_by, plan.approved_at,
                     plan.approval_note, plan.executed_by, plan.executed_at, plan.certificate,
                     body, *_sig_values(plan)])


def _sig_values(plan: ErasurePlan) -> list[str | None]:
    return [json.dumps(plan.signatures[k], sort_keys=True) if plan.signatures.get(k) else None
            for k in ("prepared", "approved", "executed")]


def load_plan(ws: Workspace, plan_id: str) -> ErasurePlan:
    """A stored plan; its content is checked against the hash recorded when it was made."""
    if not ledger_exists(ws):
        raise ErasureError(f"unknown erasure plan '{plan_id}'")
    with open_ledger(ws) as con:
        row = con.execute(f"SELECT {_PCOLS} FROM erasure_plans WHERE plan_id = ?", [plan_id]).fetchone()
    if not row:
        raise ErasureError(f"unknown erasure plan '{plan_id}'; see `privacyops erase list`")
    pid, status, plan_hash, body = row[0], row[4], row[6], row[16]
    text = sealing.open_text(workspace_key(ws), sealing.PLAN_BODY, body)  # clear: older ledgers
    with no_collection():
        plan = _decoded(text, row)
    if status == FAILED:
        plan.failure = last_failure(ws, pid)
    with open_ledger(ws) as con:
        sigs = con.execute(f"SELECT {_SCOLS} FROM erasure_plans WHERE plan_id = ?", [plan_id]).fetchone()
    plan.signatures = {k: json.loads(v) for k, v in zip(("prepared", "approved", "executed"), sigs) if v}
    # The stored text is the canonical text the hash was taken over: byte for byte the same, it needs no rebuilding
    # (a plan of 70k rows takes seconds to rebuild); any other text is rebuilt and compared, as it always was.
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != plan_hash and plan.compute_hash() != plan_hash:
        raise ErasureError(f"plan {plan_id} in the ledger does not match its recorded hash: it was altered after "
                           f"planning; it will not be approved or executed (plan again)")
    return plan


def _decoded(text: str, row: tuple) -> ErasurePlan:
    """The plan of a stored row (`_PCOLS`) and its body's text."""
    (pid, kind, case_id, _, status, as_of, plan_hash, fp, prepared_by, prepared_at, approved_by, approved_at,
     note, executed_by, executed_at, certificate, _) = row
    b = json.loads(text)
    return ErasurePlan(plan_id=pid, kind=kind, case_id=case_id, as_of=as_of if isinstance(as_of, dt.date) else
                       dt.date.fromisoformat(str(as_of)), map_fingerprint=fp,
                       rows=[PlannedRow.from_dict(r) for r in b["rows"]], subjects=b.get("subjects", []),
                       not_erased=[NotErased.from_dict(n) for n in b.get("not_erased", [])],
                       skipped=b.get("skipped", []), suppression=b.get("suppression", {}),
                       origin=b.get("origin", {}), notes=b.get("notes", []), status=status,
                       prepared_by=prepared_by, prepared_at=prepared_at, approved_by=approved_by,
                       approved_at=approved_at, approval_note=note, executed_by=executed_by,
                       executed_at=executed_at, certificate=certificate, plan_hash=plan_hash)


def list_plans(ws: Workspace, status: str | None = None) -> list[dict[str, Any]]:
    if not ledger_exists(ws):
        return []
    sql, params = ("SELECT plan_id, kind, case_id, status, as_of, prepared_by, prepared_at, approved_by, "
                   "executed_at, certificate FROM erasure_plans"), []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    with open_ledger(ws) as con:
        rows = con.execute(sql + " ORDER BY prepared_at", params).fetchall()
    keys = ("plan_id", "kind", "case_id", "status", "as_of", "prepared_by", "prepared_at", "approved_by",
            "executed_at", "certificate")
    return [dict(zip(keys, r)) for r in rows]


def last_failure(ws: Workspace, plan_id: str) -> str | None:
    """What the last failed execution of a plan said (the audit log's `erasure.failed`: names, never rows)."""
    got = [e for e in audit.entries(ws, action="erasure.failed") if e.details.get("plan_id") == plan_id]
    return got[-1].details.get("message") if got else None


def set_status(ws: Workspace, plan_id: str, status: str, audit_entry: tuple[str, dict, str | None] | None = None,
               **cols: Any) -> None:
    """Change a plan's status (and columns); `audit_entry` (action, details, case id) is recorded in the same
    transaction, so the change and its entry commit together."""
    sets = ", ".join(["status = ?"] + [f"{c} = ?" for c in cols])
    with open_ledger(ws) as con, con.transaction(lock=True):
        con.execute(f"UPDATE erasure_plans SET {sets} WHERE plan_id = ?", [status, *cols.values(), plan_id])
        if audit_entry is not None:
            audit.record(ws, audit_entry[0], audit_entry[1], case_id=audit_entry[2], con=con)


@holding_ledger  # one opening of an embedded ledger for its reads, checks and writes
def approve_plan(ws: Workspace, plan_id: str, note: str | None = None) -> ErasurePlan:
    """Approve a plan as the current actor: never the preparer while four-eyes is on; an approver when the map
    names approvers."""
    with no_collection():  # the plan decoded is a million objects (see `no_collection`)
        return _approve(ws, plan_id, note)


def _approve(ws: Workspace, plan_id: str, note: str | None) -> ErasurePlan:
    plan = load_plan(ws, plan_id)
    acting = acting_person(ws, APPROVER, action=f"approve erasure plan {plan_id}")
    actor = current_actor()
    if plan.preview:
        raise ErasureError(preview_message(plan_id, plan.as_of))
    if plan.status != PLANNED:
        raise ErasureError(f"plan {plan_id} is {plan.status}; only a planned plan can be approved")
    own = plan.signatures.get("prepared") or {}
    if acting is not None and (own.get("key_id") == acting.key.key_id or plan.prepared_by == acting.name):
        raise IdentityError(f"{acting.name} prepared plan {plan_id} (signed with key {own.get('key_id') or '-'}) "
                            f"and cannot also approve it: another registered approver approves it with their own key")
    if plan.map_fingerprint != ws.datamap.fingerprint:
        raise StalePlanError(f"the data map changed since plan {plan_id} was made; plan again")
    settings, roles = ws.datamap.settings, ws.datamap.roles
    if settings.four_eyes and actor == plan.prepared_by:
        raise (IdentityError if acting else ErasureError)(
            f"{actor} prepared plan {plan_id} and cannot also approve it (four-eyes): another person approves it"
            + ("" if acting else f" ({NOT_PROVEN}: PRIVACYOPS_ACTOR)"))
    if roles.approvers and actor not in roles.approvers:
        raise ErasureError(f"{actor} may not approve erasure plans; roles.approvers in the map: "
                           f"{', '.join(roles.approvers)}")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    sig = sign_as(acting, actor, "erasure.approve", plan_id=plan_id, plan_hash=plan.plan_hash)
    sig_text = json.dumps(sig, sort_keys=True)
    set_status(ws, plan_id, APPROVED, ("erasure.approve", {"plan_id": plan_id, "plan_hash": plan.plan_hash[:16],
                                                           "prepared_by": plan.prepared_by, **audit_signature(sig)},
                                       plan.case_id),
               approved_by=actor, approved_at=now, approval_note=note, approved_sig=sig_text)
    # the plan as stored now, without reading (and decoding) it again: only these columns changed
    plan.status, plan.approved_by, plan.approved_at, plan.approval_note = APPROVED, actor, now, note
    plan.signatures["approved"] = json.loads(sig_text)
    return plan


def committed_sources(ws: Workspace, plan_id: str) -> dict[str, tuple[dt.datetime, dict]]:
    """The sources an execution of the plan committed: {source: (when, counts per dataset)}."""
    with open_ledger(ws) as con:
        rows = con.execute("SELECT source, committed_at, counts FROM erasure_sources WHERE plan_id = ?",
                           [plan_id]).fetchall()
    return {s: (at, json.loads(c)) for s, at, c in rows}


def cancel_plan(ws: Workspace, plan_id: str, reason: str) -> tuple[ErasurePlan, list[str]]:
    """Stop a plan by hand, with a reason (audited): it becomes `cancelled` and is never approved or executed;
    its case can be planned again. An executed plan cannot be cancelled. Returns the plan and the sources an
    execution already committed: they stay as they are (the audit entry names them); a new plan covers the rest.
    An execution still running stops before its next source."""
    plan = load_plan(ws, plan_id)
    acting = acting_person(ws, PREPARER, APPROVER, action=f"cancel erasure plan {plan_id}")
    reason = (reason or "").strip()
    if not reason:
        raise ErasureError(f"say why plan {plan_id} is cancelled: privacyops erase cancel {plan_id} --reason TEXT")
    if plan.status in (DONE, UNVERIFIED):
        raise ErasureError(f"plan {plan_id} was executed ({plan.status}; certificate: {plan.certificate}); an "
                           f"executed plan cannot be cancelled — its records are already erased as it says")
    if plan.status == CANCELLED:
        raise ErasureError(f"plan {plan_id} is already cancelled")
    committed = sorted(committed_sources(ws, plan_id))
    sig = sign_as(acting, "", "erasure.cancel", plan_id=plan_id, plan_hash=plan.plan_hash)
    set_status(ws, plan_id, CANCELLED, ("erasure.cancel", {"plan_id": plan_id, "reason": reason, "was": plan.status,
                                                           "committed_sources": committed,
                                                           **audit_signature(sig, mark=False)}, plan.case_id))
    plan.status = CANCELLED
    return plan, committed


__all__ = ["ErasurePlan", "PlannedRow", "NotErased", "ErasureError", "StalePlanError", "ExecutionFailed",
           "approve_plan", "cancel_plan", "load_plan", "save_plan", "list_plans", "set_status", "committed_sources",
           "last_failure", "dataset_order", "source_order", "fingerprint", "row_key", "today", "refuse_future",
           "preview_message", "DELETE", "MASK", "RETAIN", "BLOCKED", "ACTIONS", "REQUEST", "DUE", "BATCH",
           "RETENTION", "PLANNED", "APPROVED", "EXECUTING", "DONE", "UNVERIFIED", "REFUSED", "FAILED", "CANCELLED",
           "PREVIEW", "STATUSES"]
