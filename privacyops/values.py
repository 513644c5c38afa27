"""Values read from the stores, made fit for JSON and for display (dates, decimals, keys)."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
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
    return ",".join(str(k) for k in key)
