"""Erasure with retention checks (Art. 17, 18): plan, approve, execute, verify, certify, schedule what is kept.

`plan_erasure` decides every record's action (delete, mask, retain under a rule, blocked by a hold) and why;
`approve_plan` is the four-eyes step; `execute_plan` changes one source per transaction, verifies and writes a signed
certificate (a plan the store refused is `failed`: `retry_plan` after the fix, or `cancel_plan`); `erase_due` / `plan_retention` run what has come due; `plan_batch` plans many subjects from a CSV file;
`erasure_inbox` lists the plans awaiting a person (approval, execution, failed) from the ledger.
"""

from .certificate import verify_certificate
from .due import erase_due, erase_retention, plan_batch, plan_due, plan_retention, read_subjects
from .execute import execute_plan, retry_plan
from .inbox import Allowed, Inbox, InboxPlan, allowed_actions, erasure_inbox
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
    ErasureError,
    ErasurePlan,
    ExecutionFailed,
    StalePlanError,
    approve_plan,
    cancel_plan,
    list_plans,
    load_plan,
)
from .request import plan_erasure
from .result import ErasureResult

__all__ = [
    "APPROVED",
    "BLOCKED",
    "CANCELLED",
    "DELETE",
    "DONE",
    "EXECUTING",
    "FAILED",
    "MASK",
    "PLANNED",
    "PREVIEW",
    "REFUSED",
    "RETAIN",
    "UNVERIFIED",
    "Allowed",
    "allowed_actions",
    "approve_plan",
    "cancel_plan",
    "erase_due",
    "erase_retention",
    "erasure_inbox",
    "ErasureError",
    "ErasurePlan",
    "ErasureResult",
    "ExecutionFailed",
    "Inbox",
    "InboxPlan",
    "execute_plan",
    "list_plans",
    "load_plan",
    "plan_batch",
    "plan_due",
    "plan_erasure",
    "plan_retention",
    "read_subjects",
    "retry_plan",
    "StalePlanError",
    "verify_certificate",
]
