"""The canonical JSON text of plans and rows (what plan hashes and row fingerprints are taken over): sorted keys, no
spaces, values as `privacyops.values.json_safe` makes them, computed fast enough for plans of 70k rows."""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..ledger.schedule import key_json
from ..map import Dataset
from ..values import json_safe


def _canonical(obj: Any) -> str:
    return json.dumps(_safe(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _canonical_large(obj: Any) -> str:
    """`_canonical` of a large structure (a plan's body): when every dict key in it is text, json.dumps converts
    the values itself (`json_safe` as its `default`: the same text), a third of the time of converting first."""
    if not _text_keys(obj):
        return _canonical(obj)
    return json.dumps(obj, default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _text_keys(value: Any) -> bool:
    """Whether every dict inside `value` has only text keys (json.dumps would sort and spell others differently
    from `json_safe`) and every container is a plain dict, list or tuple."""
    t = type(value)
    if t is dict:
        for k, v in value.items():
            if type(k) is not str or (type(v) not in _PLAIN and not _text_keys(v)):
                return False
        return True
    if t is list or t is tuple:
        return all(type(v) in _PLAIN or _text_keys(v) for v in value)
    return not isinstance(value, (dict, list, tuple, set, frozenset))


def _safe(value: Any) -> Any:
    """`json_safe`, the same result, faster on what plans hold (dicts and lists of plain values: a plan of 70k rows
    is millions of values): exact types checked first, everything else handed to `json_safe`."""
    t = type(value)
    if t in _PLAIN:
        return value
    if t is dict:
        return {k if type(k) is str else str(k): v if type(v) in _PLAIN else _safe(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [v if type(v) in _PLAIN else _safe(v) for v in value]
    return json_safe(value)


_ISO = frozenset({dt.date, dt.datetime, dt.time})
_TEXT = frozenset({decimal.Decimal, uuid.UUID})


def _default(value: Any) -> Any:
    """`json_safe` for a value JSON has no type for, the usual ones (dates, decimals) by their exact type first."""
    t = type(value)
    if t in _ISO:
        return value.isoformat()
    if t in _TEXT:
        return str(value)
    return json_safe(value)


_ROW_ENCODER = json.JSONEncoder(default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_NESTED = (dict, list, tuple, set, frozenset)
_SCALARS = _PLAIN | _ISO | _TEXT  # what rows hold, told apart by their exact type first


def row_text(row: dict[str, Any], skip: Any = ()) -> str:
    """`_canonical` of a row as a store returns it (every column but `skip`): a flat dict with text keys is written
    by the encoder itself, `json_safe` only for the values JSON has no type for (the same text, a third of the time:
    every planned row is fingerprinted)."""
    d = {k: v for k, v in row.items() if k not in skip} if skip else row
    for k, v in d.items():  # nested values, other keys: converted first, as always
        if type(k) is not str or (type(v) not in _SCALARS and isinstance(v, _NESTED)):
            return _canonical(d)
    return _ROW_ENCODER.encode(d)


def plan_hashed(body: dict[str, Any]) -> tuple[str, str]:
    """`hashed` of a plan's body (`ErasurePlan.body`): of its rows (`PlannedRow.to_dict`) only the masks can hold a
    dict whose keys are not text, so only they are looked through, not every row's every value."""
    rows = body.get("rows")
    if type(rows) is not list or not all(type(r) is dict and _text_keys(r.get("masks")) for r in rows) \
            or not all(_text_keys(v) for k, v in body.items() if k != "rows"):
        return hashed(body)
    text = json.dumps(body, default=_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), text


def hashed(obj: Any) -> tuple[str, str]:
    """(SHA-256 of the canonical text, the text) of a large structure (a plan's body)."""
    text = _canonical_large(obj)
    return hashlib.sha256(text.encode("utf-8")).hexdigest(), text


def key_text(key: tuple) -> str:
    """`schedule.key_json` of a row key, written at once for the usual key, one integer (JSON writes an integer as
    Python does): a plan asks it of every row, settling of every row pointing at one."""
    if len(key) == 1 and type(key[0]) is int:
        return f"[{key[0]}]"
    return key_json(key)


def fingerprint(row: dict[str, Any], skip: Iterable[str] = ()) -> str:
    """SHA-256 of a row's content (all columns but `skip`), as the store returns it."""
    return hashlib.sha256(row_text(row, set(skip)).encode("utf-8")).hexdigest()


def row_key(ds: Dataset, row: dict[str, Any]) -> tuple:
    return tuple(row[c] for c in ds.primary_key)


@contextmanager
def no_collection() -> Iterator[None]:
    """The cycle collector paused while a plan's objects are made: a plan of 70k rows is a million of them, and the
    collector would walk all the live ones again and again as they are made (they hold no cycles: two thirds of
    decoding a stored plan). Collected as usual afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class once:  # used as a decorator, like the property it replaces (hence its lower-case name)
    """`functools.cached_property` without its lock (taken on every row's first use): the value is kept in the
    instance, which then answers without calling this."""

    def __init__(self, fn: Any):
        self.fn, self.name = fn, fn.__name__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value
