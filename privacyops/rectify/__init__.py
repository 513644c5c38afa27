"""Rectification (Art. 16): plan every place a value is stored, apply in one transaction per source, verify.

`model` holds the plan and result, `fields` and `values` which fields may change and how values are converted and
compared, `plan` plans (writes nothing), `apply` writes a plan and verifies it; `pending` holds a plan for a
second person's approval when the map asks for four-eyes (`settings.four_eyes_rectify`).
"""

from .apply import apply_rectification
from .fields import changeable_fields
from .model import (
    FieldChoice,
    PlannedChange,
    RectificationError,
    RectificationPlan,
    RectificationResult,
    Untouched,
    show,
)
from .pending import (
    APPLIED,
    PENDING,
    REJECTED,
    PendingRectification,
    RectifyInbox,
    allowed_to_decide,
    approve_rectification,
    four_eyes_rectify,
    load_pending,
    pending_plan,
    rectification_inbox,
    reject_rectification,
    submit_rectification,
)
from .plan import choices, find_subject, parse_assignments, plan_rectification
from .values import convert

__all__ = [
    "APPLIED",
    "PENDING",
    "REJECTED",
    "allowed_to_decide",
    "apply_rectification",
    "approve_rectification",
    "four_eyes_rectify",
    "load_pending",
    "pending_plan",
    "PendingRectification",
    "rectification_inbox",
    "RectifyInbox",
    "reject_rectification",
    "submit_rectification",
    "changeable_fields",
    "choices",
    "convert",
    "FieldChoice",
    "find_subject",
    "parse_assignments",
    "plan_rectification",
    "PlannedChange",
    "RectificationError",
    "RectificationPlan",
    "RectificationResult",
    "show",
    "Untouched",
]
