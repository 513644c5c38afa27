"""A plan's hash is over its canonical JSON text; the fast conversion must give the very text `json_safe` gives
(a stored plan's hash is recomputed on approval and execution), for every kind of value a store returns."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid

from privacyops.erasure.canonical import _canonical, _canonical_large, plan_hashed, row_text
from privacyops.erasure.plan import ErasurePlan, NotErased, PlannedRow
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
    for key in [(7,), (-3,), (2**63 - 1,), ("7",), (True,), (7, 8), ("a\"b",), (decimal.Decimal(7),)]:
        row = PlannedRow("shop.orders", "main", key, "delete", "")
        assert row.rid == ("shop.orders", json.dumps(json_safe(list(key)), separators=(",", ":"),
                                                      ensure_ascii=False)), key


def test_a_plans_hash_is_over_json_safes_text():
    """The plan's text and hash (`plan_hashed`, which looks only through the rows' masks for keys that are not
    text) are those of `json_safe`, with the odd values where a plan can hold them."""
    rows = [PlannedRow("shop.orders", "main", (7, "a"), "retain", "kept", until=dt.date(2027, 1, 1),
                       masks={"email": {"value": None, "strategy": "null"}}, kept=["id"], notes=["n"]),
            PlannedRow("shop.lines", "main", (dt.date(2026, 1, 1), decimal.Decimal("1.50")), "delete", "",
                       due_on=dt.date(2027, 1, 2), party="guest", withheld=["host_email"]),
            PlannedRow("shop.meta", "main", (True,), "mask", "", masks={"doc": {"value": {"a": [1, dt.date(2020,
                       1, 1)]}, "strategy": "value"}})]
    odd = PlannedRow("shop.meta", "main", (1,), "mask", "", masks={"doc": {"value": {10: "x", 9: "y"},
                                                                           "strategy": "value"}})
    for extra in ([], [odd]):
        plan = ErasurePlan("ERB-1", "batch", "C-1", dt.date(2026, 11, 20), "fp", rows + extra,
                           subjects=[{"ref": "crm.customers:1", "hold_hashes": []}],
                           not_erased=[NotErased("x.y", (1, dt.date(2020, 1, 1)), "why")], notes=["note"],
                           origin={"datasets": ["a"]})
        want = reference(plan.body())
        assert plan_hashed(plan.body()) == (hashlib.sha256(want.encode("utf-8")).hexdigest(), want)
        assert plan.compute_hash() == hashlib.sha256(want.encode("utf-8")).hexdigest()
    assert plan_hashed({"rows": [], "origin": {1: "a"}})[1] == reference({"rows": [], "origin": {1: "a"}})
