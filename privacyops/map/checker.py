"""The validation toolkit the map's loaders share: a problem collector that knows lines, and the small parsers.

Every problem is reported with the file, the line (from the YAML parser), the dotted path, what is wrong and what is
allowed; all problems are collected before raising, so one run of `privacyops check` shows them all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from ..errors import MapProblem
from .model import PERIOD_UNITS, Anchor, Period

WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # names used as words: purposes, identity kinds, subject types
_PERIOD = re.compile(r"^\s*(\d+)\s*(day|week|month|year)s?\s*$", re.I)
_ANCHOR = re.compile(r"^\s*(?:([a-z_]+)\(\s*([^()\s]+)\s*\)|([^()\s]+))\s*$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


class Checker:
    """Collects problems with their lines while the model is built."""

    def __init__(self, file: str | None, lines: dict[tuple, int]):
        self.file = file
        self.lines = lines
        self.problems: list[MapProblem] = []

    def add(self, path: tuple, message: str) -> None:
        """Record a problem at `path`, on the line of its nearest ancestor that has one."""
        line = None
        for i in range(len(path), -1, -1):  # nearest ancestor that has a line
            line = self.lines.get(tuple(path[:i]))
            if line:
                break
        self.problems.append(MapProblem(".".join(map(str, path)), message, line, self.file))

    def mapping(self, value: Any, path: tuple, allowed: tuple[str, ...] | None = None,
                required: tuple[str, ...] = ()) -> dict:
        """`value` as a mapping ({} when it is not one), its unknown and missing keys reported."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping (key: value), got {kind_of(value)}")
            return {}
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    hint = did_you_mean(str(key), allowed)
                    self.add(path + (key,), f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}")
        for key in required:
            if value.get(key) in (None, ""):
                self.add(path + (key,), f"'{key}' is required")
        return value

    def text(self, value: Any, path: tuple, required: bool = False) -> str | None:
        """An optional (or `required`) text; a mapping or list is reported."""
        if value is None:
            if required:
                self.add(path, "is required")
            return None
        if isinstance(value, (dict, list)):
            self.add(path, f"expected text, got {kind_of(value)}")
            return None
        return str(value)

    def flag(self, mapping: dict, key: str, path: tuple) -> bool:
        """An optional true/false value of `mapping` (false when missing; anything else is reported)."""
        value = mapping.get(key, False)
        if not isinstance(value, bool):
            self.add(path + (key,), f"expected true or false, got {value!r}")
            return False
        return value

    def names(self, value: Any, path: tuple) -> tuple[str, ...]:
        """A column name or a list of them."""
        if isinstance(value, str) and value.strip():
            return (value,)
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(value)
        what = "an empty list" if value == [] else kind_of(value)
        self.add(path, f"expected a column name or a non-empty list of column names, got {what}")
        return ()

    def location(self, value: Any, path: tuple) -> str:
        """A country as its ISO 3166-1 alpha-2 code (upper-cased); anything else is reported."""
        text = str(value or "").strip().upper()
        if not _COUNTRY.match(text):
            self.add(path, f"'{value}' is not a country code; use ISO 3166-1 alpha-2 such as LV, DE, US")
        return text

    def one_name(self, value: Any, path: tuple, what: str) -> str | None:
        """A single name (of a source, rule, purpose...): text, not a list or mapping."""
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self.add(path, f"expected one {what} name, got {kind_of(value)}")
            return None
        return str(value)

    def text_list(self, value: Any, path: tuple, what: str) -> tuple[str, ...]:
        """An optional list of texts (a single text is accepted as a list of one)."""
        if value is None:
            return ()
        if isinstance(value, str) and value.strip():
            return (value.strip(),)
        if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
            return tuple(v.strip() for v in value)
        self.add(path, f"expected {what}, got {kind_of(value)}")
        return ()


def kind_of(value: Any) -> str:
    """What a YAML value is, in the words a problem uses ("a mapping", "a list", "text", ...)."""
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number",
            bool: "true/false", type(None): "nothing"}.get(type(value), type(value).__name__)


def did_you_mean(word: str, options: Iterable) -> str:
    """` (did you mean 'x'?)` for the option closest to a misspelt word, or "" when none is close."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_period(text: str) -> Period | None:
    """A period such as `5 years`, `18 months`, `1 week`; None when the text is not one."""
    m = _PERIOD.match(str(text))
    if not m:
        return None
    return Period(int(m.group(1)), PERIOD_UNITS[m.group(2).lower()])


def parse_anchor(text: str) -> Anchor | None:
    """A retention anchor: a date column (`closed_at`), a function of one (`end_of_month(closed_at)`), either of a
    row the dataset refers to (`member_id.left_on`: through the reference column member_id)."""
    m = _ANCHOR.match(str(text))
    if not m:
        return None
    column, function = (m.group(3), None) if m.group(3) else (m.group(2), m.group(1))
    via, dot, field = column.rpartition(".")
    if dot and (not WORD.match(via) or not WORD.match(field)):
        return None
    return Anchor(field=field, function=function, via=via or None)
