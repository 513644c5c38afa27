"""Placing a legal hold on a person: the identifier is looked up first, so that the hold protects someone who
exists, under every identifier they are found by.

Stored as typed, a hold on a name (`Madara Alksne`), on a reference written unlike its stored key
(`crm.customers:0711` for the row keyed 711) or on an identifier nobody has matched no plan and protected
nothing. `resolve_hold_subject` asks the same `lookup()` as every request:

* a name, or an identifier several people share, is refused with the candidates to choose from (people are never
  merged);
* a `DATASET:KEY` reference must name a stored row, and stands for that row's own key;
* an identifier that finds nobody is refused;
* a reference to a record that is not a person and holds no identifier (a ticket, a catalogue product) is refused:
  no plan of anyone would ever match it.

The hold then stores (`ledger.add_hold(forms=...)`) the keyed hashes of the person's reference and of each of their
identifiers (e-mails, phones, ids: `holds.identifier_forms`) that finds them and nobody else, so a later plan of
that person — by any identifier — is blocked. An identifier they share with another person (a family e-mail) is
left out: it would block the other person's erasure too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..errors import LookupInputError
from ..ledger import add_hold
from ..ledger.holds import Hold, HoldError, identifier_forms
from ..lookup import AMBIGUOUS, FOUND, WITHHELD, SubjectRecords, lookup
from ..map import EMAIL, NAME, PHONE, DataMap
from ..workspace import Workspace

# How many candidates a refusal lists (the rest are counted: the lookup shows them all).
SHOWN_CANDIDATES = 10


@dataclass(frozen=True)
class HoldSubject:
    """The person a subject hold protects: their reference (None for rows of nobody's, e.g. a newsletter address)
    and the identifier forms the hold stores as keyed hashes."""

    ref: str | None
    label: str
    forms: frozenset[str] = field(default_factory=frozenset)
    left_out: int = 0  # identifiers shared with another person, not stored


def identity_values(dm: DataMap, records: SubjectRecords) -> set[tuple[str, str]]:
    """(kind, value) of every identifier in the subject's records, names excepted (plans never match names);
    another party's fields, withheld in the records, are not the subject's and are skipped."""
    out: set[tuple[str, str]] = set()
    for name, recs in records.records.items():
        ds = dm.datasets[name]
        for kind, cols in ds.identities.items():
            if kind == NAME:
                continue
            for r in recs.rows:
                for c in cols:
                    v = r.get(c)
                    if v in (None, "", WITHHELD) or not str(v).strip():
                        continue
                    out.add((kind, str(v).strip()))
    return out


def is_reference(dm: DataMap, text: str) -> bool:
    """Whether `text` is a `DATASET:KEY` reference of this map (else it is an identifier to look up)."""
    name, sep, key = text.rpartition(":")
    return bool(sep) and name in dm.datasets and bool(key.strip())


def _refuse_candidates(records: SubjectRecords) -> HoldError:
    shown = records.candidates[:SHOWN_CANDIDATES]
    return HoldError(f"{records.candidates_heading(len(shown))}: give one of "
                     + ", ".join(f"{c.ref} ({c.label})" for c in shown) + " with --subject REF")


def _find(ws: Workspace, text: str, case_id: str | None) -> SubjectRecords:
    """The lookup of a hold's subject, or the refusal saying what to give instead."""
    pick = text if is_reference(ws.datamap, text) else None
    try:
        records = lookup(ws, None if pick else text, pick=pick, case_id=case_id, mentions=False)
    except LookupInputError as exc:
        if pick is None:
            raise HoldError(f"cannot look up hold subject {text!r}: {exc}") from None
        raise HoldError(f"nobody found for {text!r} ({exc}); a hold must protect someone who exists: check the "
                        f"key with `privacyops lookup --pick {text}`") from None
    if records.status == AMBIGUOUS:
        raise _refuse_candidates(records)
    if records.status != FOUND:
        raise HoldError(f"nobody found for {text!r}; a hold must protect someone who exists: check the identifier "
                        f"with `privacyops lookup {text!r}`, or give the person's DATASET:KEY")
    return records


def _exclusive(ws: Workspace, kind: str, value: str, person_ref: str | None) -> bool:
    """Whether looking `value` up finds this person and nobody else (for rows of nobody's, `person_ref` None: no
    person at all). E-mails and phones are searched as what they are (a stored `(+371) 2000 3333` is not detected
    as a phone); ids as every kind of id, like the `id:` form they give, which any kind of id holding it matches."""
    got = lookup(ws, value, kind=kind if kind in (EMAIL, PHONE) else "id", mentions=False, audit_log=False)
    return got.status == FOUND and (got.subject.ref if got.subject else None) == person_ref


def resolve_hold_subject(ws: Workspace, subject: str, case_id: str | None = None) -> HoldSubject:
    """The person `subject` (an identifier, or `DATASET:KEY`) stands for, and the forms a hold on them stores; a
    HoldError says what to give instead when it stands for nobody, for several people or for no person."""
    text = (subject or "").strip()
    if not text:
        raise HoldError("a subject hold needs the person: --subject IDENTIFIER (e-mail, phone, id) or DATASET:KEY")
    records = _find(ws, text, case_id)
    person = records.subject
    ref = person.ref if person is not None else None
    dm = ws.datamap
    values = identity_values(dm, records)
    is_person = person is not None and bool(dm.datasets[person.dataset].subject)
    if not is_person and not values:
        what = person.dataset if person is not None else "the records found"
        raise HoldError(f"{text} is not a person and holds no identifier ({what} has no subject and no identity "
                        f"fields), so no plan of anyone would match a hold on it: give the person (their e-mail, "
                        f"phone, id or DATASET:KEY), or hold the whole dataset with --dataset {what}")
    digits = dm.settings.phone_match_digits
    forms: set[str] = {"ref:" + ref} if ref else set()
    left_out = 0
    seen: set[frozenset[str]] = set()
    for kv in sorted(values):
        mine = frozenset(identifier_forms(kv[1], digits))
        if mine in seen:
            continue  # the same identifier written another way: one lookup is enough
        seen.add(mine)
        if _exclusive(ws, kv[0], kv[1], ref if is_person else None):
            forms |= mine
        else:
            left_out += 1
    if not forms:
        raise HoldError(f"every identifier of {text!r} is shared with another person, so a hold on it would block "
                        f"their erasure too: give the person's DATASET:KEY (see `privacyops lookup {text!r}`)")
    return HoldSubject(ref=ref, label=person.label if person is not None else text, forms=frozenset(forms),
                       left_out=left_out)


def place_hold(ws: Workspace, *, reason: str, owner: str, subject: str | None = None, dataset: str | None = None,
               since: dt.date | str | None = None, review_on: dt.date | str | None = None,
               case_id: str | None = None) -> tuple[Hold, HoldSubject | None]:
    """Place a hold on a dataset, or on the person `subject` stands for (looked up first, see the module
    docstring). Returns the hold and, for a subject hold, whom it protects."""
    if dataset or not subject or not (reason or "").strip() or not (owner or "").strip():
        # A dataset hold needs no lookup; a hold without its scope, reason or owner is refused by the ledger,
        # before anything is looked up.
        return add_hold(ws, reason=reason, owner=owner, subject=subject, dataset=dataset, since=since,
                        review_on=review_on, case_id=case_id), None
    person = resolve_hold_subject(ws, subject, case_id)
    hold = add_hold(ws, reason=reason, owner=owner, subject=person.ref or subject, forms=person.forms, since=since,
                    review_on=review_on, case_id=case_id)
    return hold, person


__all__ = ["HoldSubject", "identity_values", "is_reference", "place_hold", "resolve_hold_subject"]
