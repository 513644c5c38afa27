"""Which fields rectification may change, and what a field holds (e-mail, phone, identity kinds, categories).

Keys and references are never changed (links would break); e-mail and phone fields get values of that shape and
are compared the way lookup matches them.
"""

from __future__ import annotations

from ..map import EMAIL, PHONE, Dataset
from ..workspace import Workspace

EMAIL_CATEGORY = "user.contact.email"
PHONE_CATEGORY = "user.contact.phone_number"


def is_email(ds: Dataset, column: str) -> bool:
    """Whether the field holds e-mail addresses (an e-mail identity, or the e-mail category)."""
    f = ds.fields.get(column)
    return column in ds.identity_columns(EMAIL) or bool(f and EMAIL_CATEGORY in f.categories)


def is_phone(ds: Dataset, column: str) -> bool:
    """Whether the field holds phone numbers (a phone identity, or the phone category)."""
    f = ds.fields.get(column)
    return column in ds.identity_columns(PHONE) or bool(f and PHONE_CATEGORY in f.categories)


def field_tags(ds: Dataset, column: str) -> set[str]:
    """What a field holds, for finding the same value elsewhere: its identity kinds and personal data categories."""
    tags = {f"kind:{k}" for k, cols in ds.identities.items() if column in cols}
    f = ds.fields.get(column)
    if f:
        tags |= {f"category:{c}" for c in f.categories if c == "user" or c.startswith("user.")}
    if is_email(ds, column):
        tags.add("email")
    if is_phone(ds, column):
        tags.add("phone")
    return tags


def locked_columns(ws: Workspace, ds: Dataset) -> dict[str, str]:
    """Columns rectification never changes, with the reason: keys and references (links would break)."""
    out = {c: f"the primary key of {ds.name}" for c in ds.primary_key}
    for ref in ds.references:
        out.setdefault(ref.column, f"a reference to {ref.to_dataset}.{ref.to_column}")
    for other in ws.datamap.datasets.values():
        for ref in other.references:
            if ref.to_dataset == ds.name:
                out.setdefault(ref.to_column, f"referenced by {other.name}.{ref.column}")
    return out


def changeable_fields(ws: Workspace, ds: Dataset) -> list[str]:
    """The mapped fields of a dataset that rectification may change."""
    if len(ds.primary_key) != 1:
        return []
    locked = locked_columns(ws, ds)
    return [f for f in ds.fields if f not in locked]


def match_mode(ds: Dataset, column: str) -> str:
    """How "the same value" is judged for the field: "email" (lower-cased, trimmed), "phone" (on its digits) or
    "exact"."""
    return "email" if is_email(ds, column) else "phone" if is_phone(ds, column) else "exact"
