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

Two refinements of a rule. An anchor *through a reference* (`from: member_id.left_on`) reads the date from the row
the reference column points at; the caller fetches those dates for many rows at once (`Decider.anchor_dates`,
`retention_sql.referenced_anchors`) and hands them in as `referenced` ({reference value as text: date}), so no
function here queries a store. A rule with `keep_while_empty: true` says the record is still needed while its anchor
is empty (the item not returned, the membership open): such a row is kept, open-ended, whatever the legal basis
(`kept_while_empty`, and `binding_rule` / `is_binding` given the row); once the anchor is filled the rule works as
any other.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
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


def anchor_value(anchor: Anchor, row: dict[str, Any], referenced: Mapping[str, Any] | None = None) -> Any:
    """The raw value the anchor names for one row: the row's own column, or — through a reference — the referenced
    row's column, looked up in `referenced` ({reference value as text: value}) by the row's reference value. None
    when the reference is empty or points at no fetched row (there is no date to count from)."""
    if anchor.via is None:
        return row.get(anchor.field)
    if referenced is None:  # a caller bug, not a data problem: it must fetch the referenced dates first
        raise ValueError(f"the anchor {anchor.column} is read from the referenced row: fetch the referenced dates "
                         f"first (Decider.anchor_dates, retention_sql.referenced_anchors)")
    via = row.get(anchor.via)
    return None if via is None else referenced.get(str(via))


def is_empty(value: Any) -> bool:
    """Whether an anchor value holds no date at all (NULL or blank text), as opposed to something unreadable."""
    return value is None or (isinstance(value, str) and not value.strip())


def anchor_date(anchor: Anchor, row: dict[str, Any], settings: Settings,
                referenced: Mapping[str, Any] | None = None) -> dt.date | None:
    """The date the period counts from, for one row; None when the anchor is empty."""
    day = as_date(anchor_value(anchor, row, referenced))
    if day is None:
        return None
    if anchor.function == "end_of_month":
        return end_of_month(day)
    if anchor.function == "end_of_fiscal_year":
        return end_of_fiscal_year(day, settings.fiscal_year_start)
    return day


def retained_until(rule: RetentionRule, row: dict[str, Any], settings: Settings,
                   referenced: Mapping[str, Any] | None = None) -> dt.date | None:
    """The last day the rule keeps this row (inclusive); None when the anchor is empty: the period has not started
    (`from: closed_at` while the contract still runs) — and, with `keep_while_empty`, the row is kept open-ended
    (see `kept_while_empty`). `referenced`: the referenced rows' dates for an anchor through a reference."""
    start = anchor_date(rule.anchor, row, settings, referenced)
    return None if start is None else add_period(start, rule.keep)


def kept_while_empty(rule: RetentionRule, row: dict[str, Any], referenced: Mapping[str, Any] | None = None) -> bool:
    """Whether the rule keeps this row because its anchor is empty (`keep_while_empty: true`): the record is still
    needed, open-ended. An anchor that holds something unreadable is not empty (that is an error to look at)."""
    return rule.keep_while_empty and is_empty(anchor_value(rule.anchor, row, referenced))


def erasable_from(until: dt.date | None) -> dt.date | None:
    """The first day a record kept through `until` may be erased; None for a record kept open-ended."""
    return None if until is None else until + dt.timedelta(days=1)


def is_binding(dm: DataMap, ds: Dataset, row: dict[str, Any] | None = None,
               referenced: Mapping[str, Any] | None = None) -> bool:
    """Whether `ds`'s records are kept against an erasure request while its rule runs: the dataset serves a purpose
    whose legal basis is a legal obligation (Art. 17(3)(b)). Given a `row`, also when its rule keeps that row while
    the anchor is empty (`keep_while_empty`: the map says the record is still needed, whatever the basis)."""
    if any(dm.purposes[p].legal_basis == LEGAL_OBLIGATION for p in ds.purposes if p in dm.purposes):
        return True
    rule = dm.retention.get(ds.retention) if ds.retention else None
    return row is not None and rule is not None and kept_while_empty(rule, row, referenced)


def binding_rule(dm: DataMap, ds: Dataset, row: dict[str, Any] | None = None,
                 referenced: Mapping[str, Any] | None = None) -> RetentionRule | None:
    """The dataset's retention rule when it holds against erasure (see `is_binding`; with a `row`, also a rule that
    keeps that row while its anchor is empty), else None."""
    if ds.retention and ds.retention in dm.retention and is_binding(dm, ds, row, referenced):
        return dm.retention[ds.retention]
    return None


__all__ = ["AnchorError", "as_date", "end_of_month", "end_of_fiscal_year", "add_period", "anchor_value", "is_empty",
           "anchor_date", "retained_until", "kept_while_empty", "erasable_from", "is_binding", "binding_rule",
           "LEGAL_OBLIGATION"]
