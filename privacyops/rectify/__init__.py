"""Rectification (Art. 16): plan every place a value is stored, apply in one transaction per source, verify."""

from .plan import (
    FieldChoice,
    RectificationError,
    RectificationPlan,
    RectificationResult,
    apply_rectification,
    choices,
    find_subject,
    parse_assignments,
    plan_rectification,
)

__all__ = [
    "apply_rectification",
    "choices",
    "FieldChoice",
    "find_subject",
    "parse_assignments",
    "plan_rectification",
    "RectificationError",
    "RectificationPlan",
    "RectificationResult",
]
