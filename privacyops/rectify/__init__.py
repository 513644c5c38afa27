"""Rectification (Art. 16): plan every place a value is stored, apply in one transaction per source, verify.

`model` holds the plan and result, `fields` and `values` which fields may change and how values are converted and
compared, `plan` plans (writes nothing), `apply` writes a plan and verifies it.
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
from .plan import choices, find_subject, parse_assignments, plan_rectification
from .values import convert

__all__ = [
    "apply_rectification",
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
