"""What an identifier is: an e-mail, a phone number, an id of some kind, or a name; and picked candidates."""

from __future__ import annotations

import re

from ..errors import LookupInputError
from ..map import EMAIL, NAME, PHONE, DataMap, Dataset
from ..sources import digits_of
from ..values import text_problem

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ASCII digits (int() would read '١' too); a leading + may sit inside a bracket: "(+371) 26 071 418"
_PHONE_RE = re.compile(r"^\(?\+?[0-9\s().\-/]+$")
_ID_RE = re.compile(r"^[\w\-.:/#]+$")
AUTO = "auto"


def detect_kinds(text: str, dm: DataMap) -> list[str]:
    """Which identity kinds an identifier may be: an e-mail; a phone number and/or an id; else a name."""
    t = text.strip()
    exact = [k for k in dm.identity_kinds() if k not in (EMAIL, PHONE, NAME)]
    if _EMAIL_RE.match(t):
        return [EMAIL] + exact  # some systems key on e-mail-like usernames
    kinds = []
    phone_like = bool(_PHONE_RE.match(t)) and len(digits_of(t)) >= 7
    if phone_like:
        kinds.append(PHONE)
    if _ID_RE.match(t):
        kinds.extend(exact)
    if not phone_like and (not kinds or " " in t or not any(ch in "0123456789" for ch in t)):
        kinds.append(NAME)
    return list(dict.fromkeys(kinds))


def search_kinds(text: str, kind: str, dm: DataMap) -> list[str]:
    """The identity kinds to search `text` as: detected (`auto`), every exact id kind (`id`), or the one given."""
    _check(text, "identifier")
    _check(kind, "identity kind")
    if kind != AUTO and kind != "id" and kind not in dm.identity_kinds():
        raise LookupInputError(f"unknown identity kind '{kind}'; this map has: "
                               f"{', '.join(dm.identity_kinds())} (or auto, id)")
    if kind == AUTO:
        return detect_kinds(text, dm) if text else []
    if kind == "id":
        return [k for k in dm.identity_kinds() if k not in (EMAIL, PHONE, NAME)]
    return [kind]


def _check(text: str, what: str) -> None:
    """Refuse an identifier with NUL, undecodable bytes, control or invisible characters, or over 1 K characters
    (the panels call lookup too, so the check is here and not only on the command line)."""
    problem = text_problem(text or "", kind="identifier")
    if problem:
        raise LookupInputError(f"the {what} cannot be used: {problem}; type it again without those characters")


def parse_ref(ref: str, dm: DataMap) -> tuple[Dataset, tuple[str, ...]]:
    """'DATASET:KEY' (composite keys comma-separated) -> dataset and key values."""
    _check(ref, "pick")
    if ":" not in ref:
        raise LookupInputError(f"pick '{ref}' is not DATASET:KEY (e.g. crm.customers:42)")
    name, _, key = ref.rpartition(":")
    if name not in dm.datasets:
        raise LookupInputError(f"pick '{ref}': unknown dataset '{name}'; datasets: {', '.join(dm.datasets)}")
    ds = dm.datasets[name]
    parts = tuple(key.split(",")) if len(ds.primary_key) > 1 else (key,)
    if len(parts) != len(ds.primary_key) or not all(p.strip() for p in parts):
        raise LookupInputError(f"pick '{ref}': {name} has primary key ({', '.join(ds.primary_key)}); "
                               f"give {len(ds.primary_key)} value(s)")
    return ds, parts
