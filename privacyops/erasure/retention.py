"""Retention date arithmetic: until when a record must (or may) be kept, from the map's rule and the row's dates.

A rule says `keep: 5 years, from: end_of_fiscal_year(issued_at)`. For one row the anchor is the date in the named
column (a timestamp counts by its date), moved to the end of its month or of its fiscal year when the rule says so;
the record is kept **through** anchor + period (`retained_until`, inclusive) and may be erased from the next day on
(`erasable_from`). Months and years are calendar months with month-end clamping (31 Jan + 1 month = 28/29 Feb;
29 Feb + 1 year = 28 Feb), the same arithmetic as case deadlines (`cases.add_months`).

Which rules hold against an erasure request (Art. 17(3)): a dataset's rule is *binding* when the dataset serves a
purpose whose legal basis is `legal_obligation` (tax and accounting records, proof of consent the law asks for):
then the record is kept — restricted, with only the fields the obligation needs — until the rule's date. Every
other rule (legitimate interest, contract, consent) is a maximum storage period under Art. 5(1)(e): it says when
data must go at the latest, not a reason to refuse an erasure, so erasure goes ahead now.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from ..ledger import add_months
from ..map import Anchor, DataMap, Dataset, Period, RetentionRule, Settings

LEGAL_OBLIGATION = "legal_obligation"


class AnchorError(ValueError):
    """The anchor column holds something that is not a date."""


def as_date(value: Any) -> dt.date | None:
    """A column value as a date: dates as they are, timestamps by their (local, as stored) date, ISO text parsed;
    None for NULL. Anything else raises AnchorError."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except ValueError:
            try:
                return dt.date.fromisoformat(text[:10])
            except ValueError:
                pass
    raise AnchorError(f"{value!r} is not a date")


def end_of_month(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def end_of_fiscal_year(day: dt.date, fiscal_year_start: tuple[int, int] = (1, 1)) -> dt.date:
    """The last day of the fiscal year containing `day`; the year starts on (month, day) each calendar year
    (`settings.fiscal_year_start`, e.g. (7, 1): the fiscal year ends on 30 June)."""
    month, first = fiscal_year_start
    start = dt.date(day.year, month, first)
    next_start = dt.date(day.year + 1, month, first) if day >= start else start
    return next_start - dt.timedelta(days=1)


def add_period(day: dt.date, period: Period) -> dt.date:
    """`day` + `period`: days and weeks exactly; months and years as calendar months, clamped to the month's end."""
    if period.unit == "days":
        return day + dt.timedelta(days=period.amount)
    if period.unit == "weeks":
        return day + dt.timedelta(weeks=period.amount)
    if period.unit == "months":
        return add_months(day, period.amount)
    if period.unit == "years":
        return add_months(day, 12 * period.amount)
    raise ValueError(f"unknown period unit {period.unit!r}")


def anchor_date(anchor: Anchor, row: dict[str, Any], settings: Settings) -> dt.date | None:
    """The date the period counts from, for one row; None when the anchor column is NULL."""
    day = as_date(row.get(anchor.field))
    if day is None:
        return None
    if anchor.function == "end_of_month":
        return end_of_month(day)
    if anchor.function == "end_of_fiscal_year":
        return end_of_fiscal_year(day, settings.fiscal_year_start)
    return day


def retained_until(rule: RetentionRule, row: dict[str, Any], settings: Settings) -> dt.date | None:
    """The last day the rule keeps this row (inclusive); None when the anchor column is NULL (the period has not
    started: e.g. `from: closed_at` while the contract still runs)."""
    start = anchor_date(rule.anchor, row, settings)
    return None if start is None else add_period(start, rule.keep)


def erasable_from(until: dt.date) -> dt.date:
    """The first day a record kept through `until` may be erased."""
    return until + dt.timedelta(days=1)


def is_binding(dm: DataMap, ds: Dataset) -> bool:
    """Whether `ds`'s records are kept against an erasure request while its rule runs: the dataset serves a purpose
    whose legal basis is a legal obligation (Art. 17(3)(b))."""
    return any(dm.purposes[p].legal_basis == LEGAL_OBLIGATION for p in ds.purposes if p in dm.purposes)


def binding_rule(dm: DataMap, ds: Dataset) -> RetentionRule | None:
    """The dataset's retention rule when it holds against erasure (see `is_binding`), else None."""
    if ds.retention and ds.retention in dm.retention and is_binding(dm, ds):
        return dm.retention[ds.retention]
    return None


__all__ = ["AnchorError", "as_date", "end_of_month", "end_of_fiscal_year", "add_period", "anchor_date",
           "retained_until", "erasable_from", "is_binding", "binding_rule", "LEGAL_OBLIGATION"]
