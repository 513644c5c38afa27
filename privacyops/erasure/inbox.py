"""The approval inbox: the erasure plans a person has to act on, read from the ledger (`erasure_plans`).

Four-eyes needs two people, usually at two desks: one prepares a plan, another approves it, someone executes it.
`erasure_inbox` answers "what is waiting for me?" from the ledger alone — nothing lives in a kernel's memory, so
a reload, a second JupyterLab or a second machine on the same ledger sees the same inbox:

- awaiting approval: planned plans prepared by someone else (the ones this person may be asked to approve);
- mine: the plans this person prepared, newest first, with their status;
- to execute: approved plans (and runs that were interrupted, which executing again completes);
- failed: plans the store refused (retry after the fix, or cancel).

`allowed_actions` says which of approve / execute / cancel / retry a person may use on a plan and, when not,
why in plain words; it mirrors the checks `approve_plan`, `execute_plan`, `cancel_plan` and `retry_plan` make
(which still decide: the inbox only spares a person a refusal).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from ..ledger import ledger_exists, open_ledger
from ..ledger.keyring import workspace_key
from ..workspace import Workspace, current_actor, sealing
from .plan import (
    APPROVED,
    BLOCKED,
    CANCELLED,
    DELETE,
    DONE,
    EXECUTING,
    FAILED,
    MASK,
    PLANNED,
    PREVIEW,
    REFUSED,
    RETAIN,
    UNVERIFIED,
)

MINE_LIMIT = 20  # "plans I prepared" shows the newest few; the CLI lists them all


@dataclass(frozen=True)
class InboxPlan:
    """One plan as the inbox lists it: who prepared it when, what it does (records per action), its status."""

    plan_id: str
    kind: str  # request | due | batch | retention
    case_id: str | None
    status: str
    as_of: dt.date
    prepared_by: str
    prepared_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    executed_at: dt.datetime | None
    delete: int
    mask: int
    keep: int  # retained (restricted) until their retention ends
    blocked: int  # legal hold, or retention not yet started


@dataclass(frozen=True)
class Inbox:
    """What `actor` has to act on (each list newest first)."""

    actor: str
    awaiting_approval: list[InboxPlan] = field(default_factory=list)
    mine: list[InboxPlan] = field(default_factory=list)
    to_execute: list[InboxPlan] = field(default_factory=list)
    failed: list[InboxPlan] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.awaiting_approval or self.mine or self.to_execute or self.failed)


@dataclass(frozen=True)
class Allowed:
    """Per action, None when `actor` may use it on the plan, else why not (plain words)."""

    approve: str | None
    execute: str | None
    cancel: str | None
    retry: str | None


_COLS = ("plan_id, kind, case_id, status, as_of, prepared_by, prepared_at, approved_by, approved_at, executed_at, "
         "body")


def _item(row: tuple, secret: bytes) -> InboxPlan:
    (plan_id, kind, case_id, status, as_of, prepared_by, prepared_at, approved_by, approved_at, executed_at,
     body) = row
    counts = {DELETE: 0, MASK: 0, RETAIN: 0, BLOCKED: 0}
    for r in json.loads(sealing.open_text(secret, sealing.PLAN_BODY, body)).get("rows", []):  # sealed at rest
        counts[r.get("action")] = counts.get(r.get("action"), 0) + 1
    as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of))
    return InboxPlan(plan_id, kind, case_id, status, as_of, prepared_by, prepared_at, approved_by, approved_at,
                     executed_at, counts[DELETE], counts[MASK], counts[RETAIN], counts[BLOCKED])


def erasure_inbox(ws: Workspace, actor: str | None = None, *, mine_limit: int = MINE_LIMIT) -> Inbox:
    """The plans `actor` (default: the current actor) has to act on, read from the ledger now.

    Awaiting approval: `planned`, prepared by someone else (a preview, dated later than today, is never approved,
    so it is not listed). Mine: the newest `mine_limit` plans `actor` prepared, any status. To execute: `approved`
    or `executing` (an interrupted run). Failed: `failed`. A plan can be in two lists (mine and to execute)."""
    actor = actor or current_actor()
    if not ledger_exists(ws):
        return Inbox(actor)
    with open_ledger(ws) as con:
        open_rows = con.execute(
            f"SELECT {_COLS} FROM erasure_plans WHERE status IN (?, ?, ?, ?) ORDER BY prepared_at DESC, plan_id",
            [PLANNED, APPROVED, EXECUTING, FAILED]).fetchall()
        mine_rows = con.execute(
            f"SELECT {_COLS} FROM erasure_plans WHERE prepared_by = ? ORDER BY prepared_at DESC, plan_id LIMIT ?",
            [actor, int(mine_limit)]).fetchall()
    secret = workspace_key(ws)
    items = [_item(r, secret) for r in open_rows]
    return Inbox(actor,
                 awaiting_approval=[p for p in items if p.status == PLANNED and p.prepared_by != actor],
                 mine=[_item(r, secret) for r in mine_rows],
                 to_execute=[p for p in items if p.status in (APPROVED, EXECUTING)],
                 failed=[p for p in items if p.status == FAILED])


def allowed_actions(ws: Workspace, status: str, prepared_by: str, actor: str | None = None) -> Allowed:
    """Which actions `actor` (default: the current actor) may use on a plan in `status` prepared by
    `prepared_by`, under the map's four-eyes setting and roles; each refusal in plain words."""
    actor = actor or current_actor()
    settings, roles = ws.datamap.settings, ws.datamap.roles
    finished = {DONE: "this plan was already executed", UNVERIFIED: "this plan was already executed",
                CANCELLED: "this plan was cancelled; make a new plan", REFUSED: "this plan was refused because "
                "the data changed since planning; make a new plan",
                PREVIEW: "this plan is a preview for a later day: it can only be looked at"}
    over = finished.get(status)

    approve = over or (None if status == PLANNED else f"this plan is {status}; only a planned plan is approved")
    if approve is None and settings.four_eyes and actor == prepared_by:
        approve = ("you prepared this plan; another person approves it (the approver must differ from the "
                   "preparer)")
    if approve is None and roles.approvers and actor not in roles.approvers:
        approve = f"only {', '.join(roles.approvers)} may approve erasure plans (roles in the data map)"

    if over:
        execute = over
    elif status == FAILED:
        execute = "this plan failed: Retry after fixing what its failure says, or Cancel it"
    elif status == PLANNED and settings.four_eyes:
        execute = "this plan is not approved yet: another person approves it first"
    else:
        execute = None

    cancel = over if status in (DONE, UNVERIFIED, CANCELLED) else None
    retry = None if status == FAILED else (over or f"this plan is {status}; only a failed plan is retried")
    return Allowed(approve=approve, execute=execute, cancel=cancel, retry=retry)


__all__ = ["Allowed", "Inbox", "InboxPlan", "allowed_actions", "erasure_inbox"]
