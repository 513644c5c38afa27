"""Values for rectification: converting what a user typed to the column's live type, checking e-mail and phone
shapes, and telling whether two stored values are "the same value".
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import uuid
from typing import Any

from ..map import Dataset
from ..sources import digits_of, type_family
from ..values import PLAIN_NUMBER, iso_date, json_safe
from .fields import is_email, is_phone
from .model import RectificationError

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]+$")

_INT_RANGES = {
    "TINYINT": (-2**7, 2**7 - 1), "INT1": (-2**7, 2**7 - 1),
    "SMALLINT": (-2**15, 2**15 - 1), "INT2": (-2**15, 2**15 - 1),
    "INTEGER": (-2**31, 2**31 - 1), "INT": (-2**31, 2**31 - 1), "INT4": (-2**31, 2**31 - 1),
    "SERIAL": (1, 2**31 - 1),
    "BIGINT": (-2**63, 2**63 - 1), "INT8": (-2**63, 2**63 - 1), "BIGSERIAL": (1, 2**63 - 1),
    "HUGEINT": (-2**127, 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1), "USMALLINT": (0, 2**16 - 1), "UINTEGER": (0, 2**32 - 1), "UBIGINT": (0, 2**64 - 1),
}
_TRUE, _FALSE = ("true", "t", "yes", "y", "1"), ("false", "f", "no", "n", "0")


def _type_hint(sql_type: str) -> str:
    """What to type for a column of `sql_type`, with an example (for error messages)."""
    t = sql_type.upper()
    family = type_family(sql_type)
    if family == "integer":
        return "a whole number, e.g. 42"
    if family == "number":
        return "a number, e.g. 12.50"
    if family == "date":
        if t.startswith("DATE") and not t.startswith("DATETIME"):
            return "a date written YYYY-MM-DD, e.g. 2024-05-31"
        return "a date and time written YYYY-MM-DD HH:MM[:SS], e.g. 2024-05-31 14:30:00"
    if family == "boolean":
        return "true or false"
    if family == "text":
        return "text"
    if t.startswith("UUID"):
        return "a UUID, e.g. 123e4567-e89b-12d3-a456-426614174000"
    return "a value of that type"


def convert(value: Any, sql_type: str, where: str) -> Any:
    """`value` (as typed by a user, or a Python value) as the column type `sql_type` holds it; RectificationError
    naming the type and an example when it cannot be."""
    if value is None:
        return None
    t = sql_type.upper().strip()
    base = t.split("(")[0].strip()
    family = type_family(sql_type)
    text = value.strip() if isinstance(value, str) else None

    def bad(extra: str = "") -> RectificationError:
        got = repr(value) if not isinstance(value, str) else f"'{value}'"
        return RectificationError(f"{where} is {sql_type}: give {_type_hint(sql_type)}; {got} does not fit{extra}")

    if family == "integer":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            n = value
        elif isinstance(value, (float, decimal.Decimal)) and value == int(value):
            n = int(value)
        elif text is not None and re.fullmatch(r"[+-]?[0-9]+", text):  # not int(): it takes '1_0', '١'
            n = int(text)
        else:
            raise bad()
        lo, hi = _INT_RANGES.get(base, (-2**63, 2**63 - 1))
        if not lo <= n <= hi:
            raise bad(f" in its range {lo}..{hi}")
        return n
    if family == "number":
        if isinstance(value, bool):
            raise bad()
        if text is not None and not PLAIN_NUMBER.fullmatch(text):  # Decimal() takes '1_0', '١' and 'NaN'
            raise bad()
        try:
            d = decimal.Decimal(text if text is not None else str(value))
        except (decimal.InvalidOperation, ValueError):
            raise bad() from None
        if not d.is_finite():
            raise bad()
        m = re.match(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*(?:,\s*(\d+))?\s*\)", t)
        if base in ("DECIMAL", "NUMERIC"):
            if m:
                precision, scale = int(m.group(1)), int(m.group(2) or 0)
                exponent = d.normalize().as_tuple().exponent
                if isinstance(exponent, int) and -exponent > scale:
                    raise bad(f" (at most {scale} decimal place(s))")
                whole = abs(int(d))
                if whole and len(str(whole)) > precision - scale:
                    raise bad(f" (at most {precision - scale} digit(s) before the decimal point)")
                return d.quantize(decimal.Decimal(1).scaleb(-scale))
            return d
        return float(d)
    if family == "date":
        is_date = base == "DATE"
        try:
            if isinstance(value, dt.datetime):
                got: Any = value.date() if is_date else value
            elif isinstance(value, dt.date):
                got = value if is_date else dt.datetime.combine(value, dt.time())
            elif text is not None and is_date:
                got = iso_date(text, years=(1, 9999))  # YYYY-MM-DD only, not '20250101'
            elif text is not None:
                got = dt.datetime.fromisoformat(text)
            else:
                raise ValueError
        except ValueError:
            raise bad() from None
        if is_date and isinstance(value, dt.datetime) and value.time() != dt.time():
            raise bad(" (a date has no time of day)")
        return got
    if family == "boolean":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE:
            return True
        if text is not None and text.lower() in _FALSE:
            return False
        raise bad()
    if family == "text":
        if isinstance(value, (bool, bytes, bytearray, dict, list, tuple, set)):
            raise bad()
        s = value if isinstance(value, str) else str(json_safe(value))
        m = re.search(r"\(\s*(\d+)\s*\)", t)
        if m and len(s) > int(m.group(1)):
            raise bad(f" (at most {m.group(1)} characters; it has {len(s)})")
        return s
    if base == "UUID":
        try:
            return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value).strip())
        except ValueError:
            raise bad() from None
    raise RectificationError(f"{where} is {sql_type}: rectification writes text, numbers, dates, true/false and "
                             f"UUIDs only; change this column with the system's own tools")


def check_shape(ds: Dataset, column: str, value: Any, where: str) -> Any:
    """E-mail and phone fields get values of that shape (an e-mail is trimmed)."""
    if value is None:
        return None
    if is_email(ds, column):
        v = str(value).strip()
        if not _EMAIL_RE.match(v):
            raise RectificationError(f"{where} holds e-mail addresses; '{value}' is not a valid e-mail address "
                                     f"(name@domain.tld, e.g. jane.doe@example.com)")
        return v
    if is_phone(ds, column):
        v = str(value).strip()
        if not _PHONE_RE.match(v) or len(digits_of(v)) < 7:
            raise RectificationError(f"{where} holds phone numbers; '{value}' is not a phone number (at least 7 "
                                     f"digits, optionally +, spaces, dashes, parentheses; e.g. +371 2912 3456)")
        return v
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether a stored value equals an expected one (floats to 32-bit precision; text forms as a last resort,
    for stores like CSV that re-infer types)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    try:
        if a == b:
            return True
    except Exception:  # pragma: no cover - exotic types
        pass
    return str(json_safe(a)) == str(json_safe(b))


class Matcher:
    """Whether a stored value is "the same value" as the old one: e-mails lower/trim, phones on their last digits
    (as lookup matches them), anything else exactly."""

    def __init__(self, mode: str, old: Any, phone_digits: int):
        self.mode, self.digits = mode, phone_digits
        self.old = old
        self.norm = self._norm(old)

    def _norm(self, v: Any) -> Any:
        if v is None:
            return None
        if self.mode == "email":
            return str(v).strip().lower() or None
        if self.mode == "phone":
            d = digits_of(str(v))
            return d[-self.digits:] if len(d) >= 7 else None
        return v

    def matches(self, v: Any) -> bool:
        """Whether the stored value `v` is the same value as the old one."""
        if self.norm is None or v is None:
            return False
        if self.mode == "exact":
            return type_of(v) == type_of(self.old) and same_value(v, self.old)
        return self._norm(v) == self.norm

    def in_text(self, text: Any) -> bool:
        """Whether the old value appears inside free text."""
        if self.norm is None or not isinstance(text, str):
            return False
        if self.mode == "email":
            return self.norm in text.lower()
        if self.mode == "phone":
            return self.norm in re.sub(r"\D", "", text)
        old = str(self.old)
        return len(old) >= 4 and old in text


def distinct_key(mode: str, value: Any, phone_digits: int) -> Any:
    """What makes two stored values "the same value" (the grouping `Matcher` compares by)."""
    if value is not None and mode != "exact":
        norm = Matcher(mode, value, phone_digits).norm
        if norm is not None:
            return (mode, norm)
    return (type_of(value), str(json_safe(value)))


def type_of(v: Any) -> str:
    """The kind of a value for comparing: bool, number, datetime, date, or its Python type's name."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float, decimal.Decimal)):
        return "number"
    if isinstance(v, dt.datetime):
        return "datetime"
    if isinstance(v, dt.date):
        return "date"
    return type(v).__name__
