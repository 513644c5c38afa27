"""Values read from the stores, made fit for JSON and for display (dates, decimals, keys); input from people parsed
strictly (ids, dates, text) and cells made safe for spreadsheets."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
import uuid
from typing import Any


def json_safe(value: Any) -> Any:
    """A value as JSON can hold it (dates ISO 8601, decimals as text so no cent is lost)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    return str(value)


def format_key(key: tuple) -> str:
    return ",".join(map(str, key))


# -- input from people: what a command line, a form or a file may hand us ---------------------------------------------
# Python's own parsers are generous in ways that surprise: int() takes '1_0', '١' (Arabic-Indic) and '１' (fullwidth)
# and date.fromisoformat() takes '20250101' and '2025-W01-1'. Whatever identifies a person or a row is parsed here,
# strictly, so that '１' never becomes customer 1.

MAX_TEXT = 65_536  # free text (a reason, a note, a corrected value): more than 64 K characters is a mistake
MAX_IDENTIFIER = 1_024  # an e-mail is at most 254, a name or an id a few dozen; longer would only cost a slow scan
_INT64 = (-2**63, 2**63 - 1)
_ASCII_INT = re.compile(r"[0-9]{1,19}", re.ASCII)
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
DATE_YEARS = (1900, 2199)  # a request, a hold or a report date outside these is a typo (and would overflow due dates)
# Characters that change how text is shown without being text: bidirectional overrides and isolates (they make
# 'moc.evil' look like 'live.com'), zero-width spaces and the byte-order mark.
_INVISIBLE = frozenset("\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u2060")


def ascii_int(value: Any) -> int | None:
    """An integer id written in ASCII digits (surrounding spaces allowed), in the 64-bit range; else None.
    '1_0', '+1', '1e3', '１' and '١' are not ids (int() would take three of them)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _INT64[0] <= value <= _INT64[1] else None
    text = str(value).strip(" \t")
    if not _ASCII_INT.fullmatch(text):
        return None
    n = int(text)
    return n if n <= _INT64[1] else None


def iso_date(value: Any, years: tuple[int, int] = DATE_YEARS) -> dt.date:
    """A date written YYYY-MM-DD in ASCII digits (spaces around allowed), its year in `years`. Raises ValueError
    (with the reason) for anything else, e.g. '20250101', '2025-W01-1', '２０２５-01-01' or '9999-12-31'."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _ISO_DATE.fullmatch(str(value).strip(" "))
    if not m:
        raise ValueError("not a date written YYYY-MM-DD")
    day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))  # ValueError for 2025-02-30
    if not years[0] <= day.year <= years[1]:
        raise ValueError(f"the year must be between {years[0]} and {years[1]}")
    return day


def text_problem(value: str, *, kind: str = "text") -> str | None:
    """Why `value` cannot be taken as input of `kind`, or None when it can.

    Every kind refuses NUL, lone surrogates (bytes that were not UTF-8: the shell passed them through undecoded)
    and other control characters; `text` (free text: reasons, notes, values) allows tab and line breaks and is
    at most MAX_TEXT characters; `line` (one line: owners, channels) allows tab; `identifier` (e-mails, phones,
    ids, names, case ids, DATASET:KEY picks) and `path` allow no control or invisible formatting characters and
    are at most MAX_IDENTIFIER characters (a path: 4096)."""
    limit = {"identifier": MAX_IDENTIFIER, "path": 4096}.get(kind, MAX_TEXT)
    if len(value) > limit:
        return f"it is {len(value):,} characters long; at most {limit:,} are accepted"
    m = _BAD[kind if kind in _BAD else "identifier"].search(value)  # a regex: 64 K characters take microseconds
    if not m:
        return None
    ch, at = m.group(), m.start() + 1
    if ch == "\x00":
        return f"it contains a NUL byte (character {at})"
    if 0xD800 <= ord(ch) <= 0xDFFF:
        return f"it contains bytes that are not UTF-8 (character {at}); check the terminal's encoding or retype it"
    if ch in _INVISIBLE:
        return f"it contains the invisible formatting character U+{ord(ch):04X} (character {at})"
    named = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}.get(ch, "the control character")
    return f"it contains {named} U+{ord(ch):04X} (character {at})"


_CONTROLS = "\x00-\x1f\x7f-\x9f\ud800-\udfff"
_BAD = {
    "text": re.compile(f"[{_CONTROLS}]".replace("\x00-\x1f", "\x00-\x08\x0b\x0c\x0e-\x1f")),
    "line": re.compile(f"[{_CONTROLS}]".replace("\x00-\x1f", "\x00-\x08\x0a-\x1f")),
    "identifier": re.compile(f"[{_CONTROLS}{''.join(sorted(_INVISIBLE))}]"),
}


# -- output for spreadsheets ---------------------------------------------------------------------------------------
# A cell whose text starts with = + - @ (or a tab/CR that a spreadsheet strips first) is run as a formula when the
# CSV is opened (CSV injection: '=cmd|...', '=HYPERLINK(...)'). The OWASP remedy: prefix a single quote, so the
# cell shows the text as text. Numbers are left alone (a negative amount stays a number).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """`value` as a CSV cell that no spreadsheet runs as a formula: text starting with = + - @ tab or CR gets a
    leading single quote; numbers (int, float, Decimal, and text that is a plain number like '-12.5') unchanged."""
    if value is None or isinstance(value, (bool, int, float, decimal.Decimal)):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return value


PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
