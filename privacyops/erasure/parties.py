"""Erasure for one party of a row with several people in it: only that person's fields change, unless they own the
row; a row other people own too (a shared address) is never erased for one of them."""

from __future__ import annotations

from typing import Any

from ..lookup import DatasetRecords
from ..map import Dataset
from .decide import Decider
from .plan import BLOCKED, CO_OWNED_NOTE, MASK, RETAIN, NotErased, PlannedRow, fingerprint


def for_party(decider: Decider, pr: PlannedRow, ds: Dataset, row: dict[str, Any], recs: DatasetRecords,
              i: int) -> PlannedRow | NotErased:
    """`pr` (decided for the row as a whole) made right for the subject's part in row `i` of `recs`."""
    if recs.co_owned and recs.co_owned[i]:
        return NotErased(ds.name, pr.key, CO_OWNED_NOTE, pr.subject)
    withheld = list(recs.withheld[i]) if recs.withheld else []
    owner = recs.owner[i] if recs.owner else True
    if not withheld and owner:
        return pr
    role = recs.roles[i] if recs.roles else None
    party = ds.party(role) if role else None
    pr.party, pr.owner, pr.withheld = role, owner, withheld
    pr.fingerprint = fingerprint(row, skip=withheld)
    if not owner and pr.action != BLOCKED:
        mine = set(party.fields if party else ()) - set(ds.primary_key)
        if pr.action == RETAIN:  # kept under a rule: the person's fields the rule does not need are masked
            mine -= decider.keep_set(ds, row)
        else:
            pr.action, pr.until, pr.due_on, pr.restricted, pr.scheduled = MASK, None, None, False, False
            owner_name = ds.owner_party.name if ds.owner_party else "nobody's"
            pr.reason = (f"appears in this row as {role} (the row is the {owner_name}'s): only the {role}'s fields "
                         f"are erased")
        decider.apply_masks(pr, ds, row, keep=None, targets=mine & set(row), why=f"the {role}'s data")
    else:  # the other people's fields are theirs: never masked for this subject
        for c in withheld:
            if pr.masks.pop(c, None) is not None and c not in pr.kept:
                pr.kept.append(c)
    pr.kept_fingerprint = fingerprint(row, skip=[*pr.masks, *withheld, *decider.ignored(ds)])
    return pr
