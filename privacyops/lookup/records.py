"""From a person to their records: down the belongs-to references, rows holding their e-mails and phones, and the
shared reference data the records point at (context)."""

from __future__ import annotations

from ..map import EMAIL, PHONE, Dataset
from ..sources import digits_of
from .reader import Found, Reader, Row


def walk_down(reader: Reader, found: Found, start: dict[str, dict[tuple, Row]]) -> None:
    """Add every row that belongs (transitively) to the rows of `start`: one query per dataset and reference."""
    dm = reader.dm
    frontier = start
    while frontier:
        nxt: dict[str, dict[tuple, Row]] = {}
        for name, rows in frontier.items():
            for ref in dm.children(name):
                child = dm.datasets[ref.dataset]
                values = {r[ref.to_column] for r in rows.values() if r.get(ref.to_column) is not None}
                if not values:
                    continue
                new = found.add(child, reader.select_in(child, ref.column, values), f"belongs to {name}")
                if new:
                    nxt.setdefault(child.name, {}).update(new)
        frontier = nxt


def identity_values(reader: Reader, found: Found) -> tuple[set[str], set[str]]:
    """The e-mail addresses and phone numbers the found rows hold in their identity fields."""
    emails, phones = set(), set()
    for name, rows in found.rows.items():
        ds = reader.dm.datasets[name]
        for r in rows.values():
            for c in ds.identity_columns(EMAIL):
                if r.get(c):
                    emails.add(str(r[c]).strip().lower())
            for c in ds.identity_columns(PHONE):
                if r.get(c) and len(digits_of(str(r[c]))) >= 7:
                    phones.add(str(r[c]))
    return emails, phones


def expand_by_identity(reader: Reader, found: Found, emails: set[str], phones: set[str]) -> Found:
    """Rows of subject-less datasets that hold the person's e-mails/phones and belong to no one else.

    A value the person shares with someone else (a family e-mail) proves nothing about whose row it is: rows
    matched only through shared values are returned apart (the result), not as the person's records.
    """
    person = {EMAIL: {reader.norm(EMAIL, e) for e in emails}, PHONE: {reader.norm(PHONE, p) for p in phones}}
    matches = []
    for ds in reader.dm.datasets.values():
        for kind, values in ((EMAIL, emails), (PHONE, phones)):
            cols = ds.identity_columns(kind)
            if cols and values:
                matches.append((ds, kind, cols, reader.identity_rows(ds, kind, values)))

    def held(ds: Dataset, kind: str, cols: tuple[str, ...], row: Row) -> set[str]:
        return {reader.norm(kind, row[c]) for c in cols if row.get(c)} & person[kind]

    # Values that rows of other people also hold.
    shared: set[str] = set()
    for ds, kind, cols, rows in matches:
        for r in rows:
            if found.has(ds.name, reader.key(ds, r)):
                continue
            if ds.subject or any(r.get(ref.column) is not None for ref in ds.owner_references):
                shared |= held(ds, kind, cols, r)
    apart = Found()
    added: dict[str, dict[tuple, Row]] = {}
    for ds, kind, cols, rows in matches:
        if ds.subject:
            continue  # another row of a subject dataset is another person: never merged
        orphans = [r for r in rows if not found.has(ds.name, reader.key(ds, r))
                   and all(r.get(ref.column) is None for ref in ds.owner_references)]
        mine = [r for r in orphans if not held(ds, kind, cols, r) <= shared]
        apart.add(ds, [r for r in orphans if held(ds, kind, cols, r) <= shared],
                  f"identity: {kind} shared with another person")
        new = found.add(ds, mine, f"identity: {kind} of the subject")
        if new:
            added.setdefault(ds.name, {}).update(new)
    if added:
        walk_down(reader, found, added)
    return apart


def context(reader: Reader, found: Found) -> Found:
    """Rows the records point at through `shared` references (one step): reference data, for display."""
    ctx = Found()
    for name, rows in found.rows.items():
        for ref in reader.dm.datasets[name].shared_references:
            target = reader.dm.datasets[ref.to_dataset]
            values = {r[ref.column] for r in rows.values() if r.get(ref.column) is not None}
            if values:
                got = reader.select_in(target, ref.to_column, values)
                ctx.add(target, [g for g in got if not found.has(target.name, reader.key(target, g))],
                        f"shared reference from {name}.{ref.column}")
    return ctx
