"""A plan's hash is over its canonical JSON text; the fast conversion must give the very text `json_safe` gives
(a stored plan's hash is recomputed on approval and execution), for every kind of value a store returns."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from privacyops.erasure.canonical import _canonical, _canonical_large, row_text
from privacyops.erasure.plan import PlannedRow
from privacyops.values import json_safe


class Tag(str):
    pass


def reference(obj):
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_canonical_text_is_json_safes():
    values = [None, True, 0, -7, 2.5, float("nan"), "ā\u00a0\"x\"", Tag("t"), dt.date(2026, 1, 2),
              dt.datetime(2026, 1, 2, 3, 4, 5, 6), dt.time(1, 2), decimal.Decimal("10.00"), uuid.UUID(int=5),
              b"\x00\xff", bytearray(b"ab"), (1, "a"), {3, 1}, [dt.date(2020, 1, 1), [decimal.Decimal("1.5")]],
              {1: "int key", "b": {"c": (dt.date(2021, 2, 3),)}, Tag("k"): None}, ValueError("x")]
    for v in values:
        assert _canonical(v) == reference(v), v
        assert _canonical_large(v) == reference(v), v
        assert _canonical_large({"v": [v, {"w": v}]}) == reference({"v": [v, {"w": v}]}), v
    body = {"rows": [{"key": [1, "x"], "masks": {"email": {"value": None, "until": dt.date(2027, 1, 1)}},
                      "values": values}] * 3, "as_of": "2026-11-20"}
    assert _canonical(body) == reference(body)
    assert _canonical_large(body) == reference(body)
    assert _canonical_large({"a": {10: 1, 9: 2}}) == reference({"a": {10: 1, 9: 2}})  # keys sorted as text


def test_a_rows_text_is_json_safes():
    """Rows as stores return them (flat, text column names), and the odd ones (nested values, other keys)."""
    values = [None, True, 0, -7, 2.5, float("nan"), "ā\u00a0\"x\"", Tag("t"), dt.date(2026, 1, 2),
              dt.datetime(2026, 1, 2, 3, 4, 5, 6), dt.time(1, 2), decimal.Decimal("10.00"), uuid.UUID(int=5),
              b"\x00\xff", bytearray(b"ab"), memoryview(b"m"), ValueError("x")]
    row = {f"c{i:02d}": v for i, v in enumerate(values)}
    assert row_text(row) == reference(row)
    assert row_text(row, {"c01", "c05"}) == reference({k: v for k, v in row.items() if k not in ("c01", "c05")})
    for odd in ({"n": {"x": dt.date(2020, 1, 1)}}, {"l": [decimal.Decimal("1.5")]}, {"t": (1, 2)}, {"s": {2, 1}},
                {1: "int key", "a": 1}, {Tag("k"): 1, "b": dt.date(2021, 1, 1)}, {}):
        assert row_text(odd) == reference(odd), odd


def test_a_rows_id_is_its_dataset_and_key_text():
    row = PlannedRow("shop.orders", "main", (7, dt.date(2026, 1, 1)), "delete", "")
    assert row.rid == ("shop.orders", json.dumps([7, "2026-01-01"], separators=(",", ":")))
    assert row.rid is row.rid  # computed once
