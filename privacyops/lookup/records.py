"""From a person to their records: down the belongs-to references, the rows they own, rows holding their e-mails
and phones, and the reference data the records point at (context).

Whose a row is: a row reached through a party's reference has the person in that party (owner: their row; else
they only appear in it, and the walk stops there); a row reached through any other reference is theirs only when
the reference that says whose it is agrees — the owner party's, or a reference straight to a person — so a payment
by someone else on the person's rental is never theirs (the owner wins).
"""

from __future__ import annotations

from ..map import CREDENTIAL_CATEGORIES, EMAIL, IMPLICIT_PARTY, PHONE, Dataset, Party, Reference
from ..sources import digits_of
from .reader import Found, Person, Reader, Row, identity_groups


def _claim(reader: Reader, found: Found, person: Person, child: Dataset, via: Reference,
           rows: list[Row]) -> tuple[list[Row], str, bool]:
    """Which of `rows` (reached through `via`) are the person's, the party they are in them, and whether they own
    them."""
    if child.named_parties:
        party = child.party_of_reference(via.column)
        if party is not None:
            return rows, party.name, party.owner
        owner = child.owner_party
        if owner is None or owner.reference is None:
            return [], "", False  # only the row's identities can say whose it is (identity expansion does)
        ref = child.reference(owner.reference)
        mine = found.owned_values(ref.to_dataset, ref.to_column) | _person_values(person, ref)
        return [r for r in rows if r.get(ref.column) is None or str(r[ref.column]) in mine], owner.name, True
    direct = [d for d in reader.dm.person_references(child) if d != via]
    if direct:
        rows = [r for r in rows if all(r.get(d.column) is None or person.named_by(d, r[d.column]) for d in direct)]
    return rows, IMPLICIT_PARTY, True


def _person_values(person: Person, ref: Reference) -> set[str]:
    return {str(person.row.get(ref.to_column))} if person.row is not None and person.dataset == ref.to_dataset else set()


def walk_down(reader: Reader, found: Found, person: Person, start: dict[str, dict[tuple, Row]]) -> None:
    """Add every row that belongs (transitively) to the owned rows of `start`, and the rows they own: one query per
    dataset and reference and level. A row held back because the reference deciding whose it is points at a row
    not found yet is looked at again once the walk has found everything else."""
    dm = reader.dm
    frontier = start
    pending: list[tuple[Dataset, Reference, list[Row]]] = []
    while frontier or pending:
        if not frontier:  # a second look at the held-back rows, now that more of the person's rows are known
            again, pending = pending, []
            for child, ref, rows in again:
                mine, role, owns = _claim(reader, found, person, child, ref, rows)
                new = found.add(child, mine, f"belongs to {ref.to_dataset}", role, owns)
                if owns and new:
                    frontier.setdefault(child.name, {}).update(new)
            if not frontier:
                break
        nxt: dict[str, dict[tuple, Row]] = {}
        reader.prefetch(_level_asks(reader, frontier))
        for name, rows in frontier.items():
            for ref in dm.children(name):
                child = dm.datasets[ref.dataset]
                values = _values(rows, ref.to_column)
                if not values:
                    continue
                got = reader.select_in(child, ref.column, values)
                mine, role, owns = _claim(reader, found, person, child, ref, got)
                if child.named_parties and len(mine) < len(got):
                    taken = {reader.key(child, r) for r in mine}
                    pending.append((child, ref, [r for r in got if reader.key(child, r) not in taken]))
                new = found.add(child, mine, f"belongs to {name}", role, owns)
                if owns and new:
                    nxt.setdefault(child.name, {}).update(new)
                    if len(child.owner_references) == 1 and not dm.owners_of(child.name):
                        # the next step's rows of `child` are these (no other way in): its reads start now
                        reader.prefetch(_level_asks(reader, {child.name: new}), 1)
            for ref in dm.datasets[name].owned_references:
                new = _owned_rows(reader, found, ref, rows)
                if new:
                    nxt.setdefault(ref.to_dataset, {}).update(new)
        frontier = nxt


def _values(rows: dict[tuple, Row], column: str) -> set:
    return {r[column] for r in rows.values() if r.get(column) is not None}


def _level_asks(reader: Reader, frontier: dict[str, dict[tuple, Row]]) -> list[tuple[Dataset, str, set]]:
    """The reads one step of `walk_down` starts with (children by reference, owned rows), for `Reader.prefetch`."""
    dm, asks = reader.dm, []
    for name, rows in frontier.items():
        asks += [(dm.datasets[ref.dataset], ref.column, _values(rows, ref.to_column)) for ref in dm.children(name)]
        asks += [(dm.datasets[ref.to_dataset], ref.to_column, _values(rows, ref.column))
                 for ref in dm.datasets[name].owned_references]
    return [a for a in asks if a[2]]


def _owned_rows(reader: Reader, found: Found, ref: Reference, rows: dict[tuple, Row]) -> dict[tuple, Row]:
    """The rows `rows` own through `ref` (an address), marked co-owned when rows of other people own them too."""
    target = reader.dm.datasets[ref.to_dataset]
    values = _values(rows, ref.column)
    if not values:
        return {}
    got = reader.select_in(target, ref.to_column, values)
    new = found.add(target, got, f"owned by {ref.dataset}", target.owner_party.name if target.owner_party
                    else IMPLICIT_PARTY, True)
    for owner_ref in reader.dm.owners_of(target.name):  # who else points at the same rows as theirs
        owner = reader.dm.datasets[owner_ref.dataset]
        held = {g[owner_ref.to_column] for g in got if g.get(owner_ref.to_column) is not None}
        for other in reader.select_in(owner, owner_ref.column, held) if held else []:
            if not found.owns(owner.name, reader.key(owner, other)):
                shared = {str(other[owner_ref.column])}
                found.co_owned |= {(target.name, reader.key(target, g)) for g in got
                                   if str(g.get(owner_ref.to_column)) in shared}
    return new


def identity_values(reader: Reader, found: Found) -> tuple[set[str], set[str]]:
    """The e-mail addresses and phone numbers in the identity fields of the rows the person owns (or, in rows they
    only appear in, of their own party)."""
    emails, phones = set(), set()
    for name, rows in found.rows.items():
        ds = reader.dm.datasets[name]
        for k, r in rows.items():
            party = ds.party(found.role.get((name, k), IMPLICIT_PARTY))
            mine = party.identity_columns() if party is not None and ds.named_parties else None
            for kind, out in ((EMAIL, emails), (PHONE, phones)):
                for c in ds.identity_columns(kind):
                    if (mine is not None and c not in mine) or not r.get(c):
                        continue
                    if kind == EMAIL:
                        out.add(str(r[c]).strip().lower())
                    elif len(digits_of(str(r[c]))) >= 7:
                        out.add(str(r[c]))
    return emails, phones


def _unclaimed(reader: Reader, found: Found, person: Person, ds: Dataset, party: Party | None, row: Row) -> bool:
    """Whether a row matched through `party`'s identity belongs to nobody else: its party (or, without named
    parties, the row) has no reference set to someone else."""
    if ds.named_parties:
        if party is None or party.reference is None or row.get(party.reference) is None:
            return True
        return person.named_by(ds.reference(party.reference), row[party.reference])
    return all(row.get(ref.column) is None for ref in ds.owner_references)


def expand_by_identity(reader: Reader, found: Found, person: Person, emails: set[str], phones: set[str]) -> Found:
    """Rows that hold the person's e-mails/phones in identity fields and belong to no one else: a newsletter list,
    the guest's e-mail on a visit (the person is then that party of the row).

    A value the person shares with someone else (a family e-mail) proves nothing about whose row it is: rows
    matched only through shared values are returned apart (the result), not as the person's records.
    """
    mine_of = {EMAIL: {reader.norm(EMAIL, e) for e in emails}, PHONE: {reader.norm(PHONE, p) for p in phones}}
    reader.prime_identities([(ds, kind, cols, values) for ds in reader.dm.datasets.values()
                             for kind, values in ((EMAIL, emails), (PHONE, phones))
                             for _, cols in (identity_groups(ds, kind) if values else [])])
    matches = []
    for ds in reader.dm.datasets.values():
        for kind, values in ((EMAIL, emails), (PHONE, phones)):
            for party, cols in identity_groups(ds, kind) if values else []:
                matches.append((ds, kind, party, cols, reader.identity_rows(ds, kind, values, cols)))

    def held(kind: str, cols: tuple[str, ...], row: Row) -> set[str]:
        return {reader.norm(kind, row[c]) for c in cols if row.get(c)} & mine_of[kind]

    shared: set[str] = set()  # values that rows of other people also hold
    for ds, kind, party, cols, rows in matches:
        for r in rows:
            if not found.has(ds.name, reader.key(ds, r)) and (ds.subject or not _unclaimed(reader, found, person,
                                                                                           ds, party, r)):
                shared |= held(kind, cols, r)
    apart = Found()
    added: dict[str, dict[tuple, Row]] = {}
    for ds, kind, party, cols, rows in matches:
        if ds.subject:
            continue  # another row of a subject dataset is another person: never merged
        free = [r for r in rows if not found.owns(ds.name, reader.key(ds, r))
                and _unclaimed(reader, found, person, ds, party, r)]
        apart.add(ds, [r for r in free if held(kind, cols, r) <= shared], f"identity: {kind} shared with another person")
        role = party.name if party is not None else IMPLICIT_PARTY
        owns = party is None or party.owner
        new = found.add(ds, [r for r in free if not held(kind, cols, r) <= shared], f"identity: {kind} of the subject",
                        role, owns)
        if new and owns:
            added.setdefault(ds.name, {}).update(new)
    if added:
        walk_down(reader, found, person, added)
    return apart


def context_asks(reader: Reader, found: Found) -> list[tuple[Dataset, str, set]]:
    """The reads `context` starts with, for `Reader.prefetch`."""
    return [(reader.dm.datasets[ref.to_dataset], ref.to_column, _values(rows, ref.column))
            for name, rows in found.rows.items() for ref in reader.dm.datasets[name].shared_references]


def context(reader: Reader, found: Found) -> Found:
    """Rows the records point at through `shared` references (one step): reference data, for display."""
    ctx = Found()
    reader.prefetch(context_asks(reader, found))
    for name, rows in found.rows.items():
        for ref in reader.dm.datasets[name].shared_references:
            target = reader.dm.datasets[ref.to_dataset]
            values = _values(rows, ref.column)
            if values:
                got = reader.select_in(target, ref.to_column, values)
                ctx.add(target, [g for g in got if not found.has(target.name, reader.key(target, g))],
                        f"shared reference from {name}.{ref.column}")
    return ctx


def context_columns(ds: Dataset, columns: list[str]) -> list[str]:
    """What a context row shows: its key, its non-personal fields and the map's `context_fields` — never
    credentials, nothing else about the people in it."""
    fields = ds.fields
    out = []
    for c in columns:
        f = fields.get(c)
        if f is not None and set(f.categories) & CREDENTIAL_CATEGORIES:
            continue
        if c in ds.primary_key or c in ds.context_fields or (f is not None and not f.personal):
            out.append(c)
    return out
