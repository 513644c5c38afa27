"""The ops ledger: cases (the request register), the audit trail, legal holds, suppression, the erasure schedule."""

from . import audit
from .cases import CASE_TYPES, CLOSED, OPEN, Case, add_months, close_case, extend_case, get_case, list_cases, open_case
from .holds import HoldError, add_hold, get_hold, list_holds, release_hold
from .store import ledger_exists, open_ledger
from .suppression import check as suppression_check
from .suppression import suppress

__all__ = [
    "CASE_TYPES",
    "CLOSED",
    "OPEN",
    "add_hold",
    "add_months",
    "audit",
    "Case",
    "close_case",
    "extend_case",
    "get_case",
    "get_hold",
    "HoldError",
    "ledger_exists",
    "list_cases",
    "list_holds",
    "open_case",
    "open_ledger",
    "release_hold",
    "suppress",
    "suppression_check",
]
