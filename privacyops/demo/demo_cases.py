"""The demo's request register: ten data-subject requests in every state, seeded through the cases API."""

from __future__ import annotations

import datetime
from pathlib import Path

from ..ledger import close_case, extend_case, list_cases, open_case
from ..workspace import open_workspace

__all__ = ["DEMO_REQUESTS", "seed_requests"]

# The demo's request register, relative to DEMO_TODAY (2026-11-15): (type, received, channel, closed on, outcome,
# extension (months, informed on, reason)). Seeded through the cases API, only into a workspace without cases.
DEMO_REQUESTS: list[tuple[str, str, str, str | None, str | None, tuple[int, str, str] | None]] = [
    ("consent-withdrawal", "2026-06-10", "web form", "2026-06-12", "marketing consent withdrawn", None),
    ("access", "2026-08-03", "email", "2026-08-20", "archive sent", None),
    ("portability", "2026-07-14", "email", "2026-08-29", "export sent (late: the billing export was missing)",
     None),
    ("erasure", "2026-09-01", "web form", "2026-09-25", "erased; certificate issued", None),
    ("rectification", "2026-10-01", "letter", None, None,
     (2, "2026-10-20", "the address is held in several systems that must be corrected together")),
    ("access", "2026-09-28", "email", None, None, None),
    ("objection", "2026-10-09", "phone", None, None, None),
    ("complaint", "2026-10-20", "email", None, None, None),
    ("erasure", "2026-10-19", "web form", None, None, None),
    ("access", "2026-11-02", "email", None, None, None),
]


def seed_requests(workspace: str | Path) -> int:
    """Seed the demo's request register (`DEMO_REQUESTS`) into the workspace ledger when it has no cases yet;
    returns how many cases were opened (0: the register already had cases)."""
    ws = open_workspace(workspace)
    if list_cases(ws):
        return 0
    for kind, received, channel, closed, outcome, extension in DEMO_REQUESTS:
        case = open_case(ws, kind, received, channel=channel)
        if extension:
            months, informed, reason = extension
            extend_case(ws, case.case_id, months, reason, informed=informed,
                        today=datetime.date.fromisoformat(informed))
        if closed:
            close_case(ws, case.case_id, outcome or "answered", at=datetime.date.fromisoformat(closed))
    return len(DEMO_REQUESTS)
