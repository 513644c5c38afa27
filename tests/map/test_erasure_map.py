"""The map's erasure settings for what the store declares: a placeholder per field (`mask: {col: {value: ...}}`)
and the columns the store maintains (`maintained: [...]`). Load checks their shape only (the column's type is
checked by `privacyops check` and when planning); every problem names its path and line."""

from __future__ import annotations

import pytest

from privacyops.errors import DataMapError
from privacyops.map import parse_datamap
from tests.support.mini import MINI_MAP

FILE = "privacyops.yaml"
ITEMS_FIELDS = "    fields: {title: system.operations}"


def items_extra(extra: str) -> str:
    """MINI_MAP with extra lines appended to the shop.items dataset."""
    assert MINI_MAP.count(ITEMS_FIELDS) == 1
    return MINI_MAP.replace(ITEMS_FIELDS, ITEMS_FIELDS + "\n" + extra)


def line_of(text: str, needle: str) -> int:
    (line,) = [i for i, t in enumerate(text.splitlines(), start=1) if needle in t]
    return line


def problems(text: str) -> list:
    with pytest.raises(DataMapError) as info:
        parse_datamap(text, file=FILE)
    return info.value.problems


def test_a_placeholder_and_maintained_columns_load():
    text = items_extra("    maintained: [updated_at]\n"
                       "    erasure: {action: mask, mask: {title: {value: untitled}, since: {value: 1970-01-01}, "
                       "n: {value: 0}}}")
    ds = parse_datamap(text, file=FILE).datasets["shop.items"]
    assert ds.maintained == ("updated_at",)
    assert ds.erasure.mask == {"title": "value", "since": "value", "n": "value"}
    # YAML reads 1970-01-01 as a date: kept as the text written, so the plan stores what the map says
    assert ds.erasure.placeholders == {"title": "untitled", "since": "1970-01-01", "n": 0}
    assert parse_datamap(MINI_MAP, file=FILE).datasets["shop.items"].maintained == ()


@pytest.mark.parametrize("extra, path, words", [
    ("    erasure: {mask: {title: {value: null}}}", "datasets.shop.items.erasure.mask.title.value",
     ["a placeholder of NULL is the null strategy", "title: null"]),
    ("    erasure: {mask: {title: {value: [a, b]}}}", "datasets.shop.items.erasure.mask.title.value",
     ["expected one value"]),
    ("    erasure: {mask: {title: {text: x}}}", "datasets.shop.items.erasure.mask.title.text",
     ["unknown key 'text'", "allowed: value"]),
    ("    erasure: {mask: {title: scramble}}", "datasets.shop.items.erasure.mask.title",
     ["unknown masking strategy 'scramble'", "or a placeholder: title: {value: ...}"]),
    ("    maintained: [item_id]", "datasets.shop.items.maintained", ["part of the primary key"]),
    ("    maintained: [title]\n    erasure: {mask: {title: redact}}", "datasets.shop.items.maintained",
     ["'title' is masked by erasure.mask but the store maintains it"]),
    ("    maintained: {title: 1}", "datasets.shop.items.maintained", ["expected a column name"]),
])
def test_malformed_settings_are_reported_with_path_and_line(extra, path, words):
    text = items_extra(extra)
    found = [p for p in problems(text) if p.path == path]
    assert found, [(p.path, p.message) for p in problems(text)]
    assert all(w in found[0].message for w in words), found[0].message
    key = path.split(".")[3]  # the line of the setting the problem is about: maintained or erasure
    assert found[0].line == line_of(text, f"    {key}:")
