"""Who a dataset's rows are about: the `parties:` of a dataset, its `owner:` and its `context_fields:`.

```yaml
  club.visits:
    references: {host_id: club.members.member_id}
    parties:
      host:  {reference: host_id, fields: [host_note]}             # found by a belongs-to reference
      guest: {identities: {email: guest_email, name: guest_name}}  # found by its own identity fields
    owner: host                                                    # the host owns the row; the guest appears in it
```

A party owns its reference column, its identity columns and the `fields` it lists; the owner also owns every
personal field no other party lists. Without `parties:` a dataset has one party, `subject`, owning the row and every
personal field (as a dataset always had).
"""

from __future__ import annotations

from typing import Any

from .checker import WORD, Checker, did_you_mean, kind_of
from .model import CREDENTIAL_CATEGORIES, IMPLICIT_PARTY, PARTY_KEYS, Field, Party, Reference


def parse_parties(c: Checker, s: dict, p: tuple, fields: dict[str, Field], identities: dict[str, tuple[str, ...]],
                  refs: list[Reference]) -> tuple[Party, ...]:
    """The dataset's parties (the implicit `subject` when the map names none)."""
    raw = s.get("parties")
    owner = s.get("owner")
    if raw is None:
        if owner is not None:
            c.add(p + ("owner",), "owner names one of the dataset's parties; this dataset has no parties: list "
                                  "them under parties (or remove owner)")
        personal = tuple(f.name for f in fields.values() if f.personal)
        return (Party(IMPLICIT_PARTY, personal, None, dict(identities), owner=True, implicit=True),)
    named = c.mapping(raw, p + ("parties",))
    if not named:
        c.add(p + ("parties",), "list at least one party: name: {reference: COLUMN} or name: {identities: {...}}")
        return ()
    if owner is not None and (not isinstance(owner, str) or owner not in named):
        c.add(p + ("owner",), f"owner must be one of the parties ({', '.join(map(str, named))}), got {owner!r}"
                              f"{did_you_mean(str(owner), named)}")
        owner = None
    parties = [_party(c, str(n), spec, p + ("parties", n), fields, refs, owner == n) for n, spec in named.items()]
    return _claim_fields(c, p, parties, fields, owner)


def _party(c: Checker, name: str, spec: Any, pp: tuple, fields: dict[str, Field], refs: list[Reference],
           owner: bool) -> Party:
    if not WORD.match(name):
        c.add(pp, f"party name '{name}' must be a single word (host, guest, sender, recipient, ...)")
    s = c.mapping(spec, pp, PARTY_KEYS)
    reference = s.get("reference")
    if reference is not None:
        ref = next((r for r in refs if r.column == reference), None)
        if ref is None:
            c.add(pp + ("reference",), f"'{reference}' is not a reference of this dataset; list it under references "
                                       f"(column: DATASET.COLUMN){did_you_mean(str(reference), [r.column for r in refs])}")
            reference = None
        elif not ref.belongs_to:
            c.add(pp + ("reference",), f"'{reference}' is a {'shared' if ref.shared else 'owned'} reference; a party "
                                       f"is found through a belongs-to reference (neither shared nor owned)")
            reference = None
    idents: dict[str, tuple[str, ...]] = {}
    for kind, cols in c.mapping(s.get("identities"), pp + ("identities",)).items():
        ip = pp + ("identities", kind)
        if not WORD.match(str(kind)):
            c.add(ip, f"identity kind '{kind}' must be a single word (email, phone, name, customer_id, ...)")
            continue
        columns = c.names(cols, ip)
        for col in columns:
            if col not in fields:
                c.add(ip, f"identity column '{col}' is not listed in fields; add it there with its data category")
        idents[str(kind)] = columns
    if reference is None and not idents and "reference" not in s:
        c.add(pp, "a party is found by a reference (reference: COLUMN) or by its own identities "
                  "(identities: {email: COLUMN}); give one")
    listed = s.get("fields") or []
    if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
        c.add(pp + ("fields",), f"expected a list of field names, got {kind_of(listed)}")
        listed = []
    for f in listed:
        if f not in fields:
            c.add(pp + ("fields",), f"'{f}' is not a field of this dataset{did_you_mean(f, fields)}")
    own = [reference] if reference else []
    own += [col for cols in idents.values() for col in cols] + list(listed)
    return Party(name, tuple(dict.fromkeys(f for f in own if f in fields or f == reference)), reference, idents,
                 owner=owner)


def _claim_fields(c: Checker, p: tuple, parties: list[Party], fields: dict[str, Field],
                  owner: str | None) -> tuple[Party, ...]:
    """Each field belongs to one party; the owner takes the personal fields nobody lists."""
    claimed: dict[str, str] = {}
    for party in parties:
        for f in party.fields:
            if f in claimed:
                c.add(p + ("parties", party.name, "fields"), f"'{f}' is already a field of party {claimed[f]}; a "
                                                             f"field belongs to one person")
            claimed.setdefault(f, party.name)
    rest = [f.name for f in fields.values() if f.personal and f.name not in claimed]
    if rest and owner is None:
        c.add(p + ("parties",), f"personal field(s) {', '.join(rest)} belong to no party; list them under a "
                                f"party's fields, or name the party that owns the row (owner: PARTY)")
    out = []
    for party in parties:
        extra = tuple(rest) if party.owner else ()
        out.append(Party(party.name, party.fields + extra, party.reference, party.identities, party.owner))
    return tuple(out)


def context_fields(c: Checker, s: dict, p: tuple, fields: dict[str, Field]) -> tuple[str, ...]:
    """Personal fields shown when the dataset's rows are context (a support agent's first name); never
    credentials."""
    raw = s.get("context_fields")
    if raw is None:
        return ()
    names = c.names(raw, p + ("context_fields",))
    for f in names:
        if f not in fields:
            c.add(p + ("context_fields",), f"'{f}' is not a field of this dataset{did_you_mean(f, fields)}")
        elif set(fields[f].categories) & CREDENTIAL_CATEGORIES:
            c.add(p + ("context_fields",), f"'{f}' holds credentials; they are never shown")
    return names
